/* counters.h: a lane's traffic counters for `turnstilectl status`: entries, exits,
 * denials, not-passed and verification latency, since the daemon started and since
 * local midnight. Pure: the caller passes the wall-clock time, nothing here reads a
 * clock, does I/O or logs. "Today" restarts at the first event of a new local day.
 */
#ifndef TS_COUNTERS_H
#define TS_COUNTERS_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <cjson/cJSON.h>

struct counters_period {
	uint64_t entries;       /* passed, direction a */
	uint64_t exits;         /* passed, direction b */
	uint64_t denials;       /* verdict other than valid */
	uint64_t not_passed;    /* granted, nobody passed within the pass window */
	uint64_t verifications; /* verdicts with a measured latency */
	uint64_t verify_ms_sum;
	uint64_t verify_ms_max;
};

struct counters {
	struct counters_period total, today;
	long day; /* local date as yyyymmdd of today's period; 0: none yet */
};

/* A gate result: passed (dir_b: direction b) or not passed. */
void counters_gate(struct counters *c, time_t now, bool passed, bool dir_b);
/* A verdict; latency_ms < 0 when unknown (not counted in the latency figures). */
void counters_verdict(struct counters *c, time_t now, bool valid, int64_t latency_ms);
/* Adds {"since_start":{...},"today":{...}} as "counters" to obj; 0 or -ENOMEM. */
int counters_json(struct counters *c, time_t now, cJSON *obj);

#endif
