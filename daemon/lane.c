/* lane.c: the turnstile cycle of one lane (see lane.h and design.md, "The lane state machine").
 *
 * Shape: lane_step() first expires whatever is due at `now` (pulse ends, the state's timeout,
 * indication blinks), then applies the event. So an event that arrives after a deadline but
 * before the caller's timer fired is judged in the state the deadline left: a key pressed after
 * the attendant timeout finds the lane denied, never confirming anything.
 *
 * The state a lane rests in when no check is in flight follows only from the flags (fire loop,
 * stop, mode, IO fault): lane_base_state() computes it and lane_settle() enters it whenever a
 * cycle ends or a flag changes. lane_enter() is the one place that drives the outputs a state
 * owns (open outputs of the rest states, stop, alarm, indication); the cycle states drive the
 * open outputs themselves (grant, pass start, annul).
 *
 * Ordering of actions: a grant is journaled before the gate moves (audit before act); every
 * other safety action (opening for a fire, closing for a stop) goes out before its log entry so
 * a slow journal never delays it. Outputs are emitted only when their level changes.
 */
#include "lane.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

/* One name a line reads better than what the formatter would pack. */
/* clang-format off */
static const char *const lane_state_names[LANE_STATE_COUNT] = {
	[LANE_IDLE] = "idle",
	[LANE_VERIFYING] = "verifying",
	[LANE_AWAIT_ATTENDANT] = "await_attendant",
	[LANE_OPEN] = "open",
	[LANE_PASSING] = "passing",
	[LANE_DENIED] = "denied",
	[LANE_FREE] = "free",
	[LANE_BLOCKED] = "blocked",
	[LANE_EMERGENCY] = "emergency",
	[LANE_IO_FAULT] = "io_fault",
};

static const char *const lane_mode_names[LANE_MODE_COUNT] = {
	[LANE_MODE_NORMAL] = "normal",
	[LANE_MODE_FREE] = "free",
	[LANE_MODE_FREE_A] = "free-a",
	[LANE_MODE_FREE_B] = "free-b",
	[LANE_MODE_LOCKED] = "locked",
};

static const char *const lane_verdict_names[LANE_VERDICT_COUNT] = {
	[LANE_VERDICT_VALID] = "valid",
	[LANE_VERDICT_INVALID] = "invalid",
	[LANE_VERDICT_EXPIRED] = "expired",
	[LANE_VERDICT_NOT_FOUND] = "not_found",
	[LANE_VERDICT_CANCELLED] = "cancelled",
	[LANE_VERDICT_UNAVAILABLE] = "unavailable",
	[LANE_VERDICT_FORGED] = "forged",
	[LANE_VERDICT_UNKNOWN] = "unknown",
	[LANE_VERDICT_USED] = "used",
};

static const char *const lane_output_names[LANE_OUT_COUNT] = {
	[LANE_OUT_OPEN_A] = "open_a",
	[LANE_OUT_OPEN_B] = "open_b",
	[LANE_OUT_STOP] = "stop",
	[LANE_OUT_LED_GREEN] = "led_green",
	[LANE_OUT_LED_RED] = "led_red",
	[LANE_OUT_LED_YELLOW] = "led_yellow",
	[LANE_OUT_BUZZER] = "buzzer",
	[LANE_OUT_ALARM] = "alarm",
};

static const char *const lane_decision_names[] = {
	[LANE_DECISION_CONFIRMED] = "confirmed",
	[LANE_DECISION_REJECTED] = "rejected",
	[LANE_DECISION_TIMEOUT] = "timeout",
	[LANE_DECISION_NOT_REQUIRED] = "not_required",
};

static const char *const lane_abort_names[] = {
	[LANE_ABORT_DENIED] = "denied",
	[LANE_ABORT_REJECTED] = "rejected",
	[LANE_ABORT_EMERGENCY] = "emergency",
	[LANE_ABORT_STOP] = "stop",
	[LANE_ABORT_IO_FAULT] = "io_fault",
	[LANE_ABORT_JOURNAL] = "journal",
	[LANE_ABORT_VERIFY_TIMEOUT] = "verify_timeout",
};

static const char *const lane_log_names[LANE_LOG_COUNT] = {
	[LANE_LOG_MODE_CHANGED] = "mode_change",
	[LANE_LOG_MODE_DEFERRED] = "mode_deferred",
	[LANE_LOG_FIRE_ALARM] = "fire_alarm",
	[LANE_LOG_FIRE_CLEARED] = "fire_cleared",
	[LANE_LOG_STOP] = "stop",
	[LANE_LOG_STOP_CLEARED] = "stop_cleared",
	[LANE_LOG_IO_FAULT] = "io_fault",
	[LANE_LOG_IO_RECOVERED] = "io_recovered",
	[LANE_LOG_REFUSED] = "refused",
	[LANE_LOG_UNEXPECTED_PASS] = "unexpected_pass",
	[LANE_LOG_FREE_PASS] = "free_pass",
};

