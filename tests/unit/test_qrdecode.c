/* test_qrdecode.c: the QR decoder (each engine built in: zbar, zxing-cpp), its
 * worker thread, the camera sources and the "camera" scanner source, on
 * frames drawn here from qrencode's modules. Decoder tests run once per
 * engine, the engine's name passed as cmocka's initial state. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "camera.h"
#include "config.h"
#include "qrdecode.h"
#include "scanner.h"

/* "GYM-1", a NUL, "x": a QR code in byte mode */
#define NUL_QR_CMD "printf 'GYM-1\\000x' | qrencode -8 -t ASCII -m 0 -l M"
#define TEST_CERT "https://www.gosuslugi.ru/covid-cert/verify/9160000012345678?lang=ru&ck=0123"

struct image {
	unsigned w, h;
	uint8_t *p;
};

/* A w x h frame of grey bg with the QR code that cmd prints (qrencode -t
 * ASCII; 4-module quiet zone in light) at module size px, top-left at (x0,
 * y0); rot90 turns the code. */
static struct image draw_qr_cmd(unsigned w, unsigned h, const char *cmd, unsigned px, unsigned x0,
				unsigned y0, uint8_t dark, uint8_t light, bool rot90)
{
	char line[1024];
	bool mods[200][200];
	unsigned n = 0;
	struct image im = {w, h, malloc((size_t)w * h)};
	FILE *f;

	assert_non_null(im.p);
	memset(im.p, (dark + light) / 2, (size_t)w * h);
	f = popen(cmd, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) && n < 200) {
		size_t len = strcspn(line, "\n");

		if (len == 0)
			continue;
		for (size_t i = 0; i < len / 2 && i < 200; i++)
			mods[n][i] = line[2 * i] == '#';
		n++;
	}
	assert_int_equal(pclose(f), 0);
	assert_true(n > 20);
	for (unsigned my = 0; my < n + 8; my++)
		for (unsigned mx = 0; mx < n + 8; mx++) {
			unsigned r = my, c = mx;
			bool on;

			if (rot90) {
				r = mx;
				c = n + 7 - my;
			}
			on = r >= 4 && c >= 4 && r < n + 4 && c < n + 4 && mods[r - 4][c - 4];
			for (unsigned y = 0; y < px; y++)
				for (unsigned x = 0; x < px; x++) {
					unsigned fx = x0 + mx * px + x, fy = y0 + my * px + y;

					if (fx < w && fy < h)
						im.p[(size_t)fy * w + fx] = on ? dark : light;
				}
		}
	return im;
}

static struct image draw_qr(unsigned w, unsigned h, const char *payload, unsigned px, unsigned x0,
			    unsigned y0, uint8_t dark, uint8_t light, bool rot90)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "qrencode -t ASCII -m 0 -l M '%s'", payload);
	return draw_qr_cmd(w, h, cmd, px, x0, y0, dark, light, rot90);
}

static struct image draw_stripes(unsigned w, unsigned h)
{
	struct image im = {w, h, malloc((size_t)w * h)};
	unsigned seed = 7;

	assert_non_null(im.p);
	memset(im.p, 128, (size_t)w * h);
	/* barcode-like bars: random widths of 1..4 units of 3 px */
	for (unsigned x = w / 8, dark = 1; x < w * 7 / 8; dark = !dark) {
		unsigned bw = 3 * (1 + (seed = seed * 1103515245 + 12345) / 65536 % 4);

		for (unsigned y = h / 4; y < h * 3 / 4; y++)
			for (unsigned i = 0; i < bw && x + i < w; i++)
				im.p[(size_t)y * w + x + i] = dark ? 20 : 230;
		x += bw;
	}
	return im;
}

static int decode(const char *engine, enum qrdecode_mode mode, const struct image *im, char *out,
		  size_t len)
{
	struct qrdecode *q;
	struct qrdecode_frame f = {im->p, im->w, im->h, im->w};
	int r;

	assert_int_equal(qrdecode_new(&q, engine, mode), 0);
	r = qrdecode_frame(q, &f, out, len);
	qrdecode_free(q);
	return r;
}

