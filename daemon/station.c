/* station.c: one lane at run time (see station.h).
 *
 * Everything with a side effect for a lane happens here, in one place:
 * lane_step() decides, station_apply() carries the actions out in the order
 * the lane gave them. Two actions feed an event back into the lane once the
 * list is done: VERIFY (the verifier's answer becomes LANE_EV_RESULT) and a
 * grant the journal refused (LANE_EV_GRANT_FAILED), so the lane never sees a
 * nested step.
 *
 * Journal rows of a check hang off its scan row (check_id). Only grants wait for
 * a commit; the daemon commits the other rows within its flush interval.
 *
 * Group commit: the actions after a grant (the outputs that open the gate) are
 * parked until the commit that makes the grant durable. store_commit_soon() asks
 * the daemon for it (its store commit hook): it runs once every event already
 * pending has been handled, so lanes that grant in the same loop iteration share
 * one fsync, then calls station_commit_done() on each lane. A lane's next event
 * commits and carries out its parked actions first, so they keep their order.
 */
#include "station.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "counters.h"
#include "holder.h"
#include "keypad.h"
#include "log.h"
#include "scanner.h"

#define STATION_CODE_MAX 512

struct station {
	const struct station_env *env;
	const struct config_lane *cfg;
	struct lane lane;
	struct io *io;
	struct scanner *scanner;
	struct keypad *keypad;
	sd_event_source *timer;

	/* The check in flight, as the journal and the verifiers know it. */
	uint64_t request_id;
	int64_t check_id;    /* scan row; 0 = none */
	int64_t pass_id;     /* local pass being checked; 0 = none */
	int64_t use_id;      /* reserved use; 0 = none */
	char code[STATION_CODE_MAX + 1]; /* the last scanned code, until VERIFY takes it */
	size_t code_len;
	char source[16];
	char manual_reason[256];

	bool verify_requested;
	uint64_t verify_request_id;
	bool grant_failed;
	uint64_t grant_failed_request_id;

	/* The rest of an action list whose grant waits for its commit (group commit). */
	bool parked;
	uint64_t parked_txn;        /* store_txn() of the grant */
	uint64_t parked_request_id; /* the grant's check */
	struct lane_actions parked_acts;

	/* The Gosuslugi request in flight (at most one), for request gosu_request_id. */
	struct gosu_check *gosu;
	uint64_t gosu_request_id;
	char gosu_hash[STORE_HASH_HEX_LEN + 1]; /* keyed hash of the certificate id */

	struct counters counters;     /* for status: entries, exits, denials, latency */
	uint64_t verify_started_ms;   /* mono_ms() of the last VERIFY; 0: none */