/* The indicator outputs, in enum lane_indicator order. */
static const enum lane_output lane_ind_output[LANE_IND_COUNT] = {
	[LANE_IND_GREEN] = LANE_OUT_LED_GREEN,
	[LANE_IND_RED] = LANE_OUT_LED_RED,
	[LANE_IND_YELLOW] = LANE_OUT_LED_YELLOW,
	[LANE_IND_BUZZER] = LANE_OUT_BUZZER,
};
/* clang-format on */

#define LANE_NAME(table, i)                                                                        \
	((size_t)(i) < sizeof(table) / sizeof((table)[0]) && (table)[i] ? (table)[i] : "?")

/* Configuration */

static void lane_pattern_set(struct lane_pattern *p, uint32_t on_ms, uint32_t off_ms,
			     uint32_t for_ms)
{
	p->on_ms = on_ms;
	p->off_ms = off_ms;
	p->for_ms = for_ms;
}

void lane_config_defaults(struct lane_config *cfg)
{
	struct lane_indication *ind = cfg->indication;

	memset(cfg, 0, sizeof(*cfg));
	cfg->control = LANE_CONTROL_PULSE;
	cfg->pulse_ms = 200;
	cfg->pass_window_ms = 8000;
	cfg->passing_max_ms = 3000;
	cfg->attendant_timeout_ms = 20000;
	cfg->attendant_min_ms = 300;
	cfg->denied_ms = 3000;
	cfg->duplicate_ms = 3000;
	cfg->verify_timeout_ms = 10000;
	cfg->scan_dir = LANE_DIR_A;

	/* idle stays all off: a resting lane schedules no wake-ups. */
	lane_pattern_set(&ind[LANE_VERIFYING].ind[LANE_IND_YELLOW], 1, 0, 0);
	lane_pattern_set(&ind[LANE_AWAIT_ATTENDANT].ind[LANE_IND_YELLOW], 500, 500, 0);
	lane_pattern_set(&ind[LANE_OPEN].ind[LANE_IND_GREEN], 1, 0, 0);
	lane_pattern_set(&ind[LANE_PASSING].ind[LANE_IND_GREEN], 1, 0, 0);
	lane_pattern_set(&ind[LANE_DENIED].ind[LANE_IND_RED], 1, 0, 0);
	lane_pattern_set(&ind[LANE_DENIED].ind[LANE_IND_BUZZER], 1, 0, 300);
	lane_pattern_set(&ind[LANE_FREE].ind[LANE_IND_GREEN], 1, 0, 0);
	lane_pattern_set(&ind[LANE_BLOCKED].ind[LANE_IND_RED], 1, 0, 0);
	lane_pattern_set(&ind[LANE_EMERGENCY].ind[LANE_IND_RED], 250, 250, 0);
	lane_pattern_set(&ind[LANE_EMERGENCY].ind[LANE_IND_BUZZER], 250, 250, 5000);
	lane_pattern_set(&ind[LANE_IO_FAULT].ind[LANE_IND_RED], 1000, 1000, 0);
	lane_pattern_set(&ind[LANE_IO_FAULT].ind[LANE_IND_YELLOW], 1000, 1000, 0);
}

#define LANE_PATTERN_MAX_MS 3600000u
#define LANE_BLINK_MIN_MS 50u

static int lane_invalid(const char **why, const char *msg)
{
	if (why)
		*why = msg;
	return -EINVAL;
}

static bool lane_in(uint32_t v, uint32_t lo, uint32_t hi)
{
	return v >= lo && v <= hi;
}

