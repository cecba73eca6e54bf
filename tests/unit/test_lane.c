/* test_lane.c: the lane state machine, driven event by event with a fake clock.
 *
 * Each test starts a lane at T0 and feeds events; helpers find actions in the returned list
 * and, when one is missing, print the whole list so the failure explains itself.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lane.h"

#define T0 100000u
#define SEED 5000u

static struct lane_config cfg;
static struct lane lane;
static struct lane_actions acts;
static lane_ms_t now;

/* Helpers: the lane and its clock */

static void start_with(const struct lane_config *c)
{
	now = T0;
	lane_init(&lane, c, SEED, now, &acts);
}

static void start(void)
{
	lane_config_defaults(&cfg);
	start_with(&cfg);
}

static enum lane_result step(struct lane_event ev)
{
	return lane_step(&lane, &ev, now, &acts);
}

static enum lane_result at(lane_ms_t t, struct lane_event ev)
{
	now = t;
	return step(ev);
}

static struct lane_event ev_tick(void)
{
	return (struct lane_event){.type = LANE_EV_TICK};
}

static enum lane_result advance(lane_ms_t ms)
{
	return at(now + ms, ev_tick());
}

static struct lane_event ev_scan(uint64_t key)
{
	return (struct lane_event){.type = LANE_EV_SCAN, .scan.code_key = key};
}

static struct lane_check_result result_buf;

static struct lane_event ev_result(uint64_t id, enum lane_verdict v, bool attendant)
{
	memset(&result_buf, 0, sizeof(result_buf));
	result_buf.verdict = v;
	result_buf.attendant_required = attendant;
	strcpy(result_buf.code_kind, "ticket");
	return (struct lane_event){.type = LANE_EV_RESULT,
				   .result = {.request_id = id, .result = &result_buf}};
}

static struct lane_event ev_confirm(uint64_t id)
{
	return (struct lane_event){.type = LANE_EV_CONFIRM, .decision.request_id = id};
}

static struct lane_event ev_reject(uint64_t id)
{
	return (struct lane_event){.type = LANE_EV_REJECT, .decision.request_id = id};
}

static struct lane_event ev_pass(enum lane_dir dir, bool active)
{
	return (struct lane_event){.type = LANE_EV_PASS, .pass = {.dir = dir, .active = active}};
}

static struct lane_event ev_fire(bool loop_closed)
{
	return (struct lane_event){.type = LANE_EV_FIRE, .fire.loop_closed = loop_closed};
}

static struct lane_event ev_stop(bool active)
{
	return (struct lane_event){.type = LANE_EV_STOP, .stop.active = active};
}

static struct lane_event ev_mode(enum lane_mode m)
{
	return (struct lane_event){.type = LANE_EV_MODE, .mode.mode = m};
}

static struct lane_event ev_io(bool fault)
{
	return (struct lane_event){.type = LANE_EV_IO_FAULT, .io.fault = fault};
}

static struct lane_event ev_manual(enum lane_dir dir)
{
	return (struct lane_event){.type = LANE_EV_MANUAL_OPEN, .manual.dir = dir};
}

static struct lane_event ev_grant_failed(uint64_t id)
{
	return (struct lane_event){.type = LANE_EV_GRANT_FAILED, .grant_failed.request_id = id};
}

/* Helpers: finding actions */

static void dump(void)
{
	size_t i;

	print_message("  actions (%zu):\n", acts.count);
	for (i = 0; i < acts.count; i++) {
		const struct lane_action *a = &acts.a[i];

		switch (a->type) {
		case LANE_ACT_OUTPUT:
			print_message("  [%zu] OUTPUT %s=%d pulse %u\n", i,
				      lane_output_name(a->output.output), a->output.level,
				      a->output.pulse_ms);
			break;
		case LANE_ACT_VERIFY:
			print_message("  [%zu] VERIFY id %llu\n", i,
				      (unsigned long long)a->request_id);
			break;
		case LANE_ACT_DECISION:
			print_message("  [%zu] DECISION %s id %llu\n", i,
				      lane_decision_name(a->decision.decision),
				      (unsigned long long)a->request_id);
			break;
		case LANE_ACT_GRANT:
			print_message("  [%zu] GRANT id %llu dir %s manual %d\n", i,
				      (unsigned long long)a->request_id,
				      lane_dir_name(a->grant.dir), a->grant.manual);
			break;
		case LANE_ACT_GATE:
			print_message("  [%zu] GATE %s id %llu dir %s\n", i,
				      a->gate.gate == LANE_GATE_PASSED ? "passed" : "not_passed",
				      (unsigned long long)a->request_id,
				      lane_dir_name(a->gate.dir));
			break;
		case LANE_ACT_ABORT:
			print_message("  [%zu] ABORT %s id %llu\n", i,
				      lane_abort_name(a->abort.why),
				      (unsigned long long)a->request_id);
			break;
		case LANE_ACT_LOG:
			print_message("  [%zu] LOG %s arg %d\n", i, lane_log_name(a->log.kind),
				      a->log.arg);
			break;
		}
	}
}

/* Index of the first action of this type matching (key, val), or -1. key is the output,
 * decision, gate, abort reason or log kind; val the output level (-1: any). */
static int find(enum lane_action_type type, int key, int val)
{
	size_t i;

	for (i = 0; i < acts.count; i++) {
		const struct lane_action *a = &acts.a[i];

		if (a->type != type)
			continue;
		switch (type) {
		case LANE_ACT_OUTPUT:
			if ((int)a->output.output == key && (val < 0 || a->output.level == val))
				return (int)i;
			break;
		case LANE_ACT_DECISION:
			if ((int)a->decision.decision == key)
				return (int)i;
			break;
		case LANE_ACT_GATE:
			if ((int)a->gate.gate == key)
				return (int)i;
			break;
		case LANE_ACT_ABORT:
			if ((int)a->abort.why == key)
				return (int)i;
			break;
		case LANE_ACT_LOG:
			if ((int)a->log.kind == key)
				return (int)i;
			break;
		default:
			return (int)i;
		}
	}
	return -1;
}

static int count(enum lane_action_type type)
{
	size_t i;
	int n = 0;

	for (i = 0; i < acts.count; i++)
		n += acts.a[i].type == type;
	return n;
}

static int must_(int idx, const char *what, const char *file, int line)
{
	if (idx < 0) {
		print_error("expected %s, not in the list\n", what);
		dump();
		_fail(file, line);
	}
	return idx;
}

static void none_(int idx, const char *what, const char *file, int line)
{
	if (idx >= 0) {
		print_error("expected no %s, found at [%d]\n", what, idx);
		dump();
		_fail(file, line);
	}
}

#define MUST(idx) must_((idx), #idx, __FILE__, __LINE__)
#define NONE(idx) none_((idx), #idx, __FILE__, __LINE__)
#define OUT(o, level) find(LANE_ACT_OUTPUT, (o), (level))
#define ACT(type) find((type), 0, -1)
#define LOG(kind) find(LANE_ACT_LOG, (kind), -1)
#define ABORT(why) find(LANE_ACT_ABORT, (why), -1)
#define DECISION(d) find(LANE_ACT_DECISION, (d), -1)
#define GATE(g) find(LANE_ACT_GATE, (g), -1)
#define ANY_OUTPUT(o) find(LANE_ACT_OUTPUT, (o), -1)