static void test_tuned_reads_codes(void **state)
{
	const char *engine = *state;
	static const struct {
		unsigned w, h, px;
		uint8_t dark, light;
		bool rot90;
		const char *payload;
	} cases[] = {
	    {640, 480, 6, 20, 230, false, "TICKET-1"},
	    {1280, 720, 8, 20, 230, false, TEST_CERT},
	    {1280, 720, 5, 100, 150, false, TEST_CERT}, /* low contrast */
	    {640, 480, 4, 30, 220, true, TEST_CERT},	/* turned, small modules */
	};
	char out[QRDECODE_MAX_LEN + 1];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct image im = draw_qr(cases[i].w, cases[i].h, cases[i].payload, cases[i].px, 40,
					  30, cases[i].dark, cases[i].light, cases[i].rot90);

		/* should read the payload exactly, with its length */
		assert_int_equal(decode(engine, QRDECODE_TUNED, &im, out, sizeof(out)),
				 (int)strlen(cases[i].payload));
		assert_string_equal(out, cases[i].payload);
		free(im.p);
	}
}

static void test_default_reads_too(void **state)
{
	struct image im = draw_qr(640, 480, "TICKET-2", 6, 100, 50, 20, 230, false);
	char out[64];

	assert_int_equal(decode(*state, QRDECODE_DEFAULT, &im, out, sizeof(out)), 8);
	assert_string_equal(out, "TICKET-2");
	free(im.p);
}

static void test_no_code_no_read(void **state)
{
	const char *engine = *state;
	struct image stripes = draw_stripes(1280, 720);
	struct image flat = {640, 480, calloc(640, 480)};
	char out[64];

	/* stripes bait 1-D decoders; tuned mode has them off and must read nothing */
	assert_int_equal(decode(engine, QRDECODE_TUNED, &stripes, out, sizeof(out)), 0);
	assert_int_equal(decode(engine, QRDECODE_TUNED, &flat, out, sizeof(out)), 0);
	free(stripes.p);
	free(flat.p);
}

static void test_short_buffer_and_bad_frames(void **state)
{
	const char *engine = *state;
	struct image im = draw_qr(640, 480, "TICKET-1234567", 6, 40, 30, 20, 230, false);
	struct qrdecode *q;
	struct qrdecode_frame bad = {im.p, 4, 4, 4}, stride = {im.p, 640, 480, 100};
	char out[8];

	/* a payload that does not fit is cut, NUL-terminated, and flagged */
	assert_int_equal(decode(engine, QRDECODE_TUNED, &im, out, sizeof(out)), -E2BIG);
	assert_string_equal(out, "TICKET-");
	assert_int_equal(qrdecode_new(&q, engine, QRDECODE_TUNED), 0);
	assert_int_equal(qrdecode_frame(q, &bad, out, sizeof(out)), -EINVAL);
	assert_int_equal(qrdecode_frame(q, &stride, out, sizeof(out)), -EINVAL);
	qrdecode_free(q);
	free(im.p);
}

static void test_engines_by_name(void **state)
{
	struct qrdecode *q = (struct qrdecode *)1;

	const char *why = NULL;

	/* zbar is always there; an unknown name is -ENOENT and leaves no decoder */
	assert_true(qrdecode_engine_available("zbar"));
	assert_false(qrdecode_engine_available("zbar2"));
	assert_int_equal(qrdecode_new(&q, "zbar2", QRDECODE_TUNED), -ENOENT);
	assert_null(q);
	assert_int_equal(qrdecode_engine_load("zbar2", &why), -ENOENT);
	assert_string_equal(why, "not built in");
	/* loading the library (libzbar, found by its soname) succeeds, again and again */
	assert_int_equal(qrdecode_engine_load("zbar", &why), 0);
	assert_int_equal(qrdecode_engine_load("zbar", &why), 0);
#ifdef TS_HAVE_ZXING
	/* the module next to this test binary in the build directory */
	assert_true(qrdecode_engine_available("zxing"));
	assert_int_equal(qrdecode_engine_load("zxing", &why), 0);
#else
	/* built without zxing-cpp: the name is known to the config, not here */
	assert_false(qrdecode_engine_available("zxing"));
	assert_int_equal(qrdecode_new(&q, "zxing", QRDECODE_TUNED), -ENOENT);
	assert_int_equal(qrdecode_engine_load("zxing", &why), -ENOENT);
#endif
}

