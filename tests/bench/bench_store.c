/* bench_store.c: how fast the audit journal takes checks and gives them back.
 *
 * Usage: bench_store [DIR [N]]. Makes a fresh journal in a new directory under DIR
 * (default /tmp, which may be tmpfs: pass a directory on the real disk to measure
 * fsync), then plays N checks (default 10000) the way the daemon writes them: scan,
 * verdict, attendant, grant, store_sync (the durable grant the relay waits for),
 * gate; the gate row rides along with the next grant's commit. Prints checks/s,
 * rows/s and the grant-sync latency the relay would see, then exports everything
 * to /dev/null as CSV and as JSON Lines and prints rows/s for each, then walks the
 * hash chain (audit_verify_db). Each export and the verify run in a child process so
 * that its peak RSS (wait4) is its own. The journal is removed at the end.
 *
 * bench_store DIR N BATCH syncs once per BATCH checks instead of at every grant: what
 * BATCH lanes granting in one loop iteration cost with the daemon's group commit
 * (small BATCH), and the way to fill a journal of 1 M checks in reasonable time for
 * the export and verify figures (large BATCH). The sync latency is then per commit.
 */
#include <errno.h>
#include <limits.h>
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

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int bench_append(struct store *s, long n, long batch, double *sync_s)
{
	static const char *const lanes[] = {"L1", "L2", "L3", "L4"};
	char code[32], hash[STORE_HASH_HEX_LEN + 1], req[32];
	int64_t t = (int64_t)time(NULL) * 1000, check;
	int r;

	for (long i = 0; i < n; i++, t += 250) {
		const char *lane = lanes[i % 4];
		double t0;

		snprintf(code, sizeof(code), "TICKET-%08ld", i);
		snprintf(req, sizeof(req), "req-%ld", i);
		r = store_code_hash(s, code, strlen(code), hash);
		if (r == 0)
			r = store_append_scan(s, t, lane, "serial0", "qr", hash, req, NULL, &check);
		if (r == 0)
			r = store_append_step(
			    s, check, t + 40, lane, "verdict", "allow",
			    "{\"reason\":\"valid ticket\",\"initials\":\"И. П.\"}");
		if (r == 0)
			r = store_append_step(s, check, t + 90, lane, "attendant", "confirm", NULL);
		if (r == 0)
			r = store_append_step(s, check, t + 95, lane, "grant", "a", NULL);
		if (r < 0)
			return r;
		if ((i + 1) % batch == 0) {
			t0 = now_s();
			r = store_sync(s);
			sync_s[i / batch] = now_s() - t0;
		}
		if (r == 0)
			r = store_append_step(s, check, t + 200, lane, "gate", "passed", NULL);
		if (r < 0)
			return r;
	}
	return store_sync(s);
}

/* Runs fn(path, arg) in a child; prints its peak RSS. */
static int bench_child(int (*fn)(const char *, int), const char *path, int arg)
{
	struct rusage ru;
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int r = fn(path, arg);

		fflush(stdout);
		_exit(r < 0);
	}
	if (wait4(pid, &status, 0, &ru) < 0)
		return -errno;
	printf("    peak RSS %ld KiB\n", ru.ru_maxrss);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

static int bench_verify(const char *path, int unused)
{
	struct audit_report rep;
	sqlite3 *db = NULL;
	double t0, dt;
	int r;

	(void)unused;
	r = export_open_db(path, &db);
	if (r == 0) {
		t0 = now_s();
		r = audit_verify_db(db, &rep);
		dt = now_s() - t0;
		if (r >= 0)
			printf("verify %10llu rows in %7.3f s: %10.0f rows/s (%s)\n",
			       (unsigned long long)rep.rows, dt, (double)rep.rows / dt,
			       r ? "BROKEN" : "intact");
		r = r ? -EIO : 0;
	}
	sqlite3_close(db);
	return r;
}

static int bench_export_fn(const char *path, int format);

static int bench_export(const char *path, enum export_format format, const char *name)
{
	(void)name;
	return bench_child(bench_export_fn, path, (int)format);
}