#define assert_state(s)                                                                            \
	do {                                                                                       \
		if (lane_state(&lane) != (s))                                                      \
			fail_msg("state is %s, expected %s", lane_state_name(lane_state(&lane)),   \
				 lane_state_name(s));                                              \
	} while (0)

/* cmocka passes a state pointer these tests do not use. */
#define TEST(name) static void name(void **state __attribute__((unused)))

/* Helpers: walking the cycle */

static uint64_t scan(uint64_t key)
{
	assert_int_equal(step(ev_scan(key)), LANE_OK);
	return acts.a[MUST(ACT(LANE_ACT_VERIFY))].request_id;
}

static uint64_t to_open(uint64_t key)
{
	uint64_t id = scan(key);

	assert_int_equal(advance(50), LANE_OK);
	assert_int_equal(step(ev_result(id, LANE_VERDICT_VALID, false)), LANE_OK);
	assert_state(LANE_OPEN);
	return id;
}

static uint64_t to_await(uint64_t key)
{
	uint64_t id = scan(key);

	assert_int_equal(advance(50), LANE_OK);
	assert_int_equal(step(ev_result(id, LANE_VERDICT_VALID, true)), LANE_OK);
	assert_state(LANE_AWAIT_ATTENDANT);
	return id;
}

static uint64_t to_denied(uint64_t key)
{
	uint64_t id = scan(key);

	assert_int_equal(step(ev_result(id, LANE_VERDICT_INVALID, false)), LANE_OK);
	assert_state(LANE_DENIED);
	return id;
}

static void assert_no_output_at_one(void)
{
	int o;

	for (o = 0; o < LANE_OUT_COUNT; o++)
		if (lane_output_level(&lane, (enum lane_output)o))
			fail_msg("output %s is 1, expected 0",
				 lane_output_name((enum lane_output)o));
}

/* Start-up and idle */

TEST(test_init_sets_every_output_to_zero_and_none_to_one)
{
	int o;

	start();
	assert_int_equal(acts.count, LANE_OUT_COUNT);
	for (o = 0; o < LANE_OUT_COUNT; o++) {
		MUST(OUT(o, 0));
		NONE(OUT(o, 1));
	}
	assert_no_output_at_one();
	assert_state(LANE_IDLE);
	assert_int_equal(lane_mode(&lane), LANE_MODE_NORMAL);
	assert_null(lane_check(&lane));
}

TEST(test_idle_schedules_no_wakeup)
{
	start();
	assert_true(lane_next_deadline(&lane) == LANE_NEVER);
	assert_int_equal(advance(1000000), LANE_OK);
	assert_int_equal(acts.count, 0);
	assert_true(lane_next_deadline(&lane) == LANE_NEVER);
}

TEST(test_idle_after_full_cycle_schedules_no_wakeup)
{
	start();
	to_open(1);
	advance(300);
	step(ev_pass(LANE_DIR_A, true));
	advance(500);
	step(ev_pass(LANE_DIR_A, false));
	assert_state(LANE_IDLE);
	assert_no_output_at_one();
	assert_true(lane_next_deadline(&lane) == LANE_NEVER);
}

TEST(test_config_defaults_are_valid)
{
	const char *why = NULL;

	lane_config_defaults(&cfg);
	assert_int_equal(lane_config_validate(&cfg, &why), 0);
	assert_int_equal(cfg.pulse_ms, 200);
	assert_int_equal(cfg.control, LANE_CONTROL_PULSE);
	assert_int_equal(cfg.scan_dir, LANE_DIR_A);
}

TEST(test_config_validate_rejects_out_of_range)
{
	struct lane_config c;
	const char *why = NULL;

	lane_config_defaults(&c);
	c.pulse_ms = 99;
	assert_int_equal(lane_config_validate(&c, &why), -EINVAL);
	assert_non_null(why);
	lane_config_defaults(&c);
	c.pulse_ms = 501;
	assert_int_equal(lane_config_validate(&c, &why), -EINVAL);
	lane_config_defaults(&c);
	c.pass_window_ms = 0;
	assert_int_equal(lane_config_validate(&c, &why), -EINVAL);
	lane_config_defaults(&c);
	c.attendant_timeout_ms = 600001;
	assert_int_equal(lane_config_validate(&c, &why), -EINVAL);
	lane_config_defaults(&c);
	c.verify_timeout_ms = 0;
	assert_int_equal(lane_config_validate(&c, &why), -EINVAL);
	lane_config_defaults(&c);
	c.duplicate_ms = 60001;
	assert_int_equal(lane_config_validate(&c, &why), -EINVAL);
	lane_config_defaults(&c);
	c.indication[LANE_IDLE].ind[LANE_IND_RED] = (struct lane_pattern){1, 1, 0};
	assert_int_equal(lane_config_validate(&c, &why), -EINVAL);
	lane_config_defaults(&c);
	c.pulse_ms = 500;
	c.control = LANE_CONTROL_POTENTIAL;
	assert_int_equal(lane_config_validate(&c, NULL), 0);
}

TEST(test_names_match_the_documented_spelling)
{
	enum lane_mode m;
	enum lane_verdict v;

	assert_string_equal(lane_state_name(LANE_IDLE), "idle");
	assert_string_equal(lane_state_name(LANE_AWAIT_ATTENDANT), "await_attendant");
	assert_string_equal(lane_state_name(LANE_IO_FAULT), "io_fault");
	assert_string_equal(lane_mode_name(LANE_MODE_FREE_A), "free-a");
	assert_int_equal(lane_mode_from_name("free-b", &m), 0);
	assert_int_equal(m, LANE_MODE_FREE_B);
	assert_int_equal(lane_mode_from_name("locked", &m), 0);
	assert_int_equal(m, LANE_MODE_LOCKED);
	assert_int_equal(lane_mode_from_name("open", &m), -EINVAL);
	assert_string_equal(lane_verdict_name(LANE_VERDICT_NOT_FOUND), "not_found");
	assert_int_equal(lane_verdict_from_name("used", &v), 0);
	assert_int_equal(v, LANE_VERDICT_USED);
	assert_int_equal(lane_verdict_from_name("valid!", &v), -EINVAL);
	assert_string_equal(lane_output_name(LANE_OUT_LED_YELLOW), "led_yellow");
	assert_string_equal(lane_decision_name(LANE_DECISION_NOT_REQUIRED), "not_required");
	assert_string_equal(lane_abort_name(LANE_ABORT_VERIFY_TIMEOUT), "verify_timeout");
	assert_string_equal(lane_log_name(LANE_LOG_MODE_CHANGED), "mode_change");
	assert_string_equal(lane_log_name(LANE_LOG_UNEXPECTED_PASS), "unexpected_pass");
	assert_string_equal(lane_dir_name(LANE_DIR_A), "a");
	assert_string_equal(lane_dir_name(LANE_DIR_B), "b");
}

/* Scan and verify */