	/* The portal's health as this lane last saw it (station_portal()). */
	uint64_t portal_ms;           /* mono_ms() of the last answer or failure; 0: never */
	bool portal_ok;
	char portal_reason[128];
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int64_t real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* FNV-1a: a cheap key for the lane's same-code-twice window, not a secret. */
static uint64_t code_key(const char *code, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)code[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static void request_hex(uint64_t id, char out[17])
{
	snprintf(out, 17, "%016" PRIx64, id);
}

const char *station_name(const struct station *st)
{
	return st->cfg->name;
}

struct io *station_io(struct station *st)
{
	return st->io;
}

const char *station_result_name(int result)
{
	switch (result) {
	case LANE_OK:
		return "accepted";
	case LANE_DUPLICATE:
		return "duplicate";
	case LANE_BUSY:
		return "busy";
	case LANE_REFUSED:
		return "refused";
	case LANE_STALE:
		return "stale";
	case LANE_DEFERRED:
		return "deferred";
	default:
		return "error";
	}
}

static void station_journal_failed(struct station *st, int r, const char *what)
{
	log_warne(r, "lane %s: journal: cannot record %s (%s)", station_name(st), what,
		  store_errmsg(st->env->store));
}

static char *detail_json(const char *key, const char *value)
{
	cJSON *o = cJSON_CreateObject();
	char *s;

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, key, value);
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

static int station_step(struct station *st, const char *step, const char *value,
			const char *detail)
{
	int r;

	if (!st->check_id)
		return -ESTALE;
	r = store_append_step(st->env->store, st->check_id, real_ms(), station_name(st), step,
			      value, detail);
	if (r < 0)
		station_journal_failed(st, r, step);
	return r;
}

static void station_clear_check(struct station *st)
{
	st->request_id = 0;
	st->check_id = 0;
	st->pass_id = 0;
	st->use_id = 0;
}

/* A manual open becomes a check of its own, so the export shows who let whom in and why. */
static int station_begin_manual(struct station *st, uint64_t request_id)
{
	char rid[17];
	char *detail = detail_json("reason", st->manual_reason);
	int r;

	station_clear_check(st);
	st->request_id = request_id;
	request_hex(request_id, rid);
	r = store_append_scan(st->env->store, real_ms(), station_name(st), "manual", "manual", NULL,
			      rid, detail, &st->check_id);
	if (r >= 0)
		r = store_append_step(st->env->store, st->check_id, real_ms(), station_name(st),
				      "attendant", "confirmed", detail);
	free(detail);
	return r;
}

/* Audit before act: the grant row and the use reservation, committed before anything
 * opens (station_apply parks the rest of the list until then). */
static int station_grant(struct station *st, const struct lane_action *a)
{
	struct store *store = st->env->store;
	int r;

	if (a->grant.manual) {
		r = station_begin_manual(st, a->request_id);
		if (r < 0)
			return r;
	}
	if (a->request_id != st->request_id || !st->check_id)
		return -ESTALE;
	r = store_append_step(store, st->check_id, real_ms(), station_name(st), "grant",
			      lane_dir_name(a->grant.dir), NULL);
	if (r < 0)
		return r;
	/* The transaction to wait for (passes_reserve() may already commit it). */
	st->parked_txn = store_txn(store);
	if (st->pass_id) {
		r = passes_reserve(st->env->passes, st->pass_id, station_name(st), real_ms(),
				   &st->use_id);
		if (r < 0)
			return r;
	}
	return 0;
}

static void station_portal_seen(struct station *st, bool ok, const char *reason)
{
	st->portal_ms = mono_ms();
	st->portal_ok = ok;
	snprintf(st->portal_reason, sizeof(st->portal_reason), "%s", ok ? "" : reason);
}

static void station_gate(struct station *st, const struct lane_action *a)
{
	bool passed = a->gate.gate == LANE_GATE_PASSED;
	int r = 0;

	if (a->request_id != st->request_id)
		return;
	station_step(st, "gate", passed ? "passed" : "not_passed", NULL);
	counters_gate(&st->counters, time(NULL), passed, a->gate.dir == LANE_DIR_B);
	if (st->use_id) {
		if (passed)
			r = passes_consume(st->env->passes, st->use_id, real_ms());
		else
			r = passes_annul(st->env->passes, st->use_id, real_ms());
		if (r < 0)
			log_warne(r, "lane %s: cannot %s the pass use", station_name(st),
				  passed ? "consume" : "annul");
	}
	log_info("lane %s: check %016" PRIx64 " %s", station_name(st), a->request_id,
		 passed ? "passed" : "not passed, use annulled");
	station_clear_check(st);
}

static void station_log(struct station *st, const struct lane_action *a)
{
	const char *kind = lane_log_name(a->log.kind);
	char *detail = NULL;
	int r;

	switch (a->log.kind) {
	case LANE_LOG_MODE_CHANGED:
	case LANE_LOG_MODE_DEFERRED:
		detail = detail_json("mode", lane_mode_name((enum lane_mode)a->log.arg));
		break;
	case LANE_LOG_UNEXPECTED_PASS:
	case LANE_LOG_FREE_PASS:
		detail = detail_json("dir", lane_dir_name((enum lane_dir)a->log.arg));
		break;
	default:
		break;
	}
	r = store_append_event(st->env->store, real_ms(), station_name(st), kind, detail, NULL);
	if (r < 0)
		station_journal_failed(st, r, kind);
	if (a->log.kind == LANE_LOG_FIRE_ALARM || a->log.kind == LANE_LOG_IO_FAULT ||
	    a->log.kind == LANE_LOG_STOP)
		log_warnx("lane %s: %s", station_name(st), kind);
	else
		log_info("lane %s: %s%s%s", station_name(st), kind, detail ? " " : "",
			 detail ? detail : "");
	free(detail);
}

static void station_apply(struct station *st, const struct lane_actions *acts)
{
	for (size_t i = 0; i < acts->count; i++) {
		const struct lane_action *a = &acts->a[i];
		int r;

		switch (a->type) {
		case LANE_ACT_OUTPUT:
			r = io_set(st->io, (enum io_signal)a->output.output, a->output.level,
				   a->output.pulse_ms);
			if (r < 0)
				log_warne(r, "lane %s: cannot set %s", station_name(st),
					  lane_output_name(a->output.output));
			break;
		case LANE_ACT_VERIFY:
			st->verify_requested = true;
			st->verify_request_id = a->request_id;
			st->verify_started_ms = mono_ms();
			break;
		case LANE_ACT_DECISION:
			if (a->request_id == st->request_id)
				station_step(st, "attendant", lane_decision_name(a->decision.decision),
					     NULL);
			break;
		case LANE_ACT_GRANT:
			r = station_grant(st, a);
			if (r < 0) {
				station_journal_failed(st, r, "grant");
				/* Nothing after the grant may act: it opens the gate. */
				st->grant_failed = true;
				st->grant_failed_request_id = a->request_id;
				return;
			}
			/* Nothing after the grant acts before its commit (station_commit_done). */
			st->parked = true;
			st->parked_request_id = a->request_id;
			st->parked_acts.count = acts->count - i - 1;
			memcpy(st->parked_acts.a, acts->a + i + 1,
			       st->parked_acts.count * sizeof(acts->a[0]));
			store_commit_soon(st->env->store);
			return;
		case LANE_ACT_GATE:
			station_gate(st, a);
			break;
		case LANE_ACT_ABORT:
			if (st->gosu && a->request_id == st->gosu_request_id) {
				/* verify_timeout: the portal's late answer is no longer wanted. */
				gosu_client_cancel(st->gosu);
				st->gosu = NULL;
				station_portal_seen(st, false, "no answer within verify_timeout");
			}
			if (a->request_id == st->request_id) {
				station_step(st, "abort", lane_abort_name(a->abort.why), NULL);
				if (st->use_id)
					passes_annul(st->env->passes, st->use_id, real_ms());
				station_clear_check(st);
			}
			break;
		case LANE_ACT_LOG:
			station_log(st, a);
			break;
		}
	}
}

static void station_rearm(struct station *st)
{
	lane_ms_t deadline = lane_next_deadline(&st->lane);
	int r;

	if (deadline == LANE_NEVER) {
		sd_event_source_set_enabled(st->timer, SD_EVENT_OFF);
		return;
	}
	r = sd_event_source_set_time(st->timer, deadline * 1000u);
	if (r >= 0)
		r = sd_event_source_set_enabled(st->timer, SD_EVENT_ONESHOT);
	if (r < 0)
		log_warne(r, "lane %s: cannot arm the lane timer", station_name(st));
}

static void station_verify(struct station *st, uint64_t request_id);

/* After a list of actions: the lane timer, and the events the list feeds back. */
static void station_after(struct station *st);

void station_commit_done(struct station *st)
{
	struct lane_actions rest;
	int r;

	if (!st->parked)
		return;
	r = store_txn_durable(st->env->store, st->parked_txn);
	if (r == 0)
		return; /* not committed yet: the next commit calls again */
	st->parked = false;
	if (r < 0) {
		station_journal_failed(st, r, "grant");
		st->grant_failed = true;
		st->grant_failed_request_id = st->parked_request_id;
	} else {
		rest = st->parked_acts; /* station_apply() may park again */
		station_apply(st, &rest);
	}
	station_after(st);
}

static int station_feed(struct station *st, const struct lane_event *ev)
{
	struct lane_actions acts;
	enum lane_result res;

	if (st->parked) {
		/* The parked actions come before this event's. A failed commit is logged
		 * by station_commit_done() as a failed grant. */
		store_sync(st->env->store);
		station_commit_done(st);
	}
	res = lane_step(&st->lane, ev, mono_ms(), &acts);
	station_apply(st, &acts);
	station_after(st);
	return (int)res;
}

static void station_after(struct station *st)
{
	station_rearm(st);
	if (st->grant_failed) {
		struct lane_event failed = {.type = LANE_EV_GRANT_FAILED,
					    .grant_failed.request_id =
						    st->grant_failed_request_id};

		st->grant_failed = false;
		station_feed(st, &failed);
	}
	if (st->verify_requested) {
		st->verify_requested = false;
		station_verify(st, st->verify_request_id);
	}
}

/* holder_digest: the verdict commits to the masked holder fields kept beside the
 * chain (holder.h); NULL when the privacy policy keeps none. */
static char *verdict_detail(const struct lane_check_result *res, const char *holder_digest)
{
	cJSON *o = cJSON_CreateObject();
	char *s;

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "reason", res->reason);
	if (res->valid_until[0])
		cJSON_AddStringToObject(o, "valid_until", res->valid_until);
	if (res->reuse)
		cJSON_AddBoolToObject(o, "reuse", true);
	if (holder_digest)
		cJSON_AddStringToObject(o, "holder_digest", holder_digest);
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

/* Journals the verdict of the check in flight and hands it to the lane. */
static void station_result(struct station *st, uint64_t request_id,
			   const struct lane_check_result *res)
{
	struct lane_event ev = {.type = LANE_EV_RESULT,
				.result = {.request_id = request_id, .result = res}};
	const struct holder_fields holder = {res->holder.initials, res->holder.birth_date,
					     res->holder.doc};
	char rid[17], salt[HOLDER_SALT_HEX_LEN + 1], digest[HOLDER_DIGEST_HEX_LEN + 1];
	char *detail;
	bool keep;
	int r;

	request_hex(request_id, rid);
	/* Privacy policy: the portal's masked fields are kept only when configured, and
	 * beside the chain, so that they can be dropped later (holder.h). */
	keep = st->env->cfg->gosuslugi_keep_holder && !strcmp(res->code_kind, "gosuslugi") &&
	       res->holder.initials[0] && st->check_id && holder_salt(salt) == 0 &&
	       holder_digest(salt, &holder, digest) == 0;
	detail = verdict_detail(res, keep ? digest : NULL);
	r = station_step(st, "verdict", lane_verdict_name(res->verdict), detail);
	free(detail);
	if (keep && r == 0) {
		r = holder_put(store_db(st->env->store), st->check_id, real_ms(), salt, &holder);
		if (r < 0)
			log_warne(r, "lane %s: journal: cannot record the holder data, ignoring",
				  station_name(st));
	}
	counters_verdict(&st->counters, time(NULL), res->verdict == LANE_VERDICT_VALID,
			 st->verify_started_ms && request_id == st->verify_request_id
				 ? (int64_t)(mono_ms() - st->verify_started_ms)
				 : -1);
	st->verify_started_ms = 0;
	log_info("lane %s: check %s: %s %s%s%s%s", station_name(st), rid, res->code_kind,
		 lane_verdict_name(res->verdict), res->reuse ? " (reuse)" : "",
		 res->reason[0] ? ": " : "", res->reason);
	station_feed(st, &ev);
}

static enum lane_verdict gosu_lane_verdict(enum gosu_verdict v)
{
	switch (v) {
	case GOSU_VALID:
		return LANE_VERDICT_VALID;
	case GOSU_INVALID:
		return LANE_VERDICT_INVALID;
	case GOSU_EXPIRED:
		return LANE_VERDICT_EXPIRED;
	case GOSU_NOT_FOUND:
		return LANE_VERDICT_NOT_FOUND;
	case GOSU_CANCELLED:
		return LANE_VERDICT_CANCELLED;
	case GOSU_UNAVAILABLE:
	default:
		return LANE_VERDICT_UNAVAILABLE;
	}
}

/* The portal answered. Only the lane's pending check may take the answer. */
static void station_on_gosu(const struct gosu_result *g, void *userdata)
{
	struct station *st = userdata;
	const struct lane_check *check = lane_check(&st->lane);
	uint64_t request_id = st->gosu_request_id;
	struct lane_check_result res;
	int64_t window = st->env->cfg->reuse_window_ms;

	st->gosu = NULL;
	/* Any answer tells how the portal is, even one that comes too late to use. */
	station_portal_seen(st, g->verdict != GOSU_UNAVAILABLE, g->reason);
	if (request_id != st->request_id || !check || check->request_id != request_id ||
	    lane_state(&st->lane) != LANE_VERIFYING) {
		log_debug("lane %s: late portal answer dropped", station_name(st));
		return;
	}
	memset(&res, 0, sizeof(res));
	res.verdict = gosu_lane_verdict(g->verdict);
	/* The attendant's comparison with the passport is the real control (spec 7.2). */
	res.attendant_required = true;
	snprintf(res.code_kind, sizeof(res.code_kind), "gosuslugi");
	snprintf(res.reason, sizeof(res.reason), "%s", g->reason);
	snprintf(res.title, sizeof(res.title), "%s", g->title);
	snprintf(res.valid_until, sizeof(res.valid_until), "%s", g->valid_until);
	snprintf(res.holder.initials, sizeof(res.holder.initials), "%s", g->initials);
	snprintf(res.holder.birth_date, sizeof(res.holder.birth_date), "%s", g->birth_date);
	snprintf(res.holder.doc, sizeof(res.holder.doc), "%s", g->doc);
	if (res.verdict == LANE_VERDICT_VALID && window &&
	    store_recently_granted(st->env->store, st->gosu_hash, real_ms() - window) > 0)
		res.reuse = true;
	station_result(st, request_id, &res);
}

/* Gosuslugi links: forged ones are refused here without any request; real ones go to
 * the portal and the lane stays verifying until station_on_gosu(). false: not ours. */
static bool station_verify_gosu(struct station *st, uint64_t request_id, const char *rid)
{
	const struct station_env *env = st->env;
	struct lane_check_result res;
	struct gosu_code code;
	char code_hash[STORE_HASH_HEX_LEN + 1] = "";
	const char *why = "";
	enum gosu_class cls;
	int r;

	cls = gosu_classify(st->code, st->code_len, env->cfg->gosuslugi_allow_unrz_form, &code,
			    &why);
	if (cls == GOSU_CLASS_UNKNOWN)
		return false;
	memset(&res, 0, sizeof(res));
	snprintf(res.code_kind, sizeof(res.code_kind), "gosuslugi");
	if (cls == GOSU_CLASS_FORGED) {
		r = store_code_hash(env->store, st->code, st->code_len, code_hash);
		r = store_append_scan(env->store, real_ms(), station_name(st), st->source,
				      res.code_kind, r >= 0 ? code_hash : NULL, rid, NULL,
				      &st->check_id);
		if (r < 0)
			station_journal_failed(st, r, "scan");
		res.verdict = LANE_VERDICT_FORGED;
		snprintf(res.reason, sizeof(res.reason), "not a Gosuslugi code: %s", why);
		station_result(st, request_id, &res);
		return true;
	}
	/* The journal and the reuse flag key on the certificate id, not the whole link. */
	r = store_code_hash(env->store, code.id, strlen(code.id), st->gosu_hash);
	if (r < 0)
		st->gosu_hash[0] = '\0';
	r = store_append_scan(env->store, real_ms(), station_name(st), st->source, res.code_kind,
			      st->gosu_hash[0] ? st->gosu_hash : NULL, rid, NULL, &st->check_id);
	if (r < 0)
		station_journal_failed(st, r, "scan");
	st->gosu_request_id = request_id;
	r = env->gosu ? gosu_client_check(env->gosu, &code, station_on_gosu, st, &st->gosu)
		      : -ENOTCONN;
	if (r < 0) {
		log_warne(r, "lane %s: cannot start the portal check", station_name(st));
		station_portal_seen(st, false, "cannot ask the portal");
		res.verdict = LANE_VERDICT_UNAVAILABLE;
		res.attendant_required = true;
		snprintf(res.reason, sizeof(res.reason), "cannot ask the portal");
		station_result(st, request_id, &res);
		return true;
	}
	log_debug("lane %s: check %s: asking the portal", station_name(st), rid);
	return true;
}

/* Gosuslugi links go to the portal (station_verify_gosu); local passes answer at once;
 * a code no verifier recognises is "unknown" and goes nowhere. */
static void station_verify(struct station *st, uint64_t request_id)
{
	const struct station_env *env = st->env;
	struct lane_check_result res;
	char code_hash[STORE_HASH_HEX_LEN + 1] = "";
	char rid[17];
	int64_t now = real_ms();
	int r;

	memset(&res, 0, sizeof(res));
	station_clear_check(st);
	st->request_id = request_id;
	request_hex(request_id, rid);
	gosu_client_cancel(st->gosu);
	st->gosu = NULL;
	if (station_verify_gosu(st, request_id, rid))
		return;

	r = store_code_hash(env->store, st->code, st->code_len, code_hash);
	if (r >= 0)
		r = passes_check(env->passes, code_hash, station_name(st), st->cfg->zone, now, &res,
				 &st->pass_id);
	if (r < 0) {
		log_warne(r, "lane %s: cannot check the code", station_name(st));
		memset(&res, 0, sizeof(res));
		res.verdict = LANE_VERDICT_UNAVAILABLE;
		snprintf(res.code_kind, sizeof(res.code_kind), "unknown");
		snprintf(res.reason, sizeof(res.reason), "cannot check the code now");
		st->pass_id = 0;
	}
	if (res.verdict == LANE_VERDICT_VALID && env->cfg->reuse_window_ms &&
	    store_recently_granted(env->store, code_hash, now - env->cfg->reuse_window_ms) > 0)
		res.reuse = true;

	r = store_append_scan(env->store, now, station_name(st), st->source, res.code_kind,
			      code_hash[0] ? code_hash : NULL, rid, NULL, &st->check_id);
	if (r < 0)
		station_journal_failed(st, r, "scan");
	station_result(st, request_id, &res);
}

static bool code_is_printable(const char *code, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)code[i] < 0x20 || (unsigned char)code[i] > 0x7e)
			return false;
	return true;
}