int lane_config_validate(const struct lane_config *cfg, const char **why)
{
	int s, i;

	if (cfg->control != LANE_CONTROL_PULSE && cfg->control != LANE_CONTROL_POTENTIAL)
		return lane_invalid(why, "control must be pulse or potential");
	if (!lane_in(cfg->pulse_ms, 100, 500))
		return lane_invalid(why, "pulse_ms must be 100..500");
	if (!lane_in(cfg->pass_window_ms, 1000, 120000))
		return lane_invalid(why, "pass_window_ms must be 1000..120000");
	if (!lane_in(cfg->passing_max_ms, 500, 60000))
		return lane_invalid(why, "passing_max_ms must be 500..60000");
	if (!lane_in(cfg->attendant_timeout_ms, 1000, 600000))
		return lane_invalid(why, "attendant_timeout_ms must be 1000..600000");
	if (!lane_in(cfg->attendant_min_ms, 0, 5000) ||
	    cfg->attendant_min_ms >= cfg->attendant_timeout_ms)
		return lane_invalid(why, "attendant_min_ms must be 0..5000 and below the timeout");
	if (!lane_in(cfg->denied_ms, 500, 60000))
		return lane_invalid(why, "denied_ms must be 500..60000");
	/* 0 turns duplicate suppression off. */
	if (!lane_in(cfg->duplicate_ms, 0, 60000))
		return lane_invalid(why, "duplicate_ms must be 0..60000");
	if (!lane_in(cfg->verify_timeout_ms, 1000, 120000))
		return lane_invalid(why, "verify_timeout_ms must be 1000..120000");
	if (cfg->scan_dir != LANE_DIR_A && cfg->scan_dir != LANE_DIR_B)
		return lane_invalid(why, "scan_dir must be a or b");
	for (s = 0; s < LANE_STATE_COUNT; s++) {
		for (i = 0; i < LANE_IND_COUNT; i++) {
			const struct lane_pattern *p = &cfg->indication[s].ind[i];

			if (p->on_ms > LANE_PATTERN_MAX_MS || p->off_ms > LANE_PATTERN_MAX_MS ||
			    p->for_ms > LANE_PATTERN_MAX_MS)
				return lane_invalid(why,
						    "indication times must be at most 3600000");
			/* A fast blink would keep the event loop busy for nothing. */
			if (p->off_ms &&
			    (p->on_ms < LANE_BLINK_MIN_MS || p->off_ms < LANE_BLINK_MIN_MS))
				return lane_invalid(why,
						    "indication blink times must be at least 50");
		}
	}
	return 0;
}

/* Actions */

static struct lane_action *lane_push(struct lane_actions *out, enum lane_action_type type,
				     uint64_t request_id)
{
	struct lane_action *a;

	/* One step emits at most a few dozen actions; LANE_ACTIONS_MAX is sized for it. */
	assert(out->count < LANE_ACTIONS_MAX);
	a = &out->a[out->count++];
	memset(a, 0, sizeof(*a));
	a->type = type;
	a->request_id = request_id;
	return a;
}

static void lane_push_output(struct lane_actions *out, enum lane_output o, bool level,
			     uint32_t pulse_ms)
{
	struct lane_action *a = lane_push(out, LANE_ACT_OUTPUT, 0);

	a->output.output = o;
	a->output.level = level;
	a->output.pulse_ms = pulse_ms;
}

static void lane_log(struct lane_actions *out, enum lane_log kind, int arg)
{
	struct lane_action *a = lane_push(out, LANE_ACT_LOG, 0);

	a->log.kind = kind;
	a->log.arg = arg;
}

static void lane_abort(struct lane *lane, enum lane_abort why, struct lane_actions *out)
{
	lane_push(out, LANE_ACT_ABORT, lane->check.request_id)->abort.why = why;
}

static void lane_decision(struct lane *lane, enum lane_decision d, struct lane_actions *out)
{
	lane_push(out, LANE_ACT_DECISION, lane->check.request_id)->decision.decision = d;
}

static void lane_gate(struct lane *lane, enum lane_gate gate, struct lane_actions *out)
{
	struct lane_action *a = lane_push(out, LANE_ACT_GATE, lane->check.request_id);

	a->gate.gate = gate;
	a->gate.dir = lane->open_dir;
}

/* Outputs */

/* Drives o to a held level. A running pulse that must become a held 1 is re-sent although the
 * level does not change: a board-timed pulse would otherwise end on its own. */
static void lane_drive(struct lane *lane, enum lane_output o, bool level, struct lane_actions *out)
{
	bool pulsing = lane->pulse_end[o] != LANE_NEVER;

	lane->pulse_end[o] = LANE_NEVER;
	if (lane->out[o] == level && !pulsing)
		return;
	lane->out[o] = level;
	lane_push_output(out, o, level, 0);
}

/* Drops o unless a pulse runs: a pulse that was started is left to end by itself. */
static void lane_release(struct lane *lane, enum lane_output o, struct lane_actions *out)
{
	if (lane->pulse_end[o] == LANE_NEVER)
		lane_drive(lane, o, false, out);
}

static enum lane_output lane_open_output(enum lane_dir dir)
{
	return dir == LANE_DIR_B ? LANE_OUT_OPEN_B : LANE_OUT_OPEN_A;
}

/* Indication */

static bool lane_pattern_level(const struct lane_pattern *p, lane_ms_t elapsed)
{
	if (!p->on_ms || (p->for_ms && elapsed >= p->for_ms))
		return false;
	if (!p->off_ms)
		return true;
	return elapsed % ((lane_ms_t)p->on_ms + p->off_ms) < p->on_ms;
}

