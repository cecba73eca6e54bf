/* bench_gosu.c: the Gosuslugi client (gosu_client) driven hard against a portal.
 *
 * Two modes, both on one sd-event loop exactly as in the daemon:
 *
 *   bench_gosu overhead BASE_URL CA_FILE PAYLOAD N
 *     What the verifier adds over the HTTP round trip. N rounds, each a raw
 *     libcurl GET of the same API URL on a kept-alive easy handle (the round
 *     trip itself), then one verification: classify the payload, start the
 *     check, run the loop until the verdict arrives (the client keeps its
 *     connection alive in the multi handle). Prints p50/p99 of both and of the
 *     per-round difference, the verifier's overhead, in wall time and in this
 *     process's CPU time (the work the verifier adds, which a busy machine's
 *     preemptions do not inflate). 20 warm-up rounds first.
 *
 *   bench_gosu load BASE_URL CA_FILE PAYLOAD N CONCURRENCY [RAMP_MS]
 *     N checks with CONCURRENCY in flight at once, and a 10 ms probe timer on
 *     the same loop that records how late it fires: the loop lag a lane's
 *     output or key would see while the checks are in flight. Prints the peak
 *     number in flight, the verdicts, wall time, per-check latency and the
 *     worst loop lag. Without RAMP_MS all CONCURRENCY checks start at once (a
 *     burst of that many TLS handshakes on the loop); with it, one starts every
 *     RAMP_MS until CONCURRENCY are in flight, as scans arrive at a gate.
 *
 * Output is one JSON object on stdout; exit status 0 when every check got an
 * answer, 1 on a usage or setup error.
 */
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <systemd/sd-event.h>

#include "gosu_classify.h"
#include "gosu_client.h"
#include "gosu_parse.h"

#define PROBE_US 10000u

struct bench {
	sd_event *ev;
	struct gosu_client *cli;
	const char *payload;
	size_t target, started, done, conc, in_flight, peak;
	size_t verdicts[GOSU_UNAVAILABLE + 1];
	double *lat_ms;
	uint64_t max_lag_us, ramp_us;
	bool round_done;
};

struct one {
	struct bench *b;
	uint64_t t0;
	size_t idx;
};

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t cpu_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank quantile of v[0..n) (sorted in place). */
static double quantile(double *v, size_t n, double q)
{
	size_t k;

	if (n == 0)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_double);
	k = (size_t)ceil(q * (double)n);
	return v[k ? k - 1 : 0];
}

static int start_one(struct bench *b);

static void on_done(const struct gosu_result *res, void *userdata)
{
	struct one *o = userdata;
	struct bench *b = o->b;

	b->lat_ms[o->idx] = (double)(now_us() - o->t0) / 1000.0;
	b->verdicts[res->verdict]++;
	b->done++;
	b->in_flight--;
	b->round_done = true;
	free(o);
	while (b->conc && b->started < b->target && b->in_flight < b->conc)
		if (start_one(b) < 0)
			break;
	if (b->conc && b->done == b->target)
		sd_event_exit(b->ev, 0);
	else if (b->conc && b->in_flight == 0 && b->started == b->done && !b->ramp_us)
		sd_event_exit(b->ev, -EIO); /* nothing left in flight and no refill possible */
}

/* Scan to request: classify the payload as the station does, then ask the portal. */
static int start_one(struct bench *b)
{
	struct gosu_code code;
	struct one *o = calloc(1, sizeof(*o));
	int r;

	if (!o)
		return -ENOMEM;
	o->b = b;
	o->idx = b->started;
	o->t0 = now_us();
	if (gosu_classify(b->payload, strlen(b->payload), false, &code, NULL) != GOSU_CLASS_CERT) {
		free(o);
		return -EINVAL;
	}
	r = gosu_client_check(b->cli, &code, on_done, o, NULL);
	if (r < 0) {
		free(o);
		return r;
	}
	b->started++;
	if (++b->in_flight > b->peak)
		b->peak = b->in_flight;
	return 0;
}

static int on_probe(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct bench *b = userdata;
	uint64_t now;

	sd_event_now(b->ev, CLOCK_MONOTONIC, &now);
	if (now > usec && now - usec > b->max_lag_us)
		b->max_lag_us = now - usec;
	sd_event_source_set_time(s, now + PROBE_US);
	return 0;
}