TEST(test_scan_in_idle_starts_verify_with_seeded_id)
{
	uint64_t id;

	start();
	id = scan(42);
	assert_int_equal(id, SEED);
	assert_state(LANE_VERIFYING);
	MUST(OUT(LANE_OUT_LED_YELLOW, 1));
	assert_non_null(lane_check(&lane));
	assert_int_equal(lane_check(&lane)->code_key, 42);
	assert_int_equal(lane_check(&lane)->started, now);
	assert_int_equal(lane_next_deadline(&lane), now + cfg.verify_timeout_ms);
}

TEST(test_request_id_is_never_zero)
{
	lane_config_defaults(&cfg);
	now = T0;
	lane_init(&lane, &cfg, 0, now, &acts);
	assert_int_equal(scan(1), 1);

	lane_init(&lane, &cfg, UINT64_MAX, now, &acts);
	assert_true(scan(1) == UINT64_MAX);
	advance(cfg.verify_timeout_ms);
	advance(cfg.denied_ms);
	assert_state(LANE_IDLE);
	assert_int_equal(scan(2), 1);
}

TEST(test_same_code_within_duplicate_window_is_one_scan)
{
	start();
	scan(7);
	step(ev_result(SEED, LANE_VERDICT_VALID, false));
	step(ev_pass(LANE_DIR_A, true));
	step(ev_pass(LANE_DIR_A, false));
	assert_state(LANE_IDLE);
	assert_int_equal(at(T0 + cfg.duplicate_ms - 1, ev_scan(7)), LANE_DUPLICATE);
	assert_int_equal(count(LANE_ACT_VERIFY), 0);
	assert_state(LANE_IDLE);
	assert_int_equal(step(ev_scan(8)), LANE_OK);
}

TEST(test_same_code_after_duplicate_window_is_a_new_scan)
{
	start();
	scan(7);
	step(ev_result(SEED, LANE_VERDICT_VALID, false));
	step(ev_pass(LANE_DIR_A, true));
	step(ev_pass(LANE_DIR_A, false));
	assert_int_equal(at(T0 + cfg.duplicate_ms, ev_scan(7)), LANE_OK);
	MUST(ACT(LANE_ACT_VERIFY));
}

TEST(test_scan_while_check_in_flight_is_busy)
{
	start();
	scan(1);
	assert_int_equal(step(ev_scan(2)), LANE_BUSY);
	assert_int_equal(acts.count, 0);
	step(ev_result(SEED, LANE_VERDICT_VALID, true));
	assert_int_equal(step(ev_scan(2)), LANE_BUSY);
	start();
	to_open(1);
	assert_int_equal(step(ev_scan(2)), LANE_BUSY);
	start();
	to_denied(1);
	assert_int_equal(step(ev_scan(2)), LANE_BUSY);
	assert_non_null(lane_check(&lane));
}

TEST(test_result_for_other_request_is_stale)
{
	uint64_t id;

	start();
	id = scan(1);
	assert_int_equal(step(ev_result(id + 1, LANE_VERDICT_VALID, false)), LANE_STALE);
	assert_int_equal(acts.count, 0);
	assert_state(LANE_VERIFYING);
	start();
	assert_int_equal(step(ev_result(SEED, LANE_VERDICT_VALID, false)), LANE_STALE);
	assert_state(LANE_IDLE);
}

TEST(test_every_negative_verdict_denies)
{
	int v;
	uint64_t id;

	for (v = 0; v < LANE_VERDICT_COUNT; v++) {
		if (v == LANE_VERDICT_VALID)
			continue;
		start();
		id = scan(1);
		assert_int_equal(step(ev_result(id, (enum lane_verdict)v, false)), LANE_OK);
		assert_state(LANE_DENIED);
		assert_int_equal(acts.a[MUST(ABORT(LANE_ABORT_DENIED))].request_id, id);
		NONE(ACT(LANE_ACT_GRANT));
		NONE(OUT(LANE_OUT_OPEN_A, 1));
		MUST(OUT(LANE_OUT_LED_RED, 1));
		assert_int_equal(lane_check(&lane)->result.verdict, v);
	}
}

TEST(test_denied_shows_then_returns_idle_and_clears_check)
{
	start();
	to_denied(1);
	MUST(OUT(LANE_OUT_BUZZER, 1));
	assert_int_equal(lane_next_deadline(&lane), now + 300);
	advance(300);
	MUST(OUT(LANE_OUT_BUZZER, 0));
	assert_state(LANE_DENIED);
	assert_non_null(lane_check(&lane));
	assert_int_equal(lane_next_deadline(&lane), now - 300 + cfg.denied_ms);
	advance(cfg.denied_ms - 300 - 1);
	assert_state(LANE_DENIED);
	advance(1);
	assert_state(LANE_IDLE);
	MUST(OUT(LANE_OUT_LED_RED, 0));
	assert_null(lane_check(&lane));
	assert_true(lane_next_deadline(&lane) == LANE_NEVER);
}

TEST(test_verify_timeout_denies_as_unavailable)
{
	uint64_t id;

	start();
	id = scan(1);
	advance(cfg.verify_timeout_ms - 1);
	assert_state(LANE_VERIFYING);
	advance(1);
	assert_state(LANE_DENIED);
	assert_int_equal(acts.a[MUST(ABORT(LANE_ABORT_VERIFY_TIMEOUT))].request_id, id);
	assert_int_equal(lane_check(&lane)->result.verdict, LANE_VERDICT_UNAVAILABLE);
	/* the answer that comes later grants nothing */
	assert_int_equal(step(ev_result(id, LANE_VERDICT_VALID, false)), LANE_STALE);
	NONE(ACT(LANE_ACT_GRANT));
}

TEST(test_result_arriving_after_timeout_without_tick_is_stale)
{
	uint64_t id;

	start();
	id = scan(1);
	assert_int_equal(
	    at(now + cfg.verify_timeout_ms + 5, ev_result(id, LANE_VERDICT_VALID, false)),
	    LANE_STALE);
	MUST(ABORT(LANE_ABORT_VERIFY_TIMEOUT));
	NONE(ACT(LANE_ACT_GRANT));
	assert_state(LANE_DENIED);
}

TEST(test_null_result_never_grants)
{
	struct lane_event ev;
	uint64_t id;

	start();
	id = scan(1);
	ev = (struct lane_event){.type = LANE_EV_RESULT, .result = {.request_id = id}};
	assert_int_equal(step(ev), LANE_OK);
	assert_state(LANE_DENIED);
	NONE(ACT(LANE_ACT_GRANT));
}

/* Grant and gate */

TEST(test_valid_result_journals_grant_before_opening)
{
	uint64_t id;
	int grant, open, decision;

	start();
	id = scan(1);
	step(ev_result(id, LANE_VERDICT_VALID, false));
	decision = MUST(DECISION(LANE_DECISION_NOT_REQUIRED));
	grant = MUST(ACT(LANE_ACT_GRANT));
	open = MUST(OUT(LANE_OUT_OPEN_A, 1));
	assert_int_equal(acts.a[decision].request_id, id);
	assert_int_equal(acts.a[grant].request_id, id);
	assert_int_equal(acts.a[grant].grant.dir, LANE_DIR_A);
	assert_false(acts.a[grant].grant.manual);
	assert_true(decision < grant);
	assert_true(grant < open);
	assert_true(grant < MUST(OUT(LANE_OUT_LED_GREEN, 1)));
	assert_state(LANE_OPEN);
}