/* The time after since + elapsed at which the pattern's level changes next. */
static lane_ms_t lane_pattern_next(const struct lane_pattern *p, lane_ms_t since, lane_ms_t elapsed)
{
	lane_ms_t period, phase, next = LANE_NEVER;

	if (!p->on_ms || (p->for_ms && elapsed >= p->for_ms))
		return LANE_NEVER;
	if (p->off_ms) {
		period = (lane_ms_t)p->on_ms + p->off_ms;
		phase = elapsed % period;
		next = since + elapsed - phase + (phase < p->on_ms ? p->on_ms : period);
	}
	if (p->for_ms && since + p->for_ms < next)
		next = since + p->for_ms;
	return next;
}

static void lane_indicate(struct lane *lane, lane_ms_t now, struct lane_actions *out)
{
	const struct lane_indication *ind = &lane->cfg.indication[lane->state];
	lane_ms_t elapsed = now - lane->ind_since;
	int i;

	for (i = 0; i < LANE_IND_COUNT; i++) {
		lane_drive(lane, lane_ind_output[i], lane_pattern_level(&ind->ind[i], elapsed),
			   out);
		lane->ind_next[i] = lane_pattern_next(&ind->ind[i], lane->ind_since, elapsed);
	}
}

/* States */

static enum lane_state lane_base_state(const struct lane *lane)
{
	if (lane->fire_open)
		return LANE_EMERGENCY;
	if (lane->stop_active || lane->mode == LANE_MODE_LOCKED)
		return LANE_BLOCKED;
	if (lane->io_fault)
		return LANE_IO_FAULT;
	if (lane->mode != LANE_MODE_NORMAL)
		return LANE_FREE;
	return LANE_IDLE;
}

static void lane_enter(struct lane *lane, enum lane_state st, lane_ms_t now,
		       struct lane_actions *out)
{
	bool free_a = lane->mode == LANE_MODE_FREE || lane->mode == LANE_MODE_FREE_A;
	bool free_b = lane->mode == LANE_MODE_FREE || lane->mode == LANE_MODE_FREE_B;

	switch (st) {
	case LANE_EMERGENCY:
		lane_drive(lane, LANE_OUT_OPEN_A, true, out);
		lane_drive(lane, LANE_OUT_OPEN_B, true, out);
		break;
	case LANE_FREE:
		lane_drive(lane, LANE_OUT_OPEN_A, free_a, out);
		lane_drive(lane, LANE_OUT_OPEN_B, free_b, out);
		break;
	case LANE_BLOCKED:
	case LANE_IO_FAULT:
		lane_drive(lane, LANE_OUT_OPEN_A, false, out);
		lane_drive(lane, LANE_OUT_OPEN_B, false, out);
		break;
	case LANE_IDLE:
		lane_release(lane, LANE_OUT_OPEN_A, out);
		lane_release(lane, LANE_OUT_OPEN_B, out);
		break;
	default:
		/* The cycle states drive the open outputs themselves. */
		break;
	}
	lane_drive(lane, LANE_OUT_STOP, st == LANE_BLOCKED, out);
	lane_drive(lane, LANE_OUT_ALARM, st == LANE_EMERGENCY, out);
	if (st != lane->state) {
		lane->state = st;
		lane->state_since = now;
		lane->ind_since = now;
	}
	lane_indicate(lane, now, out);
}

/* The check (if any) is over: apply a deferred mode and rest in the state the flags say. */
static void lane_settle(struct lane *lane, lane_ms_t now, struct lane_actions *out)
{
	bool mode_changed = lane->mode_pending;

	lane->have_check = false;
	if (lane->mode_pending) {
		lane->mode = lane->pending_mode;
		lane->mode_pending = false;
	}
	lane_enter(lane, lane_base_state(lane), now, out);
	if (mode_changed)
		lane_log(out, LANE_LOG_MODE_CHANGED, (int)lane->mode);
}

/* A fire, stop or IO fault cuts the check short. An open gate nobody passed is annulled (its
 * grant was journaled, so it needs a gate result); after a pass or a denial the check already
 * has its ending. */
static void lane_cut_check(struct lane *lane, enum lane_abort why, struct lane_actions *out)
{
	if (!lane->have_check)
		return;
	if (lane->state == LANE_OPEN)
		lane_gate(lane, LANE_GATE_NOT_PASSED, out);
	else if (lane->state == LANE_VERIFYING || lane->state == LANE_AWAIT_ATTENDANT)
		lane_abort(lane, why, out);
	lane->have_check = false;
}

static uint64_t lane_new_request_id(struct lane *lane)
{
	/* 0 means "the pending one" in attendant decisions, so it is never handed out. */
	if (lane->next_request_id == 0)
		lane->next_request_id = 1;
	return lane->next_request_id++;
}

static void lane_new_check(struct lane *lane, uint64_t code_key, lane_ms_t now)
{
	memset(&lane->check, 0, sizeof(lane->check));
	lane->check.request_id = lane_new_request_id(lane);
	lane->check.code_key = code_key;
	lane->check.started = now;
	lane->have_check = true;
}