static void test_custom_cascade(void **state)
{
	struct image im = draw_qr(1280, 720, TEST_CERT, 4, 300, 200, 30, 220, false);
	struct qrdecode_frame f = {im.p, im.w, im.h, im.w};
	struct qrdecode *q;
	char out[QRDECODE_MAX_LEN + 1];

	assert_int_equal(qrdecode_new(&q, *state, QRDECODE_TUNED), 0);
	/* 4 px modules vanish at 4x4: that cascade alone reads nothing */
	assert_int_equal(qrdecode_set_cascade(q, "4:2"), 0);
	assert_int_equal(qrdecode_frame(q, &f, out, sizeof(out)), 0);
	/* full size, scanning every line (zbar) or trying harder (zxing): read */
	assert_int_equal(qrdecode_set_cascade(q, "4:2,1:1"), 0);
	assert_int_equal(qrdecode_frame(q, &f, out, sizeof(out)), (int)strlen(TEST_CERT));
	assert_string_equal(out, TEST_CERT);
	/* malformed specs are refused and keep the cascade */
	assert_int_equal(qrdecode_set_cascade(q, "5:1"), -EINVAL);
	assert_int_equal(qrdecode_set_cascade(q, "2:1,"), -EINVAL);
	assert_int_equal(qrdecode_set_cascade(q, "2:1rs"), -EINVAL);
	assert_int_equal(qrdecode_set_cascade(q, "1:1,1:1,1:1,1:1,1:1"), -EINVAL);
	assert_int_equal(qrdecode_set_cascade(q, ""), -EINVAL);
	assert_int_equal(qrdecode_frame(q, &f, out, sizeof(out)), (int)strlen(TEST_CERT));
	qrdecode_free(q);
	free(im.p);
}

static void test_region_steps_and_cost_cap(void **state)
{
	struct image small = draw_qr(1280, 720, TEST_CERT, 4, 700, 400, 30, 220, false);
	struct image big = draw_qr(1280, 720, TEST_CERT, 16, 300, 0, 30, 220, false);
	struct image flat = {1280, 720, calloc(1280, 720)};
	struct qrdecode_frame fs = {small.p, 1280, 720, 1280}, fb = {big.p, 1280, 720, 1280};
	struct qrdecode_frame ff = {flat.p, 1280, 720, 1280};
	struct qrdecode *q;
	char out[QRDECODE_MAX_LEN + 1];

	assert_int_equal(qrdecode_new(&q, *state, QRDECODE_TUNED), 0);
	/* a full-size pass over the region alone reads a small code */
	assert_int_equal(qrdecode_set_cascade(q, "1:1sr"), 0);
	assert_int_equal(qrdecode_frame(q, &fs, out, sizeof(out)), (int)strlen(TEST_CERT));
	assert_string_equal(out, TEST_CERT);
	/* a frame without texture has no region: nothing scanned, nothing read */
	assert_non_null(flat.p);
	assert_int_equal(qrdecode_frame(q, &ff, out, sizeof(out)), 0);
	/* a region over the engine's cost cap (a 590 px code, about 470 k pixels)
	 * is not scanned at full size; without the region the same pass reads it */
	assert_int_equal(qrdecode_frame(q, &fb, out, sizeof(out)), 0);
	assert_int_equal(qrdecode_set_cascade(q, "1:1s"), 0);
	assert_int_equal(qrdecode_frame(q, &fb, out, sizeof(out)), (int)strlen(TEST_CERT));
	/* and the tuned cascade reads it downscaled */
	qrdecode_free(q);
	assert_int_equal(decode(*state, QRDECODE_TUNED, &big, out, sizeof(out)),
			 (int)strlen(TEST_CERT));
	free(small.p);
	free(big.p);
	free(flat.p);
}

