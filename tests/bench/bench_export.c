/* bench_export.c: how fast the journal gives its checks back: export of N checks to
 * CSV and to JSON Lines, and audit verify of the whole chain.
 *
 * Usage: bench_export JOURNAL [N [ROUNDS]]. If JOURNAL does not exist it is first filled
 * through store.c with N checks (default 1000000) the way four busy lanes write
 * them: each lane's scan, verdict, attendant, grant and gate rows interleaved with
 * the other lanes' (so each check's record is rewritten while other checks' rows
 * come in between), a mix of outcomes (passed, not passed, denied with a reason,
 * Cyrillic text), a lane event now and then, committed once per 1000 checks to
 * fill it in reasonable time. An existing JOURNAL is reused, so repeated runs skip
 * the fill; it is opened through store.c first, which brings a journal from an
 * older schema up to date (the records of table checks, once).
 *
 * Each measurement runs in a child process so that its peak RSS (wait4's
 * ru_maxrss) is its own: export to a sink that only counts bytes (the export's own
 * cost, no file system), each format ROUNDS times (default 1; with more, the median
 * and range of their wall times follow), then audit_verify_db. Prints wall-clock and
 * CPU seconds (on a machine shared with other work the CPU figure is the one to
 * compare), checks or rows per second, output size and peak RSS per run. The journal's file
 * system matters: where the page cache does not keep the file, every run reads it
 * from the disk again, so put it on tmpfs to measure the export itself.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audit.h"
#include "export.h"
#include "store.h"

#define BENCH_LANES 4
#define BENCH_BATCH 1000

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds of this process: on a shared machine, what the run itself cost. */
static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Check i's outcome: most pass, some are denied, some never pass. */
static int bench_check_rows(struct store *s, long i, int64_t t, const char *lane, int stage,
			    int64_t *check)
{
	static const char *const denials[] = {"expired", "not_found", "used", "invalid"};
	char code[32], hash[STORE_HASH_HEX_LEN + 1], req[32];
	bool denied = i % 10 == 7, not_passed = i % 25 == 3;
	int r = 0;

	switch (stage) {
	case 0:
		snprintf(code, sizeof(code), "GYM-%08ld", i % 5000);
		snprintf(req, sizeof(req), "%016lx", (unsigned long)i * 2654435761u);
		r = store_code_hash(s, code, strlen(code), hash);
		if (r == 0)
			r = store_append_scan(s, t, lane, "serial0", "pass", hash, req, NULL, check);
		break;
	case 1:
		if (denied)
			r = store_append_step(s, *check, t + 30, lane, "verdict", denials[i % 4],
					      "{\"reason\":\"Абонемент истёк, \\\"Фитнес\\\"\"}");
		else
			r = store_append_step(s, *check, t + 30, lane, "verdict", "valid",
					      "{\"reason\":\"membership\","
					      "\"valid_until\":\"2027-01-31T23:59\"}");
		break;
	case 2:
		if (!denied)
			r = store_append_step(s, *check, t + 900, lane, "attendant", "confirmed",
					      NULL);
		break;
	case 3:
		if (!denied)
			r = store_append_step(s, *check, t + 910, lane, "grant", i % 9 ? "a" : "b",
					      NULL);
		break;
	case 4:
		if (!denied)
			r = store_append_step(s, *check, t + 3000, lane, "gate",
					      not_passed ? "not_passed" : "passed", NULL);
		break;
	}
	return r;
}

static int bench_fill(const char *path, long n)
{
	static const char *const lanes[BENCH_LANES] = {"Вход 1", "Вход 2", "Выход", "VIP"};
	int64_t t0 = 1796072400000LL, check[BENCH_LANES] = {0};
	struct store *s = NULL;
	double start = now_s();
	int r;

	r = store_open(&s, path);
	if (r < 0) {
		fprintf(stderr, "store_open %s: %s\n", path, strerror(-r));
		return r;
	}
	/* Checks go in groups of one per lane; within a group each step is written
	 * for every lane before the next step, as concurrent lanes would. */
	for (long g = 0; g * BENCH_LANES < n && r == 0; g++) {
		int64_t t = t0 + g * 4000;

		for (int stage = 0; stage < 5 && r == 0; stage++) {
			for (int l = 0; l < BENCH_LANES && r == 0; l++) {
				long i = g * BENCH_LANES + l;

				if (i < n)
					r = bench_check_rows(s, i, t + l * 7, lanes[l], stage,
							     &check[l]);
			}
		}
		if (r == 0 && g % 500 == 499)
			r = store_append_event(s, t + 3500, lanes[g % BENCH_LANES], "mode_change",
					       "{\"mode\":\"normal\"}", NULL);
		if (r == 0 && (g + 1) * BENCH_LANES % BENCH_BATCH == 0)
			r = store_sync(s);
	}
	if (r == 0)
		r = store_sync(s);
	if (r < 0)
		fprintf(stderr, "fill: %s (%s)\n", strerror(-r), store_errmsg(s));
	else
		printf("filled %s with %ld checks in %.1f s\n", path, n, now_s() - start);
	store_close(s);
	return r;
}