int station_scan(struct station *st, const char *payload, size_t len, const char *source)
{
	struct lane_event ev = {.type = LANE_EV_SCAN};
	int res;

	while (len && (payload[len - 1] == '\n' || payload[len - 1] == '\r'))
		len--;
	if (len == 0 || len > STATION_CODE_MAX || !code_is_printable(payload, len))
		return -EINVAL;
	ev.scan.code_key = code_key(payload, len);
	/* Scratch for VERIFY, which the lane asks for within this same step if at all. */
	memcpy(st->code, payload, len);
	st->code[len] = '\0';
	st->code_len = len;
	snprintf(st->source, sizeof(st->source), "%s", source);
	res = station_feed(st, &ev);
	if (res != LANE_OK)
		log_debug("lane %s: scan from %s %s", station_name(st), source,
			  station_result_name(res));
	return res;
}

int station_decide(struct station *st, bool confirm, uint64_t request_id)
{
	struct lane_event ev = {.type = confirm ? LANE_EV_CONFIRM : LANE_EV_REJECT,
				.decision.request_id = request_id};

	return station_feed(st, &ev);
}

int station_manual_open(struct station *st, enum lane_dir dir, const char *reason)
{
	struct lane_event ev = {.type = LANE_EV_MANUAL_OPEN, .manual.dir = dir};

	if (!reason || !reason[0])
		return -EINVAL;
	if (lane_check(&st->lane) && lane_state(&st->lane) != LANE_DENIED)
		return LANE_BUSY;
	snprintf(st->manual_reason, sizeof(st->manual_reason), "%s", reason);
	return station_feed(st, &ev);
}