/* Audit before act: the grant goes into the list before the output that opens the gate. */
static void lane_grant(struct lane *lane, enum lane_dir dir, bool manual, lane_ms_t now,
		       struct lane_actions *out)
{
	struct lane_action *a = lane_push(out, LANE_ACT_GRANT, lane->check.request_id);
	enum lane_output o = lane_open_output(dir);

	a->grant.dir = dir;
	a->grant.manual = manual;
	lane->open_dir = dir;
	lane->open_manual = manual;
	if (lane->cfg.control == LANE_CONTROL_PULSE) {
		lane->out[o] = true;
		lane->pulse_end[o] = now + lane->cfg.pulse_ms;
		lane_push_output(out, o, true, lane->cfg.pulse_ms);
	} else {
		lane_drive(lane, o, true, out);
	}
	lane_enter(lane, LANE_OPEN, now, out);
}

static void lane_deny(struct lane *lane, enum lane_abort why, lane_ms_t now,
		      struct lane_actions *out)
{
	lane_abort(lane, why, out);
	lane_enter(lane, LANE_DENIED, now, out);
}

static lane_ms_t lane_state_deadline(const struct lane *lane)
{
	switch (lane->state) {
	case LANE_VERIFYING:
		return lane->check.started + lane->cfg.verify_timeout_ms;
	case LANE_AWAIT_ATTENDANT:
		return lane->check.presented + lane->cfg.attendant_timeout_ms;
	case LANE_OPEN:
		return lane->state_since + lane->cfg.pass_window_ms;
	case LANE_PASSING:
		return lane->state_since + lane->cfg.passing_max_ms;
	case LANE_DENIED:
		return lane->state_since + lane->cfg.denied_ms;
	default:
		return LANE_NEVER;
	}
}

static void lane_timeout(struct lane *lane, lane_ms_t now, struct lane_actions *out)
{
	switch (lane->state) {
	case LANE_VERIFYING:
		/* Rule 4: no answer is an unavailable verifier, never a grant. */
		memset(&lane->check.result, 0, sizeof(lane->check.result));
		lane->check.result.verdict = LANE_VERDICT_UNAVAILABLE;
		lane->check.have_result = true;
		lane_deny(lane, LANE_ABORT_VERIFY_TIMEOUT, now, out);
		break;
	case LANE_AWAIT_ATTENDANT:
		lane_decision(lane, LANE_DECISION_TIMEOUT, out);
		lane_deny(lane, LANE_ABORT_REJECTED, now, out);
		break;
	case LANE_OPEN:
		/* Rule 6: nobody passed, the use is annulled and the gate relocks. */
		lane_drive(lane, lane_open_output(lane->open_dir), false, out);
		lane_gate(lane, LANE_GATE_NOT_PASSED, out);
		lane_settle(lane, now, out);
		break;
	default:
		/* passing held too long, or denied shown long enough */
		lane_settle(lane, now, out);
		break;
	}
}

static void lane_expire(struct lane *lane, lane_ms_t now, struct lane_actions *out)
{
	int o;

	for (o = 0; o < LANE_OUT_COUNT; o++) {
		if (lane->pulse_end[o] != LANE_NEVER && lane->pulse_end[o] <= now) {
			lane->pulse_end[o] = LANE_NEVER;
			lane->out[o] = false;
			lane_push_output(out, (enum lane_output)o, false, 0);
		}
	}
	if (lane_state_deadline(lane) <= now)
		lane_timeout(lane, now, out);
	lane_indicate(lane, now, out);
}

/* Events */

static enum lane_result lane_refuse(const struct lane *lane, const struct lane_event *ev,
				    struct lane_actions *out)
{
	/* Rule 1: while the fire loop is open, refused commands are journaled. */
	if (lane->state == LANE_EMERGENCY)
		lane_log(out, LANE_LOG_REFUSED, (int)ev->type);
	return LANE_REFUSED;
}

static bool lane_cycle_state(enum lane_state st)
{
	return st == LANE_VERIFYING || st == LANE_AWAIT_ATTENDANT || st == LANE_OPEN ||
	       st == LANE_PASSING || st == LANE_DENIED;
}

static enum lane_result lane_on_scan(struct lane *lane, const struct lane_event *ev, lane_ms_t now,
				     struct lane_actions *out)
{
	uint64_t key = ev->scan.code_key;