/* A sink that counts the bytes written to it. */
static ssize_t bench_count(void *cookie, const char *buf, size_t size)
{
	(void)buf;
	*(uint64_t *)cookie += size;
	return (ssize_t)size;
}

static int bench_export(const char *path, enum export_format format, double *wall)
{
	cookie_io_functions_t io = {.write = bench_count};
	struct export_filter all = {INT64_MIN, INT64_MAX, NULL, NULL};
	uint64_t bytes = 0, rows = 0;
	sqlite3 *db = NULL;
	double t0, c0, dt, dc;
	FILE *out;
	int r;

	out = fopencookie(&bytes, "w", io);
	if (!out)
		return -errno;
	r = export_open_db(path, &db);
	if (r == 0) {
		t0 = now_s();
		c0 = cpu_s();
		r = export_run(db, &all, format, out, &rows);
		dt = now_s() - t0;
		dc = cpu_s() - c0;
		*wall = dt;
		if (r == 0)
			printf("export %-5s %9llu checks in %6.3f s (cpu %6.3f s): %9.0f checks/s,"
			       " %7.1f MB\n",
			       format == EXPORT_CSV ? "csv" : "jsonl", (unsigned long long)rows, dt,
			       dc, (double)rows / dt, (double)bytes / 1e6);
	}
	sqlite3_close(db);
	fclose(out);
	return r;
}

static int bench_verify(const char *path, double *wall)
{
	struct audit_report rep;
	sqlite3 *db = NULL;
	double t0, c0, dt, dc;
	int r;

	r = export_open_db(path, &db);
	if (r == 0) {
		t0 = now_s();
		c0 = cpu_s();
		r = audit_verify_db(db, &rep);
		dt = now_s() - t0;
		*wall = dt;
		dc = cpu_s() - c0;
		if (r >= 0)
			printf("verify       %9llu rows   in %6.3f s (cpu %6.3f s): %9.0f rows/s (%s)\n",
			       (unsigned long long)rep.rows, dt, dc, (double)rep.rows / dt,
			       r ? "BROKEN" : "intact");
		r = r ? -EIO : 0;
	}
	sqlite3_close(db);
	return r;
}

/* Runs one measurement in a child, prints the child's peak RSS and gives its wall
 * time (sent back through a pipe). */
static int bench_child(const char *path, int what, double *wall)
{
	struct rusage ru;
	int status, fds[2];
	pid_t pid;
	ssize_t n;

	fflush(stdout);
	if (pipe(fds) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		double dt = 0;
		int r = what == 2 ? bench_verify(path, &dt)
				  : bench_export(path, (enum export_format)what, &dt);

		if (r < 0)
			fprintf(stderr, "failed: %s\n", strerror(-r));
		fflush(stdout);
		n = write(fds[1], &dt, sizeof(dt));
		_exit(r < 0 || n != sizeof(dt));
	}
	close(fds[1]);
	n = read(fds[0], wall, sizeof(*wall));
	close(fds[0]);
	if (wait4(pid, &status, 0, &ru) < 0)
		return -errno;
	printf("             peak RSS %ld KiB\n", ru.ru_maxrss);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 && n == sizeof(*wall) ? 0 : -EIO;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* ROUNDS runs of one measurement; with more than one, the median and the range of
 * their wall times (this machine's speed wanders from run to run). */
static int bench_rounds(const char *path, int what, int rounds)
{
	static const char *const names[] = {"export csv", "export jsonl", "verify"};
	double t[64];
	int r = 0, k;

	for (k = 0; k < rounds && r == 0; k++)
		r = bench_child(path, what, &t[k]);
	if (r == 0 && rounds > 1) {
		qsort(t, (size_t)rounds, sizeof(t[0]), cmp_double);
		printf("%-12s median %.3f s over %d runs (%.3f-%.3f s)\n", names[what],
		       rounds % 2 ? t[rounds / 2] : (t[rounds / 2 - 1] + t[rounds / 2]) / 2, rounds,
		       t[0], t[rounds - 1]);
	}
	return r;
}

int main(int argc, char **argv)
{
	long n = argc > 2 ? strtol(argv[2], NULL, 10) : 1000000;
	long rounds = argc > 3 ? strtol(argv[3], NULL, 10) : 1;
	int r = 0;

	if (argc < 2 || argc > 4 || n <= 0 || rounds < 1 || rounds > 64) {
		fprintf(stderr, "usage: %s JOURNAL [N [ROUNDS]]\n", argv[0]);
		return 2;
	}
	if (access(argv[1], F_OK) != 0) {
		r = bench_fill(argv[1], n);
	} else {
		struct store *s = NULL;

		r = store_open(&s, argv[1]);
		if (r < 0)
			fprintf(stderr, "store_open %s: %s\n", argv[1], strerror(-r));
		store_close(s);
	}
	if (r == 0)
		r = bench_rounds(argv[1], EXPORT_CSV, (int)rounds);
	if (r == 0)
		r = bench_rounds(argv[1], EXPORT_JSONL, (int)rounds);
	if (r == 0)
		r = bench_rounds(argv[1], 2, 1);
	return r < 0;
}