int station_set_mode(struct station *st, enum lane_mode mode)
{
	struct lane_event ev = {.type = LANE_EV_MODE, .mode.mode = mode};

	return station_feed(st, &ev);
}

int station_set_stop(struct station *st, bool active)
{
	struct lane_event ev = {.type = LANE_EV_STOP, .stop.active = active};

	return station_feed(st, &ev);
}

static void station_on_input(enum io_signal input, bool level, void *userdata)
{
	struct station *st = userdata;
	struct lane_event ev = {0};
	int r;

	switch (input) {
	case IO_PASS_A:
	case IO_PASS_B:
		ev.type = LANE_EV_PASS;
		ev.pass.dir = input == IO_PASS_A ? LANE_DIR_A : LANE_DIR_B;
		ev.pass.active = level;
		station_feed(st, &ev);
		break;
	case IO_FIRE_ALARM:
		ev.type = LANE_EV_FIRE;
		ev.fire.loop_closed = level;
		station_feed(st, &ev);
		break;
	case IO_CONFIRM:
	case IO_REJECT:
		if (level) {
			r = station_decide(st, input == IO_CONFIRM, 0);
			if (r != LANE_OK)
				log_info("lane %s: %s key %s", station_name(st),
					 io_signal_name(input), station_result_name(r));
		}
		break;
	case IO_MANUAL_OPEN:
		if (level)
			station_manual_open(st, st->cfg->lane.scan_dir, "manual_open button");
		break;
	case IO_TAMPER:
		r = store_append_event(st->env->store, real_ms(), station_name(st),
				       level ? "tamper" : "tamper_cleared", NULL, NULL);
		if (r < 0)
			station_journal_failed(st, r, "tamper");
		if (level)
			log_warnx("lane %s: tamper input active", station_name(st));
		break;
	default:
		break;
	}
}