static void test_padded_rows(void **state)
{
	/* a small code, so that every engine gets to its full-size region step */
	struct image im = draw_qr(640, 480, "TICKET-77", 3, 400, 300, 30, 220, false);
	const size_t stride = 640 + 24;
	uint8_t *padded = malloc(stride * 480);
	struct qrdecode_frame f = {padded, 640, 480, stride};
	struct qrdecode *q;
	char out[64];

	assert_non_null(padded);
	/* the padding holds stripes that must not be read as part of the frame */
	for (unsigned y = 0; y < 480; y++) {
		memcpy(padded + y * stride, im.p + (size_t)y * 640, 640);
		for (unsigned x = 640; x < stride; x++)
			padded[y * stride + x] = (x / 3 + y / 5) % 2 ? 0 : 255;
	}
	assert_int_equal(qrdecode_new(&q, *state, QRDECODE_TUNED), 0);
	assert_int_equal(qrdecode_frame(q, &f, out, sizeof(out)), 9);
	assert_string_equal(out, "TICKET-77");
	qrdecode_free(q);
	free(padded);
	free(im.p);
}

static void test_payload_with_nul_keeps_its_length(void **state)
{
	struct image im = draw_qr_cmd(640, 480, NUL_QR_CMD, 6, 100, 50, 20, 230, false);
	char out[64];

	/* all 7 bytes, not the 5 before the NUL: the caller sees what was there */
	assert_int_equal(decode(*state, QRDECODE_TUNED, &im, out, sizeof(out)), 7);
	assert_memory_equal(out, "GYM-1\0x", 8);
	free(im.p);
}

static int wait_readable(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, ms);
}

static void test_worker_drops_when_busy(void **state)
{
	struct image im = draw_qr(1280, 720, TEST_CERT, 6, 200, 100, 20, 230, false);
	struct qrdecode_frame f = {im.p, im.w, im.h, im.w};
	struct qrdecode_worker *w;
	uint64_t taken, dropped, read, lost, busy = 0;
	char out[QRDECODE_MAX_LEN + 1];

	assert_int_equal(qrdecode_worker_new(&w, *state, QRDECODE_TUNED), 0);
	/* nothing yet: the pipe is empty and the caller is told so, not blocked */
	assert_int_equal(qrdecode_worker_result(w, out, sizeof(out)), -EAGAIN);
	assert_int_equal(qrdecode_worker_submit(w, &f), 0);
	/* frames offered while one is decoded are dropped, not queued: a burst
	 * of 20 (a copy each, far quicker than a decode) sees drops; a loaded
	 * machine may let the worker finish between two offers, so not all 19 */
	for (int i = 0; i < 19; i++) {
		int r = qrdecode_worker_submit(w, &f);

		assert_true(r == 0 || r == -EBUSY);
		busy += r == -EBUSY;
	}
	assert_true(busy >= 1);
	assert_int_equal(wait_readable(qrdecode_worker_fd(w), 5000), 1);
	assert_int_equal(qrdecode_worker_result(w, out, sizeof(out)), (int)strlen(TEST_CERT));
	assert_string_equal(out, TEST_CERT);
	qrdecode_worker_stats(w, &taken, &dropped, &read, &lost);
	assert_int_equal(taken + dropped, 20);
	assert_int_equal(dropped, busy);
	assert_int_equal(lost, 0);
	/* a payload longer than the caller's buffer is cut and flagged */
	while (qrdecode_worker_submit(w, &f) == -EBUSY)
		usleep(1000);
	assert_int_equal(wait_readable(qrdecode_worker_fd(w), 5000), 1);
	assert_int_equal(qrdecode_worker_result(w, out, 10), -E2BIG);
	assert_string_equal(out, "https://w");
	/* freeing with a decode in flight joins the thread cleanly */
	while (qrdecode_worker_submit(w, &f) == -EBUSY)
		usleep(1000);
	qrdecode_worker_free(w);
	free(im.p);
}

static void write_pgm(const char *dir, const char *name, const struct image *im)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	fprintf(f, "P5\n# made by test_qrdecode\n%u %u\n255\n", im->w, im->h);
	assert_int_equal(fwrite(im->p, 1, (size_t)im->w * im->h, f), (size_t)im->w * im->h);
	fclose(f);
}

static void write_file(const char *dir, const char *name, const char *text, size_t len)
{
	char path[640];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
}