static int bench_export_fn(const char *path, int format)
{
	const char *name = format == EXPORT_CSV ? "csv" : "jsonl";
	struct export_filter all = {INT64_MIN, INT64_MAX, NULL, NULL};
	sqlite3 *db = NULL;
	uint64_t rows = 0;
	FILE *out;
	double t0, dt;
	int r;

	out = fopen("/dev/null", "we");
	if (!out)
		return -errno;
	r = export_open_db(path, &db);
	if (r == 0) {
		t0 = now_s();
		r = export_run(db, &all, (enum export_format)format, out, &rows);
		dt = now_s() - t0;
		if (r == 0)
			printf("export %-5s %10llu rows in %7.3f s: %10.0f rows/s\n", name,
			       (unsigned long long)rows, dt, (double)rows / dt);
	}
	sqlite3_close(db);
	fclose(out);
	return r;
}

int main(int argc, char **argv)
{
	const char *base = argc > 1 ? argv[1] : "/tmp";
	long n = argc > 2 ? strtol(argv[2], NULL, 10) : 10000;
	long batch = argc > 3 ? strtol(argv[3], NULL, 10) : 1;
	char dir[PATH_MAX], path[PATH_MAX + 16], side[PATH_MAX + 32];
	struct store *s = NULL;
	struct store_stats st;
	double *sync_s, t0, dt;
	long syncs;
	int r;

	if (n <= 0 || batch <= 0 || batch > n || argc > 4) {
		fprintf(stderr, "usage: %s [DIR [N [BATCH]]]\n", argv[0]);
		return 2;
	}
	sync_s = calloc((size_t)n, sizeof(*sync_s));
	if (!sync_s)
		return 1;
	snprintf(dir, sizeof(dir), "%s/bench-store-XXXXXX", base);
	if (!mkdtemp(dir)) {
		fprintf(stderr, "mkdtemp %s: %s\n", dir, strerror(errno));
		free(sync_s);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/journal.db", dir);

	r = store_open(&s, path);
	if (r < 0) {
		fprintf(stderr, "store_open %s: %s\n", path, strerror(-r));
		goto out;
	}
	printf("journal %s, %ld checks\n", path, n);
	t0 = now_s();
	r = bench_append(s, n, batch, sync_s);
	dt = now_s() - t0;
	if (r < 0) {
		fprintf(stderr, "append: %s (%s)\n", strerror(-r), store_errmsg(s));
		goto out;
	}
	store_stats(s, &st);
	store_close(s);
	s = NULL;

	syncs = n / batch; /* one commit per BATCH checks: as many lanes granting at once */
	qsort(sync_s, (size_t)syncs, sizeof(*sync_s), cmp_double);
	printf("append %ld checks in %.3f s: %.0f checks/s, %.0f rows/s\n", n, dt, (double)n / dt,
	       (double)n * 5 / dt);
	printf("grant sync latency (%ld commits): p50 %.3f ms, p99 %.3f ms, max %.3f ms\n", syncs,
	       sync_s[syncs / 2] * 1e3, sync_s[(size_t)((double)syncs * 0.99)] * 1e3,
	       sync_s[syncs - 1] * 1e3);
	printf("commits %llu; WAL checkpoints: %llu on the thread, %llu inline; WAL peak %d pages\n",
	       (unsigned long long)st.commits, (unsigned long long)st.checkpoints,
	       (unsigned long long)st.inline_checkpoints, st.wal_peak_pages);

	r = bench_export(path, EXPORT_CSV, "csv");
	if (r == 0)
		r = bench_export(path, EXPORT_JSONL, "jsonl");
	if (r < 0)
		fprintf(stderr, "export: %s\n", strerror(-r));
	if (r == 0)
		r = bench_child(bench_verify, path, 0);

out:
	store_close(s);
	unlink(path);
	snprintf(side, sizeof(side), "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", path);
	unlink(side);
	rmdir(dir);
	free(sync_s);
	return r < 0;
}