static void station_on_fault(bool fault, int err, void *userdata)
{
	struct station *st = userdata;
	struct lane_event ev = {.type = LANE_EV_IO_FAULT, .io.fault = fault};

	if (fault)
		log_warne(err, "lane %s: IO fault", station_name(st));
	station_feed(st, &ev);
}

static void station_on_code(const char *code, size_t len, void *userdata)
{
	struct station *st = userdata;

	if (station_scan(st, code, len, scanner_name(st->scanner)) == -EINVAL)
		log_warnx("lane %s: scanner: unusable code ignored", station_name(st));
}

static void station_on_rejected(const char *why, void *userdata)
{
	struct station *st = userdata;

	log_warnx("lane %s: scanner: line discarded: %s", station_name(st), why);
}

static void station_on_scanner_status(bool connected, int err, const char *device, void *userdata)
{
	struct station *st = userdata;

	if (connected && err < 0)
		log_warne(err, "lane %s: scanner %s read without an exclusive grab",
			  station_name(st), device);
	else if (connected)
		log_info("lane %s: scanner %s connected", station_name(st), device);
	else
		log_warne(err, "lane %s: scanner %s unavailable, retrying", station_name(st),
			  device);
}

/* A keypad key: the lane binds a decision to the check shown when the key went
 * down (lane.h, decision.pressed), so a key queued behind a newer check is stale. */