/* Starts the next check of the ramp; stops once CONCURRENCY are in flight. */
static int on_ramp(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct bench *b = userdata;

	if (b->started < b->target && b->in_flight < b->conc && start_one(b) < 0)
		return sd_event_exit(b->ev, -EIO);
	if (b->started < b->target && b->in_flight < b->conc)
		return sd_event_source_set_time(s, usec + b->ramp_us);
	return sd_event_source_set_enabled(s, SD_EVENT_OFF);
}

static size_t discard(char *data, size_t size, size_t nmemb, void *userdata)
{
	return size * nmemb;
}

/* A plain kept-alive libcurl handle asking the same URL the verifier asks; *h gets
 * its header list, to be freed after the handle. */
static CURL *raw_handle(const char *base_url, const char *ca_file, const char *payload,
			struct curl_slist **hp)
{
	struct gosu_endpoints ep;
	struct gosu_code code;
	char path[512], url[1024];
	struct curl_slist *h;
	CURL *e;

	gosu_endpoints_defaults(&ep);
	if (gosu_classify(payload, strlen(payload), false, &code, NULL) != GOSU_CLASS_CERT ||
	    gosu_api_path(&code, &ep, path, sizeof(path)) < 0)
		return NULL;
	snprintf(url, sizeof(url), "%s%s", base_url, path);
	e = curl_easy_init();
	h = curl_slist_append(NULL, "Accept: application/json");
	if (!e || !h) {
		curl_easy_cleanup(e);
		curl_slist_free_all(h);
		return NULL;
	}
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_CAINFO, ca_file);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "bench_gosu-raw");
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	*hp = h;
	return e;
}

static int run_overhead(struct bench *b, const char *base_url, const char *ca_file)
{
	const size_t warm = 20;
	size_t n = b->target, i;
	double *raw = calloc(n, sizeof(double)), *ver = calloc(n, sizeof(double));
	double *diff = calloc(n, sizeof(double)), *cpu = calloc(n, sizeof(double));
	double r50, r99, v50, v99, d50, d99, c50, c99;
	struct curl_slist *h = NULL;
	CURL *e = raw_handle(base_url, ca_file, b->payload, &h);
	int failures = 0, rc = 1;

	b->lat_ms = calloc(1, sizeof(double));
	if (!raw || !ver || !diff || !cpu || !e || !b->lat_ms) {
		fprintf(stderr, "bench_gosu: setup failed\n");
		goto out;
	}
	for (i = 0; i < warm + n; i++) {
		uint64_t t0 = now_us(), c0 = cpu_us(), c1;
		long status = 0;
		size_t k = i < warm ? 0 : i - warm, valid = b->verdicts[GOSU_VALID];

		if (curl_easy_perform(e) != CURLE_OK)
			failures++;
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
		if (status != 200)
			failures++;
		if (i >= warm)
			raw[k] = (double)(now_us() - t0) / 1000.0;
		c1 = cpu_us();
		b->started = 0; /* one slot in lat_ms, reused */
		b->round_done = false;
		if (start_one(b) < 0) {
			failures++;
			break;
		}
		while (!b->round_done)
			if (sd_event_run(b->ev, UINT64_MAX) < 0)
				break;
		if (b->verdicts[GOSU_VALID] == valid)
			failures++;
		if (i >= warm) {
			ver[k] = b->lat_ms[0];
			diff[k] = ver[k] - raw[k];
			/* CPU of the verification minus CPU of the raw request */
			cpu[k] = ((double)(cpu_us() - c1) - (double)(c1 - c0)) / 1000.0;
		}
	}
	r50 = quantile(raw, n, 0.5), r99 = quantile(raw, n, 0.99);
	v50 = quantile(ver, n, 0.5), v99 = quantile(ver, n, 0.99);
	d50 = quantile(diff, n, 0.5), d99 = quantile(diff, n, 0.99);
	c50 = quantile(cpu, n, 0.5), c99 = quantile(cpu, n, 0.99);
	printf("{\"mode\":\"overhead\",\"rounds\":%zu,\"failures\":%d,"
	       "\"raw_p50_ms\":%.3f,\"raw_p99_ms\":%.3f,\"verify_p50_ms\":%.3f,"
	       "\"verify_p99_ms\":%.3f,\"overhead_p50_ms\":%.3f,\"overhead_p99_ms\":%.3f,"
	       "\"overhead_cpu_p50_ms\":%.3f,\"overhead_cpu_p99_ms\":%.3f}\n",
	       n, failures, r50, r99, v50, v99, d50, d99, c50, c99);
	rc = failures ? 1 : 0;
out:
	free(raw);
	free(ver);
	free(diff);
	free(cpu);
	curl_easy_cleanup(e);
	curl_slist_free_all(h);
	return rc;
}