TEST(test_scan_dir_b_opens_b)
{
	uint64_t id;

	lane_config_defaults(&cfg);
	cfg.scan_dir = LANE_DIR_B;
	start_with(&cfg);
	id = scan(1);
	step(ev_result(id, LANE_VERDICT_VALID, false));
	assert_int_equal(acts.a[MUST(ACT(LANE_ACT_GRANT))].grant.dir, LANE_DIR_B);
	MUST(OUT(LANE_OUT_OPEN_B, 1));
	NONE(OUT(LANE_OUT_OPEN_A, 1));
}

TEST(test_pulse_mode_pulses_then_drops_after_pulse_ms)
{
	int i;

	start();
	to_open(1);
	i = MUST(OUT(LANE_OUT_OPEN_A, 1));
	assert_int_equal(acts.a[i].output.pulse_ms, 200);
	assert_int_equal(lane_next_deadline(&lane), now + 200);
	advance(199);
	NONE(ANY_OUTPUT(LANE_OUT_OPEN_A));
	advance(1);
	i = MUST(OUT(LANE_OUT_OPEN_A, 0));
	assert_int_equal(acts.a[i].output.pulse_ms, 0);
	assert_false(lane_output_level(&lane, LANE_OUT_OPEN_A));
	assert_state(LANE_OPEN);
}

TEST(test_pulse_mode_pass_lets_pulse_run_to_its_end)
{
	start();
	to_open(1);
	advance(50);
	step(ev_pass(LANE_DIR_A, true));
	MUST(GATE(LANE_GATE_PASSED));
	NONE(ANY_OUTPUT(LANE_OUT_OPEN_A));
	assert_state(LANE_PASSING);
	step(ev_pass(LANE_DIR_A, false));
	assert_state(LANE_IDLE);
	NONE(ANY_OUTPUT(LANE_OUT_OPEN_A));
	assert_int_equal(lane_next_deadline(&lane), now + 150);
	advance(150);
	MUST(OUT(LANE_OUT_OPEN_A, 0));
	assert_true(lane_next_deadline(&lane) == LANE_NEVER);
}

TEST(test_potential_mode_holds_until_pass_starts)
{
	int i;
	uint64_t id;

	lane_config_defaults(&cfg);
	cfg.control = LANE_CONTROL_POTENTIAL;
	start_with(&cfg);
	id = to_open(1);
	i = MUST(OUT(LANE_OUT_OPEN_A, 1));
	assert_int_equal(acts.a[i].output.pulse_ms, 0);
	advance(cfg.pass_window_ms - 1);
	assert_true(lane_output_level(&lane, LANE_OUT_OPEN_A));
	step(ev_pass(LANE_DIR_A, true));
	i = MUST(GATE(LANE_GATE_PASSED));
	assert_int_equal(acts.a[i].request_id, id);
	assert_true(i < MUST(OUT(LANE_OUT_OPEN_A, 0)));
	assert_state(LANE_PASSING);
}

TEST(test_potential_mode_drops_and_annuls_when_window_ends)
{
	uint64_t id;
	int i;

	lane_config_defaults(&cfg);
	cfg.control = LANE_CONTROL_POTENTIAL;
	start_with(&cfg);
	id = to_open(1);
	assert_int_equal(lane_next_deadline(&lane), now + cfg.pass_window_ms);
	advance(cfg.pass_window_ms);
	MUST(OUT(LANE_OUT_OPEN_A, 0));
	i = MUST(GATE(LANE_GATE_NOT_PASSED));
	assert_int_equal(acts.a[i].request_id, id);
	NONE(ACT(LANE_ACT_ABORT));
	assert_state(LANE_IDLE);
	assert_no_output_at_one();
	assert_null(lane_check(&lane));
}

TEST(test_no_pass_in_window_annuls_in_pulse_mode)
{
	start();
	to_open(1);
	advance(200);
	advance(cfg.pass_window_ms - 201);
	assert_state(LANE_OPEN);
	advance(1);
	MUST(GATE(LANE_GATE_NOT_PASSED));
	assert_state(LANE_IDLE);
	assert_true(lane_next_deadline(&lane) == LANE_NEVER);
}

TEST(test_passing_ends_after_passing_max_with_sensor_stuck)
{
	start();
	to_open(1);
	advance(300);
	step(ev_pass(LANE_DIR_A, true));
	assert_int_equal(lane_next_deadline(&lane), now + cfg.passing_max_ms);
	advance(cfg.passing_max_ms);
	assert_state(LANE_IDLE);
	assert_null(lane_check(&lane));
	NONE(ACT(LANE_ACT_GATE));
	/* the sensor finally releasing is not a new passage */
	step(ev_pass(LANE_DIR_A, false));
	assert_int_equal(acts.count, 0);
}

TEST(test_pass_in_wrong_direction_is_unexpected)
{
	int i;

	start();
	to_open(1);
	step(ev_pass(LANE_DIR_B, true));
	i = MUST(LOG(LANE_LOG_UNEXPECTED_PASS));
	assert_int_equal(acts.a[i].log.arg, LANE_DIR_B);
	NONE(ACT(LANE_ACT_GATE));
	assert_state(LANE_OPEN);
}

TEST(test_pass_without_grant_is_unexpected)
{
	start();
	step(ev_pass(LANE_DIR_A, true));
	MUST(LOG(LANE_LOG_UNEXPECTED_PASS));
	step(ev_pass(LANE_DIR_A, true));
	assert_int_equal(acts.count, 0);
	start();
	scan(1);
	step(ev_pass(LANE_DIR_A, true));
	MUST(LOG(LANE_LOG_UNEXPECTED_PASS));
	assert_state(LANE_VERIFYING);
}

TEST(test_grant_failed_closes_and_denies)
{
	uint64_t id;

	start();
	id = to_open(1);
	assert_int_equal(step(ev_grant_failed(id + 1)), LANE_STALE);
	assert_int_equal(acts.count, 0);
	assert_int_equal(step(ev_grant_failed(id)), LANE_OK);
	MUST(OUT(LANE_OUT_OPEN_A, 0));
	assert_int_equal(acts.a[MUST(ABORT(LANE_ABORT_JOURNAL))].request_id, id);
	NONE(ACT(LANE_ACT_GATE));
	assert_state(LANE_DENIED);
	assert_false(lane_output_level(&lane, LANE_OUT_OPEN_A));
	/* the pulse is gone: no late drop is scheduled */
	advance(200);
	NONE(ANY_OUTPUT(LANE_OUT_OPEN_A));
}

TEST(test_grant_failed_after_confirm_resends_every_level)
{
	uint64_t id;
	int o;

	start();
	id = to_await(1);
	advance(1000);
	step(ev_confirm(id));
	/* the caller drops everything after the grant, yellow 0 included */
	assert_int_equal(step(ev_grant_failed(id)), LANE_OK);
	for (o = 0; o < LANE_OUT_COUNT; o++)
		MUST(ANY_OUTPUT(o));
	assert_int_equal(count(LANE_ACT_OUTPUT), LANE_OUT_COUNT);
	MUST(OUT(LANE_OUT_LED_YELLOW, 0));
	MUST(OUT(LANE_OUT_LED_RED, 1));
	assert_true(MUST(OUT(LANE_OUT_OPEN_A, 0)) < MUST(ABORT(LANE_ABORT_JOURNAL)));
	assert_state(LANE_DENIED);
}