static void station_on_keypad(enum keypad_action action, uint64_t pressed_ms, void *userdata)
{
	struct station *st = userdata;
	struct lane_event ev = {.type = action == KEYPAD_CONFIRM ? LANE_EV_CONFIRM : LANE_EV_REJECT,
				.decision = {.request_id = 0, .pressed = pressed_ms}};
	int r;

	if (action == KEYPAD_MANUAL_OPEN)
		r = station_manual_open(st, st->cfg->lane.scan_dir, "keypad manual open key");
	else
		r = station_feed(st, &ev);
	if (r != LANE_OK)
		log_info("lane %s: keypad %s key %s", station_name(st), keypad_action_name(action),
			 station_result_name(r));
}

static void station_on_keypad_status(bool connected, int err, const char *device, void *userdata)
{
	struct station *st = userdata;

	if (connected && err < 0)
		log_warne(err, "lane %s: keypad %s read without an exclusive grab",
			  station_name(st), device);
	else if (connected)
		log_info("lane %s: keypad %s connected", station_name(st), device);
	else
		log_warne(err, "lane %s: keypad %s unavailable, retrying", station_name(st), device);
}

static int station_on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct station *st = userdata;
	struct lane_event ev = {.type = LANE_EV_TICK};

	station_feed(st, &ev);
	return 0;
}

