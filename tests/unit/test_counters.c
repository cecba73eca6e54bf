/* test_counters.c: the status counters: what each event counts, the latency
 * figures, and "today" starting over at local midnight while since_start does not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "counters.h"

static double num(const cJSON *obj, const char *period, const char *key)
{
	const cJSON *p = cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "counters"), period);
	const cJSON *v = cJSON_GetObjectItem(p, key);

	assert_true(cJSON_IsNumber(v));
	return v->valuedouble;
}

static void counts_and_latency_and_the_day_rolls_over_at_local_midnight(void **state)
{
	struct counters c;
	/* 2025-11-25 23:59:00 and 2025-11-26 00:00:30 in Moscow (UTC+3). */
	time_t late = 1764104340, next = late + 90;
	cJSON *obj;

	(void)state;
	setenv("TZ", "MSK-3", 1);
	tzset();
	memset(&c, 0, sizeof(c));
	counters_verdict(&c, late, true, 40);
	counters_gate(&c, late, true, false);
	counters_verdict(&c, late, false, 100);
	counters_verdict(&c, late, true, -1); /* no latency known: not in the figures */
	counters_gate(&c, late, true, true);
	counters_gate(&c, late, false, false);

	obj = cJSON_CreateObject();
	assert_int_equal(counters_json(&c, late, obj), 0);
	for (int i = 0; i < 2; i++) {
		const char *p = i ? "today" : "since_start";

		assert_true(num(obj, p, "entries") == 1);
		assert_true(num(obj, p, "exits") == 1);
		assert_true(num(obj, p, "denials") == 1);
		assert_true(num(obj, p, "not_passed") == 1);
		assert_true(num(obj, p, "verifications") == 2);
		assert_true(num(obj, p, "verify_ms_avg") == 70);
		assert_true(num(obj, p, "verify_ms_max") == 100);
	}
	cJSON_Delete(obj);

	/* After midnight: a status read alone shows a fresh day. */
	obj = cJSON_CreateObject();
	assert_int_equal(counters_json(&c, next, obj), 0);
	assert_true(num(obj, "today", "entries") == 0);
	assert_true(num(obj, "today", "verify_ms_avg") == 0);
	assert_true(num(obj, "since_start", "entries") == 1);
	cJSON_Delete(obj);
	counters_gate(&c, next, true, false);
	obj = cJSON_CreateObject();
	assert_int_equal(counters_json(&c, next, obj), 0);
	assert_true(num(obj, "today", "entries") == 1);
	assert_true(num(obj, "since_start", "entries") == 2);
	assert_true(num(obj, "since_start", "verify_ms_max") == 100);
	cJSON_Delete(obj);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(counts_and_latency_and_the_day_rolls_over_at_local_midnight),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
