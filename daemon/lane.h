/* lane.h: the turnstile cycle of one lane, as a pure state machine.
 *
 * Events and the current time go in; a list of actions comes out. No I/O, no
 * clock, no allocation: the caller (station.c) applies the actions in order,
 * arms a timer for lane_next_deadline() and feeds LANE_EV_TICK when it fires.
 *
 * Priority (design.md rule 1), highest first:
 *   emergency (fire loop open) > blocked (stop, or mode locked) > io_fault >
 *   free (mode free, free-a, free-b) > the single-pass cycle
 *   (idle -> verifying -> [await_attendant] -> open -> passing -> idle, or denied).
 *
 * Outputs: the lane owns the level of every output. Pulses are timed by the lane
 * (an OUTPUT 1 action with pulse_ms, followed by an OUTPUT 0 action when it
 * ends); a backend that can time pulses on the board may start a board-timed
 * pulse for pulse_ms and treat the later 0 as idempotent.
 *
 * Audit before act: a grant comes out as LANE_ACT_GRANT *before* the OUTPUT
 * actions that open the gate. If the caller cannot journal the grant durably it
 * must drop the rest of the list and feed LANE_EV_GRANT_FAILED.
 */
#ifndef TS_LANE_H
#define TS_LANE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t lane_ms_t; /* monotonic milliseconds, one clock for all calls */
#define LANE_NEVER UINT64_MAX

enum lane_state {
	LANE_IDLE,
	LANE_VERIFYING,
	LANE_AWAIT_ATTENDANT,
	LANE_OPEN,
	LANE_PASSING,
	LANE_DENIED,
	LANE_FREE,
	LANE_BLOCKED,
	LANE_EMERGENCY,
	LANE_IO_FAULT,
	LANE_STATE_COUNT
};

enum lane_mode {
	LANE_MODE_NORMAL,
	LANE_MODE_FREE,
	LANE_MODE_FREE_A,
	LANE_MODE_FREE_B,
	LANE_MODE_LOCKED,
	LANE_MODE_COUNT
};

enum lane_dir { LANE_DIR_A, LANE_DIR_B };

enum lane_control { LANE_CONTROL_PULSE, LANE_CONTROL_POTENTIAL };

/* The outputs a lane drives; same order as the first io signals (io.h). */
enum lane_output {
	LANE_OUT_OPEN_A,
	LANE_OUT_OPEN_B,
	LANE_OUT_STOP,
	LANE_OUT_LED_GREEN,
	LANE_OUT_LED_RED,
	LANE_OUT_LED_YELLOW,
	LANE_OUT_BUZZER,
	LANE_OUT_ALARM,
	LANE_OUT_COUNT
};

enum lane_verdict {
	LANE_VERDICT_VALID,
	LANE_VERDICT_INVALID,
	LANE_VERDICT_EXPIRED,
	LANE_VERDICT_NOT_FOUND,
	LANE_VERDICT_CANCELLED,
	LANE_VERDICT_UNAVAILABLE,
	LANE_VERDICT_FORGED,
	LANE_VERDICT_UNKNOWN,
	LANE_VERDICT_USED,
	LANE_VERDICT_COUNT
};

/* Indication: for each state, how green/red/yellow/buzzer behave. */
enum lane_indicator { LANE_IND_GREEN, LANE_IND_RED, LANE_IND_YELLOW, LANE_IND_BUZZER, LANE_IND_COUNT };

struct lane_pattern {
	uint32_t on_ms;  /* 0: off */
	uint32_t off_ms; /* 0: steady while on; else blink on_ms on / off_ms off */
	uint32_t for_ms; /* 0: as long as the state lasts; else stop (off) after this long */
};

struct lane_indication {
	struct lane_pattern ind[LANE_IND_COUNT];
};

struct lane_config {
	enum lane_control control;
	uint32_t pulse_ms;             /* pulse mode: relay closed this long (100..500) */
	uint32_t pass_window_ms;       /* open: how long we wait for the person */
	uint32_t passing_max_ms;       /* passing: pass sensor held longer than this = pass over */
	uint32_t attendant_timeout_ms; /* await_attendant: no decision in this long = timeout */
	uint32_t attendant_min_ms;     /* a key without request id sooner than this after the
					  check appeared is ignored (it was meant for the last one) */
	uint32_t denied_ms;            /* how long denied is shown */
	uint32_t duplicate_ms;         /* same code on this lane within this = the same scan */
	uint32_t verify_timeout_ms;    /* verifying longer than this = unavailable, denied */
	enum lane_dir scan_dir;        /* the direction a granted check opens */
	struct lane_indication indication[LANE_STATE_COUNT];
};

struct lane_holder {
	char initials[32];
	char birth_date[16];
	char doc[32];
};