static int run_load(struct bench *b)
{
	sd_event_source *probe = NULL, *ramp = NULL;
	uint64_t t0 = now_us(), wall;
	double p50, p99;
	int r;

	b->lat_ms = calloc(b->target, sizeof(double));
	if (!b->lat_ms)
		return 1;
	r = sd_event_add_time(b->ev, &probe, CLOCK_MONOTONIC, t0 + PROBE_US, 1, on_probe, b);
	if (r < 0 || sd_event_source_set_enabled(probe, SD_EVENT_ON) < 0)
		return 1;
	if (b->ramp_us) {
		r = sd_event_add_time(b->ev, &ramp, CLOCK_MONOTONIC, t0, 1, on_ramp, b);
		if (r < 0 || sd_event_source_set_enabled(ramp, SD_EVENT_ON) < 0)
			return 1;
	} else {
		while (b->started < b->target && b->in_flight < b->conc)
			if (start_one(b) < 0)
				return 1;
	}
	r = sd_event_loop(b->ev);
	wall = now_us() - t0;
	sd_event_source_disable_unref(probe);
	sd_event_source_disable_unref(ramp);
	if (r < 0)
		return 1;
	p50 = quantile(b->lat_ms, b->done, 0.5);
	p99 = quantile(b->lat_ms, b->done, 0.99);
	printf("{\"mode\":\"load\",\"checks\":%zu,\"peak_in_flight\":%zu,\"wall_ms\":%.1f,"
	       "\"latency_p50_ms\":%.1f,\"latency_p99_ms\":%.1f,\"max_loop_lag_ms\":%.2f,"
	       "\"verdicts\":{",
	       b->done, b->peak, (double)wall / 1000.0, p50, p99, (double)b->max_lag_us / 1000.0);
	for (int v = 0; v <= GOSU_UNAVAILABLE; v++)
		printf("%s\"%s\":%zu", v ? "," : "", gosu_verdict_name((enum gosu_verdict)v),
		       b->verdicts[v]);
	printf("}}\n");
	return b->done == b->target ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct gosu_client_config cfg = {.connect_timeout_ms = 10000, .timeout_ms = 30000};
	struct bench b = {0};
	bool load = (argc == 7 || argc == 8) && strcmp(argv[1], "load") == 0;
	int rc = 1;

	if (!load && !(argc == 6 && strcmp(argv[1], "overhead") == 0)) {
		fprintf(stderr, "usage: bench_gosu overhead BASE_URL CA_FILE PAYLOAD N\n"
				"       bench_gosu load BASE_URL CA_FILE PAYLOAD N CONCURRENCY "
				"[RAMP_MS]\n");
		return 1;
	}
	cfg.base_url = argv[2];
	cfg.ca_file = argv[3];
	gosu_endpoints_defaults(&cfg.endpoints);
	b.payload = argv[4];
	b.target = strtoul(argv[5], NULL, 10);
	b.conc = load ? strtoul(argv[6], NULL, 10) : 0;
	b.ramp_us = argc == 8 ? strtoul(argv[7], NULL, 10) * 1000u : 0;
	if (b.target == 0 || (load && b.conc == 0)) {
		fprintf(stderr, "bench_gosu: N and CONCURRENCY must be positive\n");
		return 1;
	}
	if (sd_event_new(&b.ev) < 0 || gosu_client_new(&b.cli, b.ev, &cfg) < 0) {
		fprintf(stderr, "bench_gosu: cannot set up the client (base URL must be https)\n");
		goto out;
	}
	rc = load ? run_load(&b) : run_overhead(&b, cfg.base_url, cfg.ca_file);
out:
	gosu_client_free(b.cli);
	sd_event_unref(b.ev);
	free(b.lat_ms);
	return rc;
}