static void test_pgm_load(void **state)
{
	char dir[] = "/tmp/test_qrdecode.XXXXXX", path[512];
	uint8_t *data;
	unsigned w, h;
	struct image im = {3, 2, (uint8_t *)"abcdef"};

	assert_non_null(mkdtemp(dir));
	write_pgm(dir, "ok.pgm", &im);
	snprintf(path, sizeof(path), "%s/ok.pgm", dir);
	assert_int_equal(camera_pgm_load(path, &data, &w, &h), 0);
	assert_int_equal(w, 3);
	assert_int_equal(h, 2);
	assert_memory_equal(data, "abcdef", 6);
	free(data);
	/* ASCII PGM, 16-bit PGM, truncated pixels: all refused */
	write_file(dir, "p2.pgm", "P2\n3 2\n255\n1 2 3 4 5 6\n", 23);
	write_file(dir, "p16.pgm", "P5\n3 2\n65535\nabcdefabcdef", 25);
	write_file(dir, "short.pgm", "P5\n3 2\n255\nabc", 14);
	for (const char *const *n = (const char *const[]){"p2.pgm", "p16.pgm", "short.pgm", NULL};
	     *n; n++) {
		snprintf(path, sizeof(path), "%s/%s", dir, *n);
		assert_int_equal(camera_pgm_load(path, &data, &w, &h), -EINVAL);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/missing.pgm", dir);
	assert_int_equal(camera_pgm_load(path, &data, &w, &h), -ENOENT);
	snprintf(path, sizeof(path), "%s/ok.pgm", dir);
	unlink(path);
	assert_int_equal(rmdir(dir), 0);
}

struct cam_seen {
	unsigned frames, ups, downs, ends;
	int last_err;
	unsigned first_byte[8];
};

static void cam_frame(const struct camera_frame *f, void *userdata)
{
	struct cam_seen *s = userdata;

	if (s->frames < 8)
		s->first_byte[s->frames] = f->data[0];
	s->frames++;
}

static void cam_status(bool up, int err, const char *what, void *userdata)
{
	struct cam_seen *s = userdata;

	if (up)
		s->ups++;
	else
		s->downs++;
	s->last_err = err;
}

static void cam_end(void *userdata)
{
	((struct cam_seen *)userdata)->ends++;
}

static void run_until(sd_event *ev, const unsigned *counter, unsigned want, int ms)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (*counter < want) {
		assert_true(sd_event_run(ev, 20 * 1000) >= 0);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > ms)
			fail_msg("waited %d ms for %u, have %u", ms, want, *counter);
	}
}

static void run_for(sd_event *ev, int ms)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		assert_true(sd_event_run(ev, 20 * 1000) >= 0);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
}

static void test_files_source_plays_in_order_and_waits_for_the_dir(void **state)
{
	static const struct camera_callbacks cb = {
	    .frame = cam_frame, .status = cam_status, .end = cam_end};
	char dir[] = "/tmp/test_qrdecode.XXXXXX", sub[600], path[700];
	struct cam_seen seen = {0};
	struct camera_config cc = {.fps = 50, .loop = false};
	struct camera *cam;
	sd_event *ev;
	uint8_t px[3][64];

	assert_non_null(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/frames", dir);
	cc.dir = sub;
	assert_int_equal(sd_event_new(&ev), 0);
	/* the directory is not there yet: reported once as down, then retried */
	assert_int_equal(camera_open(&cam, ev, &cc, &cb, &seen), 0);
	assert_string_equal(camera_source_name(cam), "files");
	assert_int_equal(seen.downs, 1);
	assert_int_equal(seen.last_err, -ENOENT);
	assert_int_equal(mkdir(sub, 0700), 0);
	for (int i = 0; i < 3; i++) {
		struct image im = {8, 8, px[i]};
		char name[16];

		memset(px[i], 10 * (i + 1), sizeof(px[i]));
		snprintf(name, sizeof(name), "f%d.pgm", 2 - i); /* written out of order */
		write_pgm(sub, name, &im);
	}
	write_file(sub, "notes.txt", "x", 1);
	/* comes up by itself and plays f0, f1, f2 (name order), then ends */
	run_until(ev, &seen.ends, 1, 3000);
	assert_int_equal(seen.ups, 1);
	assert_int_equal(seen.frames, 3);
	assert_int_equal(seen.first_byte[0], 30);
	assert_int_equal(seen.first_byte[1], 20);
	assert_int_equal(seen.first_byte[2], 10);
	camera_close(cam);
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/f%d.pgm", sub, i);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/notes.txt", sub);
	unlink(path);
	rmdir(sub);
	rmdir(dir);
	sd_event_unref(ev);
}