/* Attendant */

TEST(test_attendant_required_waits_and_confirm_grants)
{
	uint64_t id;
	int d, g;

	start();
	id = to_await(1);
	assert_true(lane_output_level(&lane, LANE_OUT_LED_YELLOW));
	NONE(ACT(LANE_ACT_GRANT));
	assert_int_equal(lane_check(&lane)->presented, now);
	advance(1000);
	assert_int_equal(step(ev_confirm(id)), LANE_OK);
	d = MUST(DECISION(LANE_DECISION_CONFIRMED));
	g = MUST(ACT(LANE_ACT_GRANT));
	assert_true(d < g);
	assert_true(g < MUST(OUT(LANE_OUT_OPEN_A, 1)));
	assert_int_equal(acts.a[g].request_id, id);
	assert_state(LANE_OPEN);
}

TEST(test_attendant_reject_denies)
{
	uint64_t id;

	start();
	id = to_await(1);
	advance(1000);
	assert_int_equal(step(ev_reject(0)), LANE_OK);
	assert_int_equal(acts.a[MUST(DECISION(LANE_DECISION_REJECTED))].request_id, id);
	MUST(ABORT(LANE_ABORT_REJECTED));
	NONE(ACT(LANE_ACT_GRANT));
	assert_state(LANE_DENIED);
}

TEST(test_attendant_timeout_denies_with_timeout_decision)
{
	uint64_t id;

	start();
	id = to_await(1);
	assert_int_equal(lane_attendant_left_ms(&lane, now), cfg.attendant_timeout_ms);
	assert_int_equal(lane_attendant_left_ms(&lane, now + 5000),
			 cfg.attendant_timeout_ms - 5000);
	advance(cfg.attendant_timeout_ms);
	assert_int_equal(acts.a[MUST(DECISION(LANE_DECISION_TIMEOUT))].request_id, id);
	MUST(ABORT(LANE_ABORT_REJECTED));
	assert_state(LANE_DENIED);
	assert_int_equal(lane_attendant_left_ms(&lane, now), 0);
}

TEST(test_await_attendant_blinks_yellow)
{
	start();
	to_await(1);
	assert_int_equal(lane_next_deadline(&lane), now + 500);
	advance(500);
	MUST(OUT(LANE_OUT_LED_YELLOW, 0));
	advance(500);
	MUST(OUT(LANE_OUT_LED_YELLOW, 1));
	advance(250);
	assert_int_equal(acts.count, 0);
}

TEST(test_decision_with_other_request_id_is_stale)
{
	uint64_t id;

	start();
	id = to_await(1);
	advance(1000);
	assert_int_equal(step(ev_confirm(id + 1)), LANE_STALE);
	assert_int_equal(step(ev_reject(id - 1)), LANE_STALE);
	assert_int_equal(acts.count, 0);
	assert_state(LANE_AWAIT_ATTENDANT);
}

TEST(test_key_without_id_too_soon_is_ignored)
{
	start();
	to_await(1);
	assert_int_equal(at(now + cfg.attendant_min_ms - 1, ev_confirm(0)), LANE_STALE);
	assert_state(LANE_AWAIT_ATTENDANT);
	assert_int_equal(at(now + 1, ev_confirm(0)), LANE_OK);
	assert_state(LANE_OPEN);
}

/* should: bind a keypad key to the check pending when it went down: a key
 * pressed before the check appeared (queued while the daemon was busy), or
 * within attendant_min of it, is stale however late it is delivered; one
 * pressed after that decides, even when delivered later still. */
TEST(test_key_time_binds_it_to_the_check_shown_then)
{
	struct lane_event ev = ev_reject(0);
	lane_ms_t shown;

	start();
	to_await(1);
	shown = now;
	ev.decision.pressed = shown - 1;
	assert_int_equal(at(shown + cfg.attendant_min_ms + 50, ev), LANE_STALE);
	ev.decision.pressed = shown + cfg.attendant_min_ms - 1;
	assert_int_equal(step(ev), LANE_STALE);
	assert_state(LANE_AWAIT_ATTENDANT);
	NONE(ACT(LANE_ACT_DECISION));
	ev.decision.pressed = shown + cfg.attendant_min_ms;
	assert_int_equal(step(ev), LANE_OK);
	MUST(DECISION(LANE_DECISION_REJECTED));
	assert_state(LANE_DENIED);
}

/* should: take a key time from the future (another clock) as now, not as a
 * licence to skip attendant_min. */
TEST(test_key_time_in_the_future_counts_as_now)
{
	struct lane_event ev = ev_confirm(0);

	start();
	to_await(1);
	ev.decision.pressed = now + 100000;
	assert_int_equal(at(now + cfg.attendant_min_ms - 1, ev), LANE_STALE);
	NONE(ACT(LANE_ACT_GRANT));
}

TEST(test_key_with_id_is_accepted_at_once)
{
	uint64_t id;

	start();
	id = to_await(1);
	assert_int_equal(step(ev_confirm(id)), LANE_OK);
	assert_state(LANE_OPEN);
}

TEST(test_late_key_after_timeout_does_not_confirm_next_visitor)
{
	uint64_t first, second;

	start();
	first = to_await(1);
	/* the key arrives just after the timeout, before the timer tick was delivered */
	assert_int_equal(at(now + cfg.attendant_timeout_ms + 10, ev_confirm(first)), LANE_STALE);
	MUST(DECISION(LANE_DECISION_TIMEOUT));
	NONE(ACT(LANE_ACT_GRANT));
	advance(cfg.denied_ms);
	second = to_await(2);
	assert_true(second != first);
	assert_int_equal(step(ev_confirm(first)), LANE_STALE);
	assert_int_equal(at(now + 100, ev_confirm(0)), LANE_STALE);
	NONE(ACT(LANE_ACT_GRANT));
	assert_state(LANE_AWAIT_ATTENDANT);
}

TEST(test_decision_outside_await_is_stale)
{
	start();
	assert_int_equal(step(ev_confirm(0)), LANE_STALE);
	scan(1);
	assert_int_equal(step(ev_confirm(SEED)), LANE_STALE);
	assert_int_equal(step(ev_reject(SEED)), LANE_STALE);
	assert_int_equal(acts.count, 0);
	assert_state(LANE_VERIFYING);
}

/* Manual open */

TEST(test_manual_open_from_idle_grants_manual_and_reports_gate)
{
	uint64_t id;
	int g;

	start();
	assert_int_equal(step(ev_manual(LANE_DIR_B)), LANE_OK);
	g = MUST(ACT(LANE_ACT_GRANT));
	id = acts.a[g].request_id;
	assert_true(id != 0);
	assert_true(acts.a[g].grant.manual);
	assert_int_equal(acts.a[g].grant.dir, LANE_DIR_B);
	assert_true(g < MUST(OUT(LANE_OUT_OPEN_B, 1)));
	assert_state(LANE_OPEN);
	step(ev_pass(LANE_DIR_B, true));
	g = MUST(GATE(LANE_GATE_PASSED));
	assert_int_equal(acts.a[g].request_id, id);
	assert_int_equal(acts.a[g].gate.dir, LANE_DIR_B);
}