/* What a verifier found; copied into the lane with LANE_EV_RESULT. */
struct lane_check_result {
	enum lane_verdict verdict;
	bool attendant_required; /* only meaningful for a valid verdict */
	bool reuse;              /* the same code was used recently elsewhere: warn */
	char code_kind[16];      /* "gosuslugi", "membership", "ticket", "unknown" */
	char reason[128];
	char title[128];
	char valid_until[32];
	struct lane_holder holder;
};

/* The check in flight, from scan until the gate result. */
struct lane_check {
	uint64_t request_id;
	uint64_t code_key;
	lane_ms_t started;  /* scan time */
	lane_ms_t presented; /* when await_attendant began */
	bool have_result;
	struct lane_check_result result;
};

enum lane_event_type {
	LANE_EV_TICK,         /* time passed; nothing else */
	LANE_EV_SCAN,         /* a code was read: scan.code_key */
	LANE_EV_RESULT,       /* verifier answered: result.request_id, result.result */
	LANE_EV_CONFIRM,      /* attendant: decision.request_id (0 = the pending one) */
	LANE_EV_REJECT,       /* attendant: decision.request_id (0 = the pending one) */
	LANE_EV_PASS,         /* pass sensor level: pass.dir, pass.active */
	LANE_EV_FIRE,         /* fire loop level: fire.loop_closed (open = alarm) */
	LANE_EV_STOP,         /* stop command or input: stop.active */
	LANE_EV_MODE,         /* mode change request: mode.mode */
	LANE_EV_IO_FAULT,     /* io.fault: the IO backend lost / regained the device */
	LANE_EV_MANUAL_OPEN,  /* one manual passage: manual.dir */
	LANE_EV_GRANT_FAILED, /* the grant for grant_failed.request_id could not be journaled */
};

struct lane_event {
	enum lane_event_type type;
	union {
		struct {
			uint64_t code_key;
		} scan;
		struct {
			uint64_t request_id;
			const struct lane_check_result *result;
		} result;
		struct {
			uint64_t request_id;
			/* request_id 0 only: when the key went down (0: now). The key
			 * binds to the check pending then, if it had been shown for
			 * attendant_min; a key pressed earlier was meant for another. */
			lane_ms_t pressed;
		} decision;
		struct {
			enum lane_dir dir;
			bool active;
		} pass;
		struct {
			bool loop_closed;
		} fire;
		struct {
			bool active;
		} stop;
		struct {
			enum lane_mode mode;
		} mode;
		struct {
			bool fault;
		} io;
		struct {
			enum lane_dir dir;
		} manual;
		struct {
			uint64_t request_id;
		} grant_failed;
	};
};

/* What lane_step() says about the event itself. */
enum lane_result {
	LANE_OK,        /* applied */
	LANE_DUPLICATE, /* scan of the same code within duplicate_ms: ignored */
	LANE_BUSY,      /* scan while a check is in flight: ignored */
	LANE_REFUSED,   /* not allowed in this state (emergency, blocked, io_fault, ...) */
	LANE_STALE,     /* request id is not the pending check's, or the key came too early */
	LANE_DEFERRED,  /* mode change stored; applies when the lane is idle */
};

enum lane_action_type {
	LANE_ACT_OUTPUT,   /* output.output := output.level (pulse_ms > 0: a pulse) */
	LANE_ACT_VERIFY,   /* start verifying the scanned code under request_id */
	LANE_ACT_DECISION, /* attendant outcome for request_id (journal) */
	LANE_ACT_GRANT,    /* journal durably: request_id opens grant.dir; outputs follow */
	LANE_ACT_GATE,     /* gate result for request_id: passed (consume) / not passed (annul) */
	LANE_ACT_ABORT,    /* check request_id ended without a gate result (abort.why) */
	LANE_ACT_LOG,      /* a lane event for the journal (log.kind, log.arg) */
};

enum lane_decision {
	LANE_DECISION_CONFIRMED,
	LANE_DECISION_REJECTED,
	LANE_DECISION_TIMEOUT,
	LANE_DECISION_NOT_REQUIRED,
};

enum lane_gate { LANE_GATE_PASSED, LANE_GATE_NOT_PASSED };

enum lane_abort {
	LANE_ABORT_DENIED,    /* verdict was negative */
	LANE_ABORT_REJECTED,  /* attendant rejected or timed out */
	LANE_ABORT_EMERGENCY, /* fire alarm */
	LANE_ABORT_STOP,      /* stop */
	LANE_ABORT_IO_FAULT,  /* IO fault */
	LANE_ABORT_JOURNAL,   /* the grant could not be journaled */
	LANE_ABORT_VERIFY_TIMEOUT,
};

