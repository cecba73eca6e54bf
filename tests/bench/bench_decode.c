/* bench_decode.c: read rate and time per frame of the QR decoder modes.
 *
 * Usage: bench_decode DIR [ENGINE:CASCADE...] (DIR: a frame set from
 * make_frames.py, with manifest.tsv). Without more arguments it compares each
 * engine built in (zbar, zxing) at its library's default settings with its
 * tuned cascade; each ENGINE:CASCADE ("zbar:2:1,1:2", see
 * qrdecode_set_cascade) is benchmarked instead when given.
 *
 * All frames are loaded first, then each mode decodes each frame once. Per mode
 * and frame size it prints: code frames read (payload equal to the manifest's),
 * false reads (a payload on a frame without a code, or a wrong payload), and
 * the median and p99 ms per frame over all frames of that size. Times are the
 * decoding thread's CPU time (CLOCK_THREAD_CPUTIME_ID), so that other load on
 * a shared machine does not inflate them; with BENCH_VERBOSE set, missed
 * frames are listed. Exit status 0 unless a frame could not be loaded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "camera.h"
#include "qrdecode.h"

#define BENCH_MAX 4096

struct bench_frame {
	char name[256];
	char expect[QRDECODE_MAX_LEN + 1];
	char what[128];
	uint8_t *data;
	unsigned w, h;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void bench_mode(const char *label, const char *engine, enum qrdecode_mode mode,
		       const char *cascade, struct bench_frame *fr, size_t n)
{
	static double ms[BENCH_MAX];
	unsigned sizes[8][2];
	size_t nsizes = 0;
	struct qrdecode *q;
	char out[QRDECODE_MAX_LEN + 1];

	if (qrdecode_new(&q, engine, mode) < 0) {
		fprintf(stderr, "qrdecode_new %s failed\n", engine);
		exit(1);
	}
	if (cascade && qrdecode_set_cascade(q, cascade) < 0) {
		fprintf(stderr, "bad cascade %s\n", cascade);
		exit(2);
	}
	for (size_t i = 0; i < n; i++) {
		size_t k;

		for (k = 0; k < nsizes; k++)
			if (sizes[k][0] == fr[i].w && sizes[k][1] == fr[i].h)
				break;
		if (k == nsizes && nsizes < 8) {
			sizes[nsizes][0] = fr[i].w;
			sizes[nsizes][1] = fr[i].h;
			nsizes++;
		}
	}
	for (size_t k = 0; k < nsizes; k++) {
		size_t m = 0, codes = 0, read = 0, falsereads = 0;

		for (size_t i = 0; i < n; i++) {
			struct qrdecode_frame f = {fr[i].data, fr[i].w, fr[i].h, fr[i].w};
			double t0;
			int r;

			if (fr[i].w != sizes[k][0] || fr[i].h != sizes[k][1])
				continue;
			t0 = now_ms();
			r = qrdecode_frame(q, &f, out, sizeof(out));
			ms[m++] = now_ms() - t0;
			if (fr[i].expect[0])
				codes++;
			if (r <= 0) {
				if (fr[i].expect[0] && getenv("BENCH_VERBOSE"))
					fprintf(stderr, "  missed %s (%s)\n", fr[i].name,
						fr[i].what);
				continue;
			}
			if (fr[i].expect[0] && strcmp(out, fr[i].expect) == 0) {
				read++;
			} else {
				falsereads++;
				fprintf(stderr, "  false read on %s: \"%.60s\"\n", fr[i].name, out);
			}
		}
		qsort(ms, m, sizeof(ms[0]), cmp_double);
		printf("%-14s %4ux%-4u  read %3zu/%-3zu = %5.1f %%  false reads %zu  "
		       "median %6.2f ms  p99 %6.2f ms  (%zu frames)\n",
		       label, sizes[k][0], sizes[k][1], read, codes,
		       codes ? 100.0 * read / codes : 0.0, falsereads, ms[m / 2],
		       ms[m * 99 / 100 < m ? m * 99 / 100 : m - 1], m);
	}
	qrdecode_free(q);
}

int main(int argc, char **argv)
{
	static struct bench_frame fr[BENCH_MAX];
	static const char *const engines[] = {"zbar", "zxing"};
	char path[4096], line[4096];
	size_t n = 0;
	FILE *man;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FRAME_DIR [CASCADE...]\n", argv[0]);
		return 2;
	}
	snprintf(path, sizeof(path), "%s/manifest.tsv", argv[1]);
	man = fopen(path, "re");
	if (!man) {
		perror(path);
		return 1;
	}
	while (n < BENCH_MAX && fgets(line, sizeof(line), man)) {
		char *name = strtok(line, "\t\n"), *expect = strtok(NULL, "\t\n");
		char *what = expect ? strtok(NULL, "\t\n") : NULL;

		if (!name)
			continue;
		/* An empty payload column: strtok skips it and returns the description. */
		if (expect && line[strlen(name) + 1] == '\t') {
			what = expect;
			expect = NULL;
		}
		snprintf(fr[n].what, sizeof(fr[n].what), "%s", what ? what : "");
		snprintf(fr[n].name, sizeof(fr[n].name), "%s", name);
		snprintf(fr[n].expect, sizeof(fr[n].expect), "%s", expect ? expect : "");
		snprintf(path, sizeof(path), "%s/%s", argv[1], name);
		if (camera_pgm_load(path, &fr[n].data, &fr[n].w, &fr[n].h) < 0) {
			fprintf(stderr, "cannot load %s\n", path);
			return 1;
		}
		n++;
	}
	fclose(man);
	printf("%zu frames from %s\n", n, argv[1]);
	for (int i = 2; i < argc; i++) {
		char engine[16];
		const char *colon = strchr(argv[i], ':');

		if (!colon || colon - argv[i] >= (int)sizeof(engine)) {
			fprintf(stderr, "expected ENGINE:CASCADE, not %s\n", argv[i]);
			return 2;
		}
		snprintf(engine, sizeof(engine), "%.*s", (int)(colon - argv[i]), argv[i]);
		bench_mode(argv[i], engine, QRDECODE_TUNED, colon + 1, fr, n);
	}
	for (size_t e = 0; argc == 2 && e < sizeof(engines) / sizeof(engines[0]); e++) {
		char label[32];

		if (!qrdecode_engine_available(engines[e])) {
			printf("%s: not built in\n", engines[e]);
			continue;
		}
		snprintf(label, sizeof(label), "%s-default", engines[e]);
		bench_mode(label, engines[e], QRDECODE_DEFAULT, NULL, fr, n);
		snprintf(label, sizeof(label), "%s-tuned", engines[e]);
		bench_mode(label, engines[e], QRDECODE_TUNED, NULL, fr, n);
	}
	for (size_t i = 0; i < n; i++)
		free(fr[i].data);
	return 0;
}