int station_open(struct station **out, const struct station_env *env,
		 const struct config_lane *lane, uint64_t request_seed, const char **why)
{
	static const struct io_callbacks io_cb = {
		.input = station_on_input,
		.fault = station_on_fault,
	};
	static const struct scanner_callbacks scan_cb = {
		.code = station_on_code,
		.rejected = station_on_rejected,
		.status = station_on_scanner_status,
	};
	static const struct keypad_callbacks keypad_cb = {
		.action = station_on_keypad,
		.status = station_on_keypad_status,
	};
	struct lane_actions acts;
	struct station *st;
	bool loop_closed = true;
	int r;

	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->env = env;
	st->cfg = lane;

	*why = "IO backend";
	r = io_open(&st->io, env->ev, lane, &io_cb, st);
	if (r < 0)
		goto error;
	/* Safe state first: every output to 0 before anything else can happen. */
	lane_init(&st->lane, &lane->lane, request_seed, mono_ms(), &acts);
	station_apply(st, &acts);

	*why = "lane timer";
	r = sd_event_add_time(env->ev, &st->timer, CLOCK_MONOTONIC, UINT64_MAX, 1000,
			      station_on_timer, st);
	if (r < 0)
		goto error;
	sd_event_source_set_enabled(st->timer, SD_EVENT_OFF);

	*why = "fire loop input";
	r = io_get(st->io, IO_FIRE_ALARM, &loop_closed);
	if (r < 0)
		goto error;
	if (!loop_closed) {
		struct lane_event ev = {.type = LANE_EV_FIRE, .fire.loop_closed = false};

		station_feed(st, &ev);
	}

	*why = "scanner";
	r = scanner_open(&st->scanner, env->ev, lane, &scan_cb, st);
	if (r < 0)
		goto error;
	*why = "keypad";
	r = keypad_open(&st->keypad, env->ev, lane, &keypad_cb, st);
	if (r < 0)
		goto error;
	*out = st;
	return 0;
error:
	station_close(st);
	return r;
}