	if (lane_cycle_state(lane->state))
		return LANE_BUSY;
	if (lane->state != LANE_IDLE)
		return lane_refuse(lane, ev, out);
	/* Rule 8: a scanner that reads the same code twice is one scan. */
	if (lane->have_last_code && lane->last_code_key == key &&
	    now - lane->last_code_at < lane->cfg.duplicate_ms)
		return LANE_DUPLICATE;
	lane->have_last_code = true;
	lane->last_code_key = key;
	lane->last_code_at = now;
	lane_new_check(lane, key, now);
	lane_push(out, LANE_ACT_VERIFY, lane->check.request_id);
	lane_enter(lane, LANE_VERIFYING, now, out);
	return LANE_OK;
}

static enum lane_result lane_on_result(struct lane *lane, const struct lane_event *ev,
				       lane_ms_t now, struct lane_actions *out)
{
	const struct lane_check_result *res = ev->result.result;
	struct lane_check *check = &lane->check;

	if (lane->state != LANE_VERIFYING || ev->result.request_id != check->request_id)
		return LANE_STALE;
	check->have_result = true;
	if (res) {
		check->result = *res;
	} else {
		/* Rule 4: a missing answer never grants. */
		memset(&check->result, 0, sizeof(check->result));
		check->result.verdict = LANE_VERDICT_UNAVAILABLE;
	}
	if (check->result.verdict != LANE_VERDICT_VALID) {
		lane_deny(lane, LANE_ABORT_DENIED, now, out);
	} else if (check->result.attendant_required) {
		check->presented = now;
		lane_enter(lane, LANE_AWAIT_ATTENDANT, now, out);
	} else {
		lane_decision(lane, LANE_DECISION_NOT_REQUIRED, out);
		lane_grant(lane, lane->cfg.scan_dir, false, now, out);
	}
	return LANE_OK;
}

static enum lane_result lane_on_decision(struct lane *lane, const struct lane_event *ev,
					 lane_ms_t now, struct lane_actions *out)
{
	uint64_t id = ev->decision.request_id;
	/* A key's own time, never later than now (a clock from elsewhere). */
	lane_ms_t at = ev->decision.pressed && ev->decision.pressed < now ? ev->decision.pressed
									 : now;

	if (lane->state == LANE_EMERGENCY)
		return lane_refuse(lane, ev, out);
	if (lane->state != LANE_AWAIT_ATTENDANT)
		return LANE_STALE;
	/* Rule 7: a decision names its check; a bare key pressed right after a new check
	 * appeared was meant for the previous one. */
	if (id != 0 && id != lane->check.request_id)
		return LANE_STALE;
	if (id == 0 && (at < lane->check.presented ||
			at - lane->check.presented < lane->cfg.attendant_min_ms))
		return LANE_STALE;
	if (ev->type == LANE_EV_CONFIRM) {
		lane_decision(lane, LANE_DECISION_CONFIRMED, out);
		lane_grant(lane, lane->cfg.scan_dir, false, now, out);
	} else {
		lane_decision(lane, LANE_DECISION_REJECTED, out);
		lane_deny(lane, LANE_ABORT_REJECTED, now, out);
	}
	return LANE_OK;
}

static enum lane_result lane_on_pass(struct lane *lane, const struct lane_event *ev, lane_ms_t now,
				     struct lane_actions *out)
{
	enum lane_dir dir = ev->pass.dir == LANE_DIR_B ? LANE_DIR_B : LANE_DIR_A;
	bool rising = ev->pass.active && !lane->pass_active[dir];
	bool falling = !ev->pass.active && lane->pass_active[dir];
	bool free_dir = lane->mode == LANE_MODE_FREE ||
			lane->mode == (dir == LANE_DIR_A ? LANE_MODE_FREE_A : LANE_MODE_FREE_B);

	lane->pass_active[dir] = ev->pass.active;
	if (lane->state == LANE_PASSING && dir == lane->open_dir) {
		if (falling)
			lane_settle(lane, now, out);
		return LANE_OK;
	}
	/* In an emergency people leave any way they can; nothing to report. */
	if (!rising || lane->state == LANE_EMERGENCY)
		return LANE_OK;
	if (lane->state == LANE_OPEN && dir == lane->open_dir) {
		lane_gate(lane, LANE_GATE_PASSED, out);
		/* Potential mode: the level drops as soon as the pass starts (rule 5). A pulse
		 * already runs on the turnstile's own timing and is left to end. */
		if (lane->pulse_end[lane_open_output(dir)] == LANE_NEVER)
			lane_drive(lane, lane_open_output(dir), false, out);
		lane_enter(lane, LANE_PASSING, now, out);
	} else if (lane->state == LANE_FREE && free_dir) {
		lane_log(out, LANE_LOG_FREE_PASS, (int)dir);
	} else {
		lane_log(out, LANE_LOG_UNEXPECTED_PASS, (int)dir);
	}
	return LANE_OK;
}

static enum lane_result lane_on_fire(struct lane *lane, const struct lane_event *ev, lane_ms_t now,
				     struct lane_actions *out)
{
	bool open = !ev->fire.loop_closed;