static void test_files_source_lost_and_back(void **state)
{
	static const struct camera_callbacks cb = {.frame = cam_frame, .status = cam_status};
	char dir[] = "/tmp/test_qrdecode.XXXXXX", sub[600], away[600], path[700];
	struct cam_seen seen = {0};
	struct camera_config cc = {.fps = 50, .loop = true};
	struct camera *cam;
	sd_event *ev;
	uint8_t px[64] = {0};
	struct image im = {8, 8, px};
	unsigned before;

	assert_non_null(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/frames", dir);
	snprintf(away, sizeof(away), "%s/away", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	write_pgm(sub, "a.pgm", &im);
	cc.dir = sub;
	assert_int_equal(sd_event_new(&ev), 0);
	assert_int_equal(camera_open(&cam, ev, &cc, &cb, &seen), 0);
	assert_int_equal(seen.ups, 1);
	run_until(ev, &seen.frames, 3, 3000);
	/* the footage disappears: reported once as lost, however many retries */
	assert_int_equal(rename(sub, away), 0);
	run_until(ev, &seen.downs, 1, 3000);
	assert_int_equal(seen.last_err, -ENOENT);
	before = seen.frames;
	run_for(ev, 1200); /* retries at about 250, 750 and 1750 ms */
	assert_int_equal(seen.downs, 1);
	assert_int_equal(seen.frames, before);
	/* back again: reopened by the backoff timer and playing */
	assert_int_equal(rename(away, sub), 0);
	run_until(ev, &seen.ups, 2, 8000);
	run_until(ev, &seen.frames, before + 2, 3000);
	camera_close(cam);
	snprintf(path, sizeof(path), "%s/a.pgm", sub);
	unlink(path);
	rmdir(sub);
	rmdir(dir);
	sd_event_unref(ev);
}

struct scan_seen {
	unsigned codes, rejected, ups;
	char code[QRDECODE_MAX_LEN + 1];
};

static void scan_code(const char *code, size_t len, void *userdata)
{
	struct scan_seen *s = userdata;

	assert_int_equal(strlen(code), len);
	snprintf(s->code, sizeof(s->code), "%s", code);
	s->codes++;
}

static void scan_rejected(const char *why, void *userdata)
{
	((struct scan_seen *)userdata)->rejected++;
}

static void scan_status(bool up, int err, const char *dev, void *userdata)
{
	if (up)
		((struct scan_seen *)userdata)->ups++;
}

static void test_camera_scanner_source_delivers_codes(void **state)
{
	static const struct scanner_callbacks cb = {
	    .code = scan_code, .rejected = scan_rejected, .status = scan_status};
	char dir[] = "/tmp/test_qrdecode.XXXXXX", path[600];
	struct config_lane lane = {.scanner = CONFIG_SCANNER_CAMERA,
				   .camera_fps = 20,
				   .camera_loop = true,
				   .camera_decoder = strcmp(*state, "zxing") == 0
							 ? CONFIG_DECODER_ZXING
							 : CONFIG_DECODER_ZBAR,
				   .scanner_max_len = 512};
	struct image blank = {640, 480, calloc(640, 480)};
	struct image code = draw_qr(640, 480, "GYM-1", 6, 200, 100, 20, 230, false);
	struct scan_seen seen = {0};
	struct scanner *sc;
	sd_event *ev;

	assert_non_null(mkdtemp(dir));
	write_pgm(dir, "a.pgm", &blank);
	write_pgm(dir, "b.pgm", &code);
	snprintf(lane.camera_dir, sizeof(lane.camera_dir), "%s", dir);
	assert_int_equal(sd_event_new(&ev), 0);
	assert_int_equal(scanner_open(&sc, ev, &lane, &cb, &seen), 0);
	assert_string_equal(scanner_name(sc), "camera");
	/* the code frame comes round in the loop and its payload arrives as a code */
	run_until(ev, &seen.codes, 2, 5000);
	assert_string_equal(seen.code, "GYM-1");
	assert_int_equal(seen.rejected, 0);
	assert_int_equal(seen.ups, 1);
	scanner_close(sc);
	/* a QR code that is not printable ASCII is rejected like a bad serial line */
	free(code.p);
	code = draw_qr(640, 480, "ГОСТЬ-1", 6, 200, 100, 20, 230, false);
	write_pgm(dir, "b.pgm", &code);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(scanner_open(&sc, ev, &lane, &cb, &seen), 0);
	run_until(ev, &seen.rejected, 2, 5000);
	assert_int_equal(seen.codes, 0);
	scanner_close(sc);
	/* a NUL inside the payload: rejected, never delivered as the pass before it */
	free(code.p);
	code = draw_qr_cmd(640, 480, NUL_QR_CMD, 6, 200, 100, 20, 230, false);
	write_pgm(dir, "b.pgm", &code);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(scanner_open(&sc, ev, &lane, &cb, &seen), 0);
	run_until(ev, &seen.rejected, 2, 5000);
	assert_int_equal(seen.codes, 0);
	scanner_close(sc);
	/* both camera_device and camera_dir, or neither: a bad config */
	snprintf(lane.camera_device, sizeof(lane.camera_device), "/dev/video9");
	assert_int_equal(scanner_open(&sc, ev, &lane, &cb, &seen), -EINVAL);
	for (const char *n = "a.pgm"; n; n = n[0] == 'a' ? "b.pgm" : NULL) {
		snprintf(path, sizeof(path), "%s/%s", dir, n);
		unlink(path);
	}
	rmdir(dir);
	sd_event_unref(ev);
	free(blank.p);
	free(code.p);
}

static void test_missing_video_device_is_reported_not_fatal(void **state)
{
	static const struct camera_callbacks cb = {.frame = cam_frame, .status = cam_status};
	struct camera_config cc = {.device = "/dev/video-does-not-exist", .fps = 10};
	struct cam_seen seen = {0};
	struct camera *cam;
	sd_event *ev;

	assert_int_equal(sd_event_new(&ev), 0);
	assert_int_equal(camera_open(&cam, ev, &cc, &cb, &seen), 0);
	assert_string_equal(camera_source_name(cam), "v4l2");
	assert_int_equal(seen.downs, 1);
	assert_int_equal(seen.last_err, -ENOENT);
	camera_close(cam);
	cc.fps = 0;
	assert_int_equal(camera_open(&cam, ev, &cc, &cb, &seen), -EINVAL);
	sd_event_unref(ev);
}

static char engine_zbar[] = "zbar";
#ifdef TS_HAVE_ZXING
static char engine_zxing[] = "zxing";
#define ENGINE_TESTS(name)                                                                        \
	cmocka_unit_test_prestate(name, engine_zbar), cmocka_unit_test_prestate(name, engine_zxing)
#else
#define ENGINE_TESTS(name) cmocka_unit_test_prestate(name, engine_zbar)
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_engines_by_name),
	    ENGINE_TESTS(test_tuned_reads_codes),
	    ENGINE_TESTS(test_default_reads_too),
	    ENGINE_TESTS(test_no_code_no_read),
	    ENGINE_TESTS(test_short_buffer_and_bad_frames),
	    ENGINE_TESTS(test_custom_cascade),
	    ENGINE_TESTS(test_region_steps_and_cost_cap),
	    ENGINE_TESTS(test_payload_with_nul_keeps_its_length),
	    ENGINE_TESTS(test_padded_rows),
	    ENGINE_TESTS(test_worker_drops_when_busy),
	    cmocka_unit_test(test_pgm_load),
	    cmocka_unit_test(test_files_source_plays_in_order_and_waits_for_the_dir),
	    cmocka_unit_test(test_files_source_lost_and_back),
	    ENGINE_TESTS(test_camera_scanner_source_delivers_codes),
	    cmocka_unit_test(test_missing_video_device_is_reported_not_fatal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