enum lane_log {
	LANE_LOG_MODE_CHANGED,  /* arg: enum lane_mode */
	LANE_LOG_MODE_DEFERRED, /* arg: enum lane_mode */
	LANE_LOG_FIRE_ALARM,
	LANE_LOG_FIRE_CLEARED,
	LANE_LOG_STOP,
	LANE_LOG_STOP_CLEARED,
	LANE_LOG_IO_FAULT,
	LANE_LOG_IO_RECOVERED,
	LANE_LOG_REFUSED,          /* arg: enum lane_event_type refused */
	LANE_LOG_UNEXPECTED_PASS,  /* arg: enum lane_dir; a pass nobody was granted */
	LANE_LOG_FREE_PASS,        /* arg: enum lane_dir; a pass in free mode */
	LANE_LOG_COUNT
};

struct lane_action {
	enum lane_action_type type;
	uint64_t request_id;
	union {
		struct {
			enum lane_output output;
			bool level;
			uint32_t pulse_ms;
		} output;
		struct {
			enum lane_decision decision;
		} decision;
		struct {
			enum lane_dir dir;
			bool manual;
		} grant;
		struct {
			enum lane_gate gate;
			enum lane_dir dir;
		} gate;
		struct {
			enum lane_abort why;
		} abort;
		struct {
			enum lane_log kind;
			int arg;
		} log;
	};
};

#define LANE_ACTIONS_MAX 48

struct lane_actions {
	size_t count;
	struct lane_action a[LANE_ACTIONS_MAX];
};

/* Fields are private to lane.c; the struct is public so callers can embed it. */
struct lane {
	struct lane_config cfg;
	enum lane_state state;
	lane_ms_t state_since;
	enum lane_mode mode;
	enum lane_mode pending_mode;
	bool mode_pending;
	bool fire_open;
	bool stop_active;
	bool io_fault;
	enum lane_dir open_dir;
	bool open_manual;
	bool pass_active[2];
	uint64_t next_request_id;
	bool have_check;
	struct lane_check check;
	uint64_t last_code_key;
	lane_ms_t last_code_at;
	bool have_last_code;
	bool out[LANE_OUT_COUNT];          /* the level last asked of each output */
	lane_ms_t pulse_end[LANE_OUT_COUNT]; /* LANE_NEVER when no pulse runs */
	lane_ms_t ind_since;                 /* when the current indication began */
	lane_ms_t ind_next[LANE_IND_COUNT];  /* next level change of each indicator, or LANE_NEVER */
};

void lane_config_defaults(struct lane_config *cfg);
/* 0 or -EINVAL with *why set to a static message. */
int lane_config_validate(const struct lane_config *cfg, const char **why);

/* Starts in idle, normal mode, fire loop assumed closed, every output 0. The
 * actions set every output to its safe level (0) and the idle indication; they
 * change nothing on hardware that is already safe ("nothing pulses at boot").
 * request_seed should differ across restarts so old request ids never match. */
void lane_init(struct lane *lane, const struct lane_config *cfg, uint64_t request_seed,
	       lane_ms_t now, struct lane_actions *out);

/* Applies one event at time now. out is reset, then filled. */
enum lane_result lane_step(struct lane *lane, const struct lane_event *ev, lane_ms_t now,
			   struct lane_actions *out);

/* The earliest time lane_step(LANE_EV_TICK) has something to do; LANE_NEVER if none. */
lane_ms_t lane_next_deadline(const struct lane *lane);

enum lane_state lane_state(const struct lane *lane);
enum lane_mode lane_mode(const struct lane *lane);
/* The mode waiting for idle, or the current mode when none waits. */
enum lane_mode lane_pending_mode(const struct lane *lane);
/* Whether a stop holds the lane blocked (it outlasts an emergency, see lane.c). */
bool lane_stopped(const struct lane *lane);
/* The check in flight (verifying .. passing, denied), or NULL. */
const struct lane_check *lane_check(const struct lane *lane);
/* Milliseconds left for the attendant to decide, 0 outside await_attendant. */
uint32_t lane_attendant_left_ms(const struct lane *lane, lane_ms_t now);
bool lane_output_level(const struct lane *lane, enum lane_output output);

const char *lane_state_name(enum lane_state state);
const char *lane_mode_name(enum lane_mode mode);
int lane_mode_from_name(const char *name, enum lane_mode *mode); /* 0 or -EINVAL */
const char *lane_verdict_name(enum lane_verdict verdict);
int lane_verdict_from_name(const char *name, enum lane_verdict *verdict);
const char *lane_output_name(enum lane_output output);
const char *lane_decision_name(enum lane_decision decision);
const char *lane_abort_name(enum lane_abort why);
const char *lane_log_name(enum lane_log kind);
const char *lane_dir_name(enum lane_dir dir); /* "a" / "b" */

#endif