	if (open == lane->fire_open)
		return LANE_OK;
	lane->fire_open = open;
	if (open)
		lane_cut_check(lane, LANE_ABORT_EMERGENCY, out);
	lane_settle(lane, now, out);
	lane_log(out, open ? LANE_LOG_FIRE_ALARM : LANE_LOG_FIRE_CLEARED, 0);
	return LANE_OK;
}

static enum lane_result lane_on_stop(struct lane *lane, const struct lane_event *ev, lane_ms_t now,
				     struct lane_actions *out)
{
	bool active = ev->stop.active;

	if (lane->state == LANE_EMERGENCY) {
		/* Refused now, but the level is kept: a stop still held when the fire alarm
		 * clears must leave the lane blocked, not open for business. */
		lane->stop_active = active;
		return lane_refuse(lane, ev, out);
	}
	if (active == lane->stop_active)
		return LANE_OK;
	lane->stop_active = active;
	if (active)
		lane_cut_check(lane, LANE_ABORT_STOP, out);
	lane_settle(lane, now, out);
	lane_log(out, active ? LANE_LOG_STOP : LANE_LOG_STOP_CLEARED, 0);
	return LANE_OK;
}

static enum lane_result lane_on_mode(struct lane *lane, const struct lane_event *ev, lane_ms_t now,
				     struct lane_actions *out)
{
	enum lane_mode m = ev->mode.mode;

	if (lane->state == LANE_EMERGENCY || (unsigned)m >= LANE_MODE_COUNT)
		return lane_refuse(lane, ev, out);
	if (m == lane_pending_mode(lane))
		return LANE_OK;
	/* Rule 9: a mode change waits until the check in flight has ended. */
	if (lane->have_check) {
		lane->pending_mode = m;
		lane->mode_pending = m != lane->mode;
		lane_log(out, LANE_LOG_MODE_DEFERRED, (int)m);
		return LANE_DEFERRED;
	}
	lane->pending_mode = m;
	lane->mode_pending = true;
	lane_settle(lane, now, out);
	return LANE_OK;
}

static enum lane_result lane_on_io_fault(struct lane *lane, const struct lane_event *ev,
					 lane_ms_t now, struct lane_actions *out)
{
	bool fault = ev->io.fault;

	if (fault == lane->io_fault)
		return LANE_OK;
	lane->io_fault = fault;
	/* Under emergency or blocked the flag is only remembered: lane_base_state() ranks it
	 * lower, so settling leaves those states (and their outputs) as they are. */
	if (fault)
		lane_cut_check(lane, LANE_ABORT_IO_FAULT, out);
	lane_settle(lane, now, out);
	lane_log(out, fault ? LANE_LOG_IO_FAULT : LANE_LOG_IO_RECOVERED, 0);
	return LANE_OK;
}

static enum lane_result lane_on_manual_open(struct lane *lane, const struct lane_event *ev,
					    lane_ms_t now, struct lane_actions *out)
{
	enum lane_dir dir = ev->manual.dir == LANE_DIR_B ? LANE_DIR_B : LANE_DIR_A;

	if (lane->state != LANE_IDLE && lane->state != LANE_DENIED)
		return lane_refuse(lane, ev, out);
	/* From denied the attendant overrides: the denied check already has its abort. */
	lane_new_check(lane, 0, now);
	lane_grant(lane, dir, true, now, out);
	return LANE_OK;
}

static enum lane_result lane_on_grant_failed(struct lane *lane, const struct lane_event *ev,
					     lane_ms_t now, struct lane_actions *out)
{
	enum lane_output o = lane_open_output(lane->open_dir);
	size_t mark = out->count;
	int i;

	if (lane->state != LANE_OPEN || ev->grant_failed.request_id != lane->check.request_id)
		return LANE_STALE;
	lane->pulse_end[o] = LANE_NEVER;
	lane->out[o] = false;
	lane_enter(lane, LANE_DENIED, now, out);
	/* The caller dropped everything after the grant, so the hardware may still hold levels
	 * we believe changed (the yellow of await_attendant, say): say every level once. */
	out->count = mark;
	for (i = 0; i < LANE_OUT_COUNT; i++)
		lane_push_output(out, (enum lane_output)i, lane->out[i], 0);
	lane_abort(lane, LANE_ABORT_JOURNAL, out);
	return LANE_OK;
}

/* Public interface */