TEST(test_manual_open_not_passed_annuls_with_its_id)
{
	uint64_t id;

	start();
	step(ev_manual(LANE_DIR_A));
	id = acts.a[MUST(ACT(LANE_ACT_GRANT))].request_id;
	advance(cfg.pass_window_ms);
	assert_int_equal(acts.a[MUST(GATE(LANE_GATE_NOT_PASSED))].request_id, id);
}

TEST(test_manual_open_from_denied_overrides)
{
	uint64_t denied_id;
	int g;

	start();
	denied_id = to_denied(1);
	assert_int_equal(step(ev_manual(LANE_DIR_A)), LANE_OK);
	g = MUST(ACT(LANE_ACT_GRANT));
	assert_true(acts.a[g].request_id != denied_id);
	assert_true(acts.a[g].grant.manual);
	NONE(ACT(LANE_ACT_ABORT));
	assert_state(LANE_OPEN);
}

TEST(test_manual_open_refused_outside_idle_and_denied)
{
	start();
	scan(1);
	assert_int_equal(step(ev_manual(LANE_DIR_A)), LANE_REFUSED);
	assert_int_equal(acts.count, 0);
	start();
	step(ev_stop(true));
	assert_int_equal(step(ev_manual(LANE_DIR_A)), LANE_REFUSED);
	start();
	step(ev_mode(LANE_MODE_FREE));
	assert_int_equal(step(ev_manual(LANE_DIR_A)), LANE_REFUSED);
	NONE(ACT(LANE_ACT_GRANT));
}

/* Emergency */

static enum lane_state enter_state(enum lane_state s)
{
	switch (s) {
	case LANE_VERIFYING:
		scan(1);
		break;
	case LANE_AWAIT_ATTENDANT:
		to_await(1);
		break;
	case LANE_OPEN:
		to_open(1);
		break;
	case LANE_PASSING:
		to_open(1);
		step(ev_pass(LANE_DIR_A, true));
		break;
	case LANE_DENIED:
		to_denied(1);
		break;
	case LANE_FREE:
		step(ev_mode(LANE_MODE_FREE_B));
		break;
	case LANE_BLOCKED:
		step(ev_stop(true));
		break;
	case LANE_IO_FAULT:
		step(ev_io(true));
		break;
	default:
		break;
	}
	return lane_state(&lane);
}

TEST(test_fire_in_every_state_opens_both_ways)
{
	int s;

	for (s = 0; s < LANE_STATE_COUNT; s++) {
		if (s == LANE_EMERGENCY)
			continue;
		start();
		assert_int_equal(enter_state((enum lane_state)s), s);
		assert_int_equal(step(ev_fire(false)), LANE_OK);
		print_message("  fire in %s\n", lane_state_name((enum lane_state)s));
		assert_state(LANE_EMERGENCY);
		assert_true(lane_output_level(&lane, LANE_OUT_OPEN_A));
		assert_true(lane_output_level(&lane, LANE_OUT_OPEN_B));
		assert_true(lane_output_level(&lane, LANE_OUT_ALARM));
		assert_false(lane_output_level(&lane, LANE_OUT_STOP));
		MUST(LOG(LANE_LOG_FIRE_ALARM));
		assert_null(lane_check(&lane));
		if (s == LANE_VERIFYING || s == LANE_AWAIT_ATTENDANT)
			MUST(ABORT(LANE_ABORT_EMERGENCY));
		else
			NONE(ACT(LANE_ACT_ABORT));
		if (s == LANE_OPEN)
			MUST(GATE(LANE_GATE_NOT_PASSED));
		else
			NONE(ACT(LANE_ACT_GATE));
	}
}

TEST(test_fire_during_pulse_turns_it_into_a_held_level)
{
	int i;

	start();
	to_open(1);
	step(ev_fire(false));
	i = MUST(OUT(LANE_OUT_OPEN_A, 1));
	assert_int_equal(acts.a[i].output.pulse_ms, 0);
	MUST(OUT(LANE_OUT_OPEN_B, 1));
	advance(200);
	NONE(ANY_OUTPUT(LANE_OUT_OPEN_A));
	assert_true(lane_output_level(&lane, LANE_OUT_OPEN_A));
}

TEST(test_emergency_refuses_and_logs_every_command)
{
	static const struct lane_event cmds[] = {
	    {.type = LANE_EV_SCAN, .scan.code_key = 9},
	    {.type = LANE_EV_CONFIRM},
	    {.type = LANE_EV_REJECT},
	    {.type = LANE_EV_MODE, .mode.mode = LANE_MODE_LOCKED},
	    {.type = LANE_EV_MANUAL_OPEN},
	    {.type = LANE_EV_STOP, .stop.active = true},
	};
	size_t i;
	int l;

	start();
	step(ev_fire(false));
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		assert_int_equal(step(cmds[i]), LANE_REFUSED);
		l = MUST(LOG(LANE_LOG_REFUSED));
		assert_int_equal(acts.a[l].log.arg, cmds[i].type);
		assert_int_equal(count(LANE_ACT_OUTPUT), 0);
		assert_state(LANE_EMERGENCY);
	}
	assert_int_equal(lane_mode(&lane), LANE_MODE_NORMAL);
}

TEST(test_fire_repeated_level_is_a_no_op)
{
	start();
	assert_int_equal(step(ev_fire(true)), LANE_OK);
	assert_int_equal(acts.count, 0);
	step(ev_fire(false));
	assert_int_equal(step(ev_fire(false)), LANE_OK);
	assert_int_equal(acts.count, 0);
}

TEST(test_fire_cleared_closes_and_returns_to_idle)
{
	start();
	scan(1);
	step(ev_fire(false));
	advance(1000);
	assert_int_equal(step(ev_fire(true)), LANE_OK);
	MUST(LOG(LANE_LOG_FIRE_CLEARED));
	MUST(OUT(LANE_OUT_OPEN_A, 0));
	MUST(OUT(LANE_OUT_OPEN_B, 0));
	MUST(OUT(LANE_OUT_ALARM, 0));
	assert_state(LANE_IDLE);
	assert_no_output_at_one();
	assert_true(lane_next_deadline(&lane) == LANE_NEVER);
}

TEST(test_emergency_buzzer_stops_after_its_time)
{
	start();
	step(ev_fire(false));
	MUST(OUT(LANE_OUT_BUZZER, 1));
	MUST(OUT(LANE_OUT_LED_RED, 1));
	advance(5000);
	assert_false(lane_output_level(&lane, LANE_OUT_BUZZER));
	advance(250);
	NONE(ANY_OUTPUT(LANE_OUT_BUZZER));
	MUST(ANY_OUTPUT(LANE_OUT_LED_RED));
	assert_true(lane_next_deadline(&lane) == now + 250);
}

