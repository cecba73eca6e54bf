/* counters.c: per-lane traffic counters (see counters.h).
 *
 * Two periods fed by the same events; the "today" one is reset whenever an event
 * or a status read sees a local date other than the one it was counting, so a
 * status read after midnight shows zeros for the new day even before any event.
 */
#include "counters.h"

#include <errno.h>
#include <string.h>

static long counters_day(time_t now)
{
	struct tm tm;

	if (!localtime_r(&now, &tm))
		return 0;
	return (tm.tm_year + 1900L) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
}

static void counters_roll(struct counters *c, time_t now)
{
	long day = counters_day(now);

	if (day != c->day) {
		memset(&c->today, 0, sizeof(c->today));
		c->day = day;
	}
}

static void counters_add_gate(struct counters_period *p, bool passed, bool dir_b)
{
	if (!passed)
		p->not_passed++;
	else if (dir_b)
		p->exits++;
	else
		p->entries++;
}

void counters_gate(struct counters *c, time_t now, bool passed, bool dir_b)
{
	counters_roll(c, now);
	counters_add_gate(&c->total, passed, dir_b);
	counters_add_gate(&c->today, passed, dir_b);
}

static void counters_add_verdict(struct counters_period *p, bool valid, int64_t latency_ms)
{
	if (!valid)
		p->denials++;
	if (latency_ms < 0)
		return;
	p->verifications++;
	p->verify_ms_sum += (uint64_t)latency_ms;
	if ((uint64_t)latency_ms > p->verify_ms_max)
		p->verify_ms_max = (uint64_t)latency_ms;
}

void counters_verdict(struct counters *c, time_t now, bool valid, int64_t latency_ms)
{
	counters_roll(c, now);
	counters_add_verdict(&c->total, valid, latency_ms);
	counters_add_verdict(&c->today, valid, latency_ms);
}

static cJSON *counters_period_json(const struct counters_period *p)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	cJSON_AddNumberToObject(o, "entries", (double)p->entries);
	cJSON_AddNumberToObject(o, "exits", (double)p->exits);
	cJSON_AddNumberToObject(o, "denials", (double)p->denials);
	cJSON_AddNumberToObject(o, "not_passed", (double)p->not_passed);
	cJSON_AddNumberToObject(o, "verifications", (double)p->verifications);
	cJSON_AddNumberToObject(o, "verify_ms_avg",
				p->verifications ? (double)p->verify_ms_sum /
						       (double)p->verifications
						 : 0.0);
	cJSON_AddNumberToObject(o, "verify_ms_max", (double)p->verify_ms_max);
	return o;
}

int counters_json(struct counters *c, time_t now, cJSON *obj)
{
	cJSON *o, *total, *today;

	counters_roll(c, now);
	o = cJSON_AddObjectToObject(obj, "counters");
	total = counters_period_json(&c->total);
	today = counters_period_json(&c->today);
	if (!o || !total || !today) {
		cJSON_Delete(total);
		cJSON_Delete(today);
		return -ENOMEM;
	}
	cJSON_AddItemToObject(o, "since_start", total);
	cJSON_AddItemToObject(o, "today", today);
	return 0;
}