void lane_init(struct lane *lane, const struct lane_config *cfg, uint64_t request_seed,
	       lane_ms_t now, struct lane_actions *out)
{
	int o;

	memset(lane, 0, sizeof(*lane));
	lane->cfg = *cfg;
	lane->state = LANE_IDLE;
	lane->state_since = now;
	lane->mode = LANE_MODE_NORMAL;
	lane->pending_mode = LANE_MODE_NORMAL;
	lane->next_request_id = request_seed;
	lane->ind_since = now;
	out->count = 0;
	/* Rule 3: every output is driven to its safe level, whatever the hardware shows. */
	for (o = 0; o < LANE_OUT_COUNT; o++) {
		lane->pulse_end[o] = LANE_NEVER;
		lane_push_output(out, (enum lane_output)o, false, 0);
	}
	lane_indicate(lane, now, out);
}

enum lane_result lane_step(struct lane *lane, const struct lane_event *ev, lane_ms_t now,
			   struct lane_actions *out)
{
	out->count = 0;
	lane_expire(lane, now, out);
	switch (ev->type) {
	case LANE_EV_TICK:
		return LANE_OK;
	case LANE_EV_SCAN:
		return lane_on_scan(lane, ev, now, out);
	case LANE_EV_RESULT:
		return lane_on_result(lane, ev, now, out);
	case LANE_EV_CONFIRM:
	case LANE_EV_REJECT:
		return lane_on_decision(lane, ev, now, out);
	case LANE_EV_PASS:
		return lane_on_pass(lane, ev, now, out);
	case LANE_EV_FIRE:
		return lane_on_fire(lane, ev, now, out);
	case LANE_EV_STOP:
		return lane_on_stop(lane, ev, now, out);
	case LANE_EV_MODE:
		return lane_on_mode(lane, ev, now, out);
	case LANE_EV_IO_FAULT:
		return lane_on_io_fault(lane, ev, now, out);
	case LANE_EV_MANUAL_OPEN:
		return lane_on_manual_open(lane, ev, now, out);
	case LANE_EV_GRANT_FAILED:
		return lane_on_grant_failed(lane, ev, now, out);
	}
	return lane_refuse(lane, ev, out);
}

lane_ms_t lane_next_deadline(const struct lane *lane)
{
	lane_ms_t d = lane_state_deadline(lane);
	int i;

	for (i = 0; i < LANE_OUT_COUNT; i++)
		if (lane->pulse_end[i] < d)
			d = lane->pulse_end[i];
	for (i = 0; i < LANE_IND_COUNT; i++)
		if (lane->ind_next[i] < d)
			d = lane->ind_next[i];
	return d;
}

enum lane_state lane_state(const struct lane *lane)
{
	return lane->state;
}

enum lane_mode lane_mode(const struct lane *lane)
{
	return lane->mode;
}

enum lane_mode lane_pending_mode(const struct lane *lane)
{
	return lane->mode_pending ? lane->pending_mode : lane->mode;
}

bool lane_stopped(const struct lane *lane)
{
	return lane->stop_active;
}

const struct lane_check *lane_check(const struct lane *lane)
{
	return lane->have_check ? &lane->check : NULL;
}

uint32_t lane_attendant_left_ms(const struct lane *lane, lane_ms_t now)
{
	lane_ms_t deadline = lane->check.presented + lane->cfg.attendant_timeout_ms;

	if (lane->state != LANE_AWAIT_ATTENDANT || now >= deadline)
		return 0;
	return (uint32_t)(deadline - now);
}

bool lane_output_level(const struct lane *lane, enum lane_output output)
{
	return (unsigned)output < LANE_OUT_COUNT && lane->out[output];
}

const char *lane_state_name(enum lane_state state)
{
	return LANE_NAME(lane_state_names, state);
}

const char *lane_mode_name(enum lane_mode mode)
{
	return LANE_NAME(lane_mode_names, mode);
}

int lane_mode_from_name(const char *name, enum lane_mode *mode)
{
	int i;

	for (i = 0; i < LANE_MODE_COUNT; i++) {
		if (strcmp(name, lane_mode_names[i]) == 0) {
			*mode = (enum lane_mode)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *lane_verdict_name(enum lane_verdict verdict)
{
	return LANE_NAME(lane_verdict_names, verdict);
}

int lane_verdict_from_name(const char *name, enum lane_verdict *verdict)
{
	int i;

	for (i = 0; i < LANE_VERDICT_COUNT; i++) {
		if (strcmp(name, lane_verdict_names[i]) == 0) {
			*verdict = (enum lane_verdict)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *lane_output_name(enum lane_output output)
{
	return LANE_NAME(lane_output_names, output);
}

const char *lane_decision_name(enum lane_decision decision)
{
	return LANE_NAME(lane_decision_names, decision);
}

const char *lane_abort_name(enum lane_abort why)
{
	return LANE_NAME(lane_abort_names, why);
}

const char *lane_log_name(enum lane_log kind)
{
	return LANE_NAME(lane_log_names, kind);
}

const char *lane_dir_name(enum lane_dir dir)
{
	return dir == LANE_DIR_B ? "b" : "a";
}