TEST(test_stop_pressed_during_fire_leaves_lane_blocked_after)
{
	start();
	step(ev_fire(false));
	assert_int_equal(step(ev_stop(true)), LANE_REFUSED);
	step(ev_fire(true));
	assert_state(LANE_BLOCKED);
	assert_true(lane_output_level(&lane, LANE_OUT_STOP));
	assert_false(lane_output_level(&lane, LANE_OUT_OPEN_A));
}

/* Stop, IO fault, priority */

TEST(test_stop_aborts_check_and_blocks)
{
	uint64_t id;
	int s;

	start();
	id = to_await(1);
	assert_int_equal(step(ev_stop(true)), LANE_OK);
	assert_int_equal(acts.a[MUST(ABORT(LANE_ABORT_STOP))].request_id, id);
	s = MUST(OUT(LANE_OUT_STOP, 1));
	assert_true(s < MUST(LOG(LANE_LOG_STOP)));
	assert_state(LANE_BLOCKED);
	MUST(OUT(LANE_OUT_LED_RED, 1));
	assert_int_equal(step(ev_stop(true)), LANE_OK);
	assert_int_equal(acts.count, 0);
	assert_int_equal(step(ev_scan(3)), LANE_REFUSED);
	assert_int_equal(acts.count, 0);
	assert_int_equal(step(ev_stop(false)), LANE_OK);
	MUST(OUT(LANE_OUT_STOP, 0));
	MUST(LOG(LANE_LOG_STOP_CLEARED));
	assert_state(LANE_IDLE);
}

TEST(test_stop_while_open_closes_and_annuls)
{
	lane_config_defaults(&cfg);
	cfg.control = LANE_CONTROL_POTENTIAL;
	start_with(&cfg);
	to_open(1);
	step(ev_stop(true));
	MUST(OUT(LANE_OUT_OPEN_A, 0));
	MUST(GATE(LANE_GATE_NOT_PASSED));
	NONE(ACT(LANE_ACT_ABORT));
	assert_state(LANE_BLOCKED);
}

TEST(test_stop_outranks_io_fault)
{
	start();
	step(ev_stop(true));
	step(ev_io(true));
	assert_state(LANE_BLOCKED);
	assert_true(lane_output_level(&lane, LANE_OUT_STOP));
	assert_int_equal(count(LANE_ACT_OUTPUT), 0);
	step(ev_stop(false));
	assert_state(LANE_IO_FAULT);
	assert_false(lane_output_level(&lane, LANE_OUT_STOP));
	step(ev_io(false));
	MUST(LOG(LANE_LOG_IO_RECOVERED));
	assert_state(LANE_IDLE);
}

TEST(test_io_fault_outranks_free)
{
	start();
	step(ev_mode(LANE_MODE_FREE));
	assert_true(lane_output_level(&lane, LANE_OUT_OPEN_A));
	assert_true(lane_output_level(&lane, LANE_OUT_OPEN_B));
	step(ev_io(true));
	MUST(LOG(LANE_LOG_IO_FAULT));
	MUST(OUT(LANE_OUT_OPEN_A, 0));
	MUST(OUT(LANE_OUT_OPEN_B, 0));
	assert_state(LANE_IO_FAULT);
	assert_true(lane_next_deadline(&lane) == now + 1000);
	step(ev_io(false));
	assert_state(LANE_FREE);
	MUST(OUT(LANE_OUT_OPEN_A, 1));
	MUST(OUT(LANE_OUT_OPEN_B, 1));
}

TEST(test_io_fault_aborts_verification)
{
	uint64_t id;

	start();
	id = scan(1);
	step(ev_io(true));
	assert_int_equal(acts.a[MUST(ABORT(LANE_ABORT_IO_FAULT))].request_id, id);
	assert_state(LANE_IO_FAULT);
	assert_int_equal(step(ev_result(id, LANE_VERDICT_VALID, false)), LANE_STALE);
	NONE(ACT(LANE_ACT_GRANT));
}

TEST(test_stop_outranks_free_and_fire_outranks_stop)
{
	start();
	step(ev_mode(LANE_MODE_FREE_A));
	step(ev_stop(true));
	assert_state(LANE_BLOCKED);
	assert_false(lane_output_level(&lane, LANE_OUT_OPEN_A));
	step(ev_fire(false));
	assert_state(LANE_EMERGENCY);
	assert_false(lane_output_level(&lane, LANE_OUT_STOP));
	assert_true(lane_output_level(&lane, LANE_OUT_OPEN_B));
}

/* Modes */

TEST(test_mode_free_applies_at_once_and_holds_both_open)
{
	int i;

	start();
	assert_int_equal(step(ev_mode(LANE_MODE_FREE)), LANE_OK);
	i = MUST(LOG(LANE_LOG_MODE_CHANGED));
	assert_int_equal(acts.a[i].log.arg, LANE_MODE_FREE);
	assert_int_equal(acts.a[MUST(OUT(LANE_OUT_OPEN_A, 1))].output.pulse_ms, 0);
	MUST(OUT(LANE_OUT_OPEN_B, 1));
	MUST(OUT(LANE_OUT_LED_GREEN, 1));
	assert_state(LANE_FREE);
	assert_true(lane_next_deadline(&lane) == LANE_NEVER);
	step(ev_pass(LANE_DIR_B, true));
	MUST(LOG(LANE_LOG_FREE_PASS));
	assert_int_equal(step(ev_scan(1)), LANE_REFUSED);
	assert_int_equal(acts.count, 0);
	assert_int_equal(step(ev_mode(LANE_MODE_NORMAL)), LANE_OK);
	MUST(OUT(LANE_OUT_OPEN_A, 0));
	MUST(OUT(LANE_OUT_OPEN_B, 0));
	assert_state(LANE_IDLE);
}

TEST(test_mode_free_a_opens_only_a)
{
	start();
	step(ev_mode(LANE_MODE_FREE_A));
	MUST(OUT(LANE_OUT_OPEN_A, 1));
	NONE(ANY_OUTPUT(LANE_OUT_OPEN_B));
	step(ev_pass(LANE_DIR_A, true));
	MUST(LOG(LANE_LOG_FREE_PASS));
	step(ev_pass(LANE_DIR_B, true));
	MUST(LOG(LANE_LOG_UNEXPECTED_PASS));
	step(ev_mode(LANE_MODE_FREE_B));
	MUST(OUT(LANE_OUT_OPEN_A, 0));
	MUST(OUT(LANE_OUT_OPEN_B, 1));
}

TEST(test_mode_locked_blocks_with_stop_output)
{
	start();
	assert_int_equal(step(ev_mode(LANE_MODE_LOCKED)), LANE_OK);
	MUST(OUT(LANE_OUT_STOP, 1));
	assert_state(LANE_BLOCKED);
	assert_int_equal(step(ev_scan(1)), LANE_REFUSED);
	assert_int_equal(step(ev_mode(LANE_MODE_NORMAL)), LANE_OK);
	MUST(OUT(LANE_OUT_STOP, 0));
	assert_state(LANE_IDLE);
}