void station_close(struct station *st)
{
	if (!st)
		return;
	if (st->parked)
		log_warnx("lane %s: stopping before the grant's commit: the gate stays closed",
			  station_name(st));
	keypad_close(st->keypad);
	scanner_close(st->scanner);
	gosu_client_cancel(st->gosu);
	if (st->io) {
		/* Leave the turnstile de-energised: the safe state. */
		for (int i = 0; i < IO_OUTPUT_COUNT; i++)
			io_set(st->io, (enum io_signal)i, false, 0);
		if (st->check_id && st->use_id)
			passes_annul(st->env->passes, st->use_id, real_ms());
	}
	sd_event_source_unref(st->timer);
	io_close(st->io);
	free(st);
}

bool station_portal(const struct station *st, uint64_t *age_ms, const char **reason)
{
	if (!st->portal_ms)
		return false;
	*age_ms = mono_ms() - st->portal_ms;
	*reason = st->portal_ok ? NULL : st->portal_reason;
	return true;
}

int station_status(struct station *st, cJSON *obj)
{
	const struct lane_check *check = lane_check(&st->lane);
	uint64_t now = mono_ms();
	cJSON *outputs, *c, *holder;
	char rid[17];

	cJSON_AddStringToObject(obj, "name", station_name(st));
	cJSON_AddStringToObject(obj, "state", lane_state_name(lane_state(&st->lane)));
	cJSON_AddStringToObject(obj, "mode", lane_mode_name(lane_mode(&st->lane)));
	cJSON_AddStringToObject(obj, "pending_mode",
				lane_mode_name(lane_pending_mode(&st->lane)));
	cJSON_AddBoolToObject(obj, "stop", lane_stopped(&st->lane));
	cJSON_AddNumberToObject(obj, "attendant_left_ms",
				lane_attendant_left_ms(&st->lane, now));
	if (counters_json(&st->counters, time(NULL), obj) < 0)
		return -ENOMEM;
	outputs = cJSON_AddObjectToObject(obj, "outputs");
	if (!outputs)
		return -ENOMEM;
	for (int i = 0; i < LANE_OUT_COUNT; i++)
		cJSON_AddNumberToObject(outputs, lane_output_name((enum lane_output)i),
					lane_output_level(&st->lane, (enum lane_output)i));
	if (!check) {
		cJSON_AddNullToObject(obj, "check");
		return 0;
	}
	c = cJSON_AddObjectToObject(obj, "check");
	if (!c)
		return -ENOMEM;
	request_hex(check->request_id, rid);
	cJSON_AddNumberToObject(c, "id", (double)(check->request_id == st->request_id ?
							  st->check_id : 0));
	cJSON_AddStringToObject(c, "request_id", rid);
	if (!check->have_result) {
		cJSON_AddNullToObject(c, "code_kind");
		cJSON_AddNullToObject(c, "verdict");
		return 0;
	}
	cJSON_AddStringToObject(c, "code_kind", check->result.code_kind);
	cJSON_AddStringToObject(c, "verdict", lane_verdict_name(check->result.verdict));
	cJSON_AddStringToObject(c, "reason", check->result.reason);
	cJSON_AddStringToObject(c, "title", check->result.title);
	cJSON_AddStringToObject(c, "valid_until", check->result.valid_until);
	cJSON_AddBoolToObject(c, "reuse", check->result.reuse);
	cJSON_AddBoolToObject(c, "attendant_required", check->result.attendant_required);
	holder = cJSON_AddObjectToObject(c, "holder");
	if (!holder)
		return -ENOMEM;
	cJSON_AddStringToObject(holder, "initials", check->result.holder.initials);
	cJSON_AddStringToObject(holder, "birth_date", check->result.holder.birth_date);
	cJSON_AddStringToObject(holder, "doc", check->result.holder.doc);
	return 0;
}