TEST(test_mode_change_during_check_waits_for_idle)
{
	int i;

	start();
	to_open(1);
	assert_int_equal(step(ev_mode(LANE_MODE_LOCKED)), LANE_DEFERRED);
	i = MUST(LOG(LANE_LOG_MODE_DEFERRED));
	assert_int_equal(acts.a[i].log.arg, LANE_MODE_LOCKED);
	NONE(ACT(LANE_ACT_OUTPUT));
	assert_int_equal(lane_mode(&lane), LANE_MODE_NORMAL);
	assert_int_equal(lane_pending_mode(&lane), LANE_MODE_LOCKED);
	assert_state(LANE_OPEN);
	step(ev_pass(LANE_DIR_A, true));
	assert_state(LANE_PASSING);
	step(ev_pass(LANE_DIR_A, false));
	i = MUST(LOG(LANE_LOG_MODE_CHANGED));
	assert_int_equal(acts.a[i].log.arg, LANE_MODE_LOCKED);
	MUST(OUT(LANE_OUT_STOP, 1));
	assert_int_equal(lane_mode(&lane), LANE_MODE_LOCKED);
	assert_int_equal(lane_pending_mode(&lane), LANE_MODE_LOCKED);
	assert_state(LANE_BLOCKED);
}

TEST(test_mode_change_during_denied_applies_when_denied_ends)
{
	start();
	to_denied(1);
	assert_int_equal(step(ev_mode(LANE_MODE_FREE)), LANE_DEFERRED);
	advance(cfg.denied_ms);
	MUST(LOG(LANE_LOG_MODE_CHANGED));
	assert_state(LANE_FREE);
	assert_true(lane_output_level(&lane, LANE_OUT_OPEN_A));
}

TEST(test_mode_same_as_current_is_a_no_op)
{
	start();
	assert_int_equal(step(ev_mode(LANE_MODE_NORMAL)), LANE_OK);
	assert_int_equal(acts.count, 0);
}

TEST(test_refusals_outside_emergency_are_not_logged)
{
	start();
	step(ev_io(true));
	assert_int_equal(step(ev_scan(1)), LANE_REFUSED);
	assert_int_equal(acts.count, 0);
	assert_int_equal(step(ev_manual(LANE_DIR_A)), LANE_REFUSED);
	assert_int_equal(acts.count, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_init_sets_every_output_to_zero_and_none_to_one),
	    cmocka_unit_test(test_idle_schedules_no_wakeup),
	    cmocka_unit_test(test_idle_after_full_cycle_schedules_no_wakeup),
	    cmocka_unit_test(test_config_defaults_are_valid),
	    cmocka_unit_test(test_config_validate_rejects_out_of_range),
	    cmocka_unit_test(test_names_match_the_documented_spelling),
	    cmocka_unit_test(test_scan_in_idle_starts_verify_with_seeded_id),
	    cmocka_unit_test(test_request_id_is_never_zero),
	    cmocka_unit_test(test_same_code_within_duplicate_window_is_one_scan),
	    cmocka_unit_test(test_same_code_after_duplicate_window_is_a_new_scan),
	    cmocka_unit_test(test_scan_while_check_in_flight_is_busy),
	    cmocka_unit_test(test_result_for_other_request_is_stale),
	    cmocka_unit_test(test_every_negative_verdict_denies),
	    cmocka_unit_test(test_denied_shows_then_returns_idle_and_clears_check),
	    cmocka_unit_test(test_verify_timeout_denies_as_unavailable),
	    cmocka_unit_test(test_result_arriving_after_timeout_without_tick_is_stale),
	    cmocka_unit_test(test_null_result_never_grants),
	    cmocka_unit_test(test_valid_result_journals_grant_before_opening),
	    cmocka_unit_test(test_scan_dir_b_opens_b),
	    cmocka_unit_test(test_pulse_mode_pulses_then_drops_after_pulse_ms),
	    cmocka_unit_test(test_pulse_mode_pass_lets_pulse_run_to_its_end),
	    cmocka_unit_test(test_potential_mode_holds_until_pass_starts),
	    cmocka_unit_test(test_potential_mode_drops_and_annuls_when_window_ends),
	    cmocka_unit_test(test_no_pass_in_window_annuls_in_pulse_mode),
	    cmocka_unit_test(test_passing_ends_after_passing_max_with_sensor_stuck),
	    cmocka_unit_test(test_pass_in_wrong_direction_is_unexpected),
	    cmocka_unit_test(test_pass_without_grant_is_unexpected),
	    cmocka_unit_test(test_grant_failed_closes_and_denies),
	    cmocka_unit_test(test_grant_failed_after_confirm_resends_every_level),
	    cmocka_unit_test(test_attendant_required_waits_and_confirm_grants),
	    cmocka_unit_test(test_attendant_reject_denies),
	    cmocka_unit_test(test_attendant_timeout_denies_with_timeout_decision),
	    cmocka_unit_test(test_await_attendant_blinks_yellow),
	    cmocka_unit_test(test_decision_with_other_request_id_is_stale),
	    cmocka_unit_test(test_key_without_id_too_soon_is_ignored),
	    cmocka_unit_test(test_key_with_id_is_accepted_at_once),
	    cmocka_unit_test(test_key_time_binds_it_to_the_check_shown_then),
	    cmocka_unit_test(test_key_time_in_the_future_counts_as_now),
	    cmocka_unit_test(test_late_key_after_timeout_does_not_confirm_next_visitor),
	    cmocka_unit_test(test_decision_outside_await_is_stale),
	    cmocka_unit_test(test_manual_open_from_idle_grants_manual_and_reports_gate),
	    cmocka_unit_test(test_manual_open_not_passed_annuls_with_its_id),
	    cmocka_unit_test(test_manual_open_from_denied_overrides),
	    cmocka_unit_test(test_manual_open_refused_outside_idle_and_denied),
	    cmocka_unit_test(test_fire_in_every_state_opens_both_ways),
	    cmocka_unit_test(test_fire_during_pulse_turns_it_into_a_held_level),
	    cmocka_unit_test(test_emergency_refuses_and_logs_every_command),
	    cmocka_unit_test(test_fire_repeated_level_is_a_no_op),
	    cmocka_unit_test(test_fire_cleared_closes_and_returns_to_idle),
	    cmocka_unit_test(test_emergency_buzzer_stops_after_its_time),
	    cmocka_unit_test(test_stop_pressed_during_fire_leaves_lane_blocked_after),
	    cmocka_unit_test(test_stop_aborts_check_and_blocks),
	    cmocka_unit_test(test_stop_while_open_closes_and_annuls),
	    cmocka_unit_test(test_stop_outranks_io_fault),
	    cmocka_unit_test(test_io_fault_outranks_free),
	    cmocka_unit_test(test_io_fault_aborts_verification),
	    cmocka_unit_test(test_stop_outranks_free_and_fire_outranks_stop),
	    cmocka_unit_test(test_mode_free_applies_at_once_and_holds_both_open),
	    cmocka_unit_test(test_mode_free_a_opens_only_a),
	    cmocka_unit_test(test_mode_locked_blocks_with_stop_output),
	    cmocka_unit_test(test_mode_change_during_check_waits_for_idle),
	    cmocka_unit_test(test_mode_change_during_denied_applies_when_denied_ends),
	    cmocka_unit_test(test_mode_same_as_current_is_a_no_op),
	    cmocka_unit_test(test_refusals_outside_emergency_are_not_logged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
