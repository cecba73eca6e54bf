/* turnstiled.c: the daemon's entry point.
 *
 * Order of start-up matters and is the point of this file: configuration, the
 * journal, then every lane (each drives its outputs to the safe state as it
 * opens), then the control socket, and only then READY=1 to systemd. Shut-down
 * runs the same list backwards. Control requests are dispatched here to the
 * lane they name; the lanes themselves live in station.c.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "control.h"
#include "gosu_client.h"
#include "holder.h"
#include "io_sim.h"
#include "log.h"
#include "passes.h"
#include "station.h"
#include "store.h"

#define OVERRIDES_MAX 64

struct daemon {
	struct config cfg;
	sd_event *ev;
	struct store *store;
	struct passes *passes;
	struct gosu_client *gosu;
	struct station_env env;
	struct station *stations[CONFIG_LANES_MAX];
	size_t station_count;
	struct control *control;
	sd_event_source *flush;
	sd_event_source *commit; /* group commit of grants (station.h) */
	int64_t purged_at_ms; /* last retention purge (store.retention_days) */
	int journal_err;      /* why the last commit failed; 0: it went through */
};

static void usage(FILE *out)
{
	fprintf(out, "usage: turnstiled -f CONFIG [-d] [-v] [-n] [-D section.key=value]...\n"
		     "       turnstiled -P   print an example configuration with every key\n");
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct station *daemon_lane(struct daemon *d, const cJSON *req, cJSON *reply)
{
	const cJSON *lane = cJSON_GetObjectItemCaseSensitive(req, "lane");

	if (!cJSON_IsString(lane)) {
		cJSON_AddStringToObject(reply, "error", "missing lane");
		return NULL;
	}
	for (size_t i = 0; i < d->station_count; i++)
		if (strcmp(station_name(d->stations[i]), lane->valuestring) == 0)
			return d->stations[i];
	cJSON_AddStringToObject(reply, "error", "no such lane");
	return NULL;
}

static const char *req_string(const cJSON *req, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void reply_fail(cJSON *reply, const char *fmt, ...) LOG_PRINTF(2, 3);
static void reply_fail(cJSON *reply, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cJSON_AddBoolToObject(reply, "ok", false);
	cJSON_AddStringToObject(reply, "error", msg);
}

/* Maps a lane result to the reply; LANE_OK and "soft" results are successes. */
static void reply_result(cJSON *reply, int r, const char *what)
{
	if (r < 0) {
		reply_fail(reply, "%s: %s", what, strerror(-r));
		return;
	}
	switch (r) {
	case LANE_OK:
	case LANE_DUPLICATE:
	case LANE_BUSY:
	case LANE_DEFERRED:
		cJSON_AddBoolToObject(reply, "ok", true);
		cJSON_AddStringToObject(reply, "result", station_result_name(r));
		break;
	case LANE_REFUSED:
		reply_fail(reply, "%s refused in the lane's current state", what);
		break;
	case LANE_STALE:
		reply_fail(reply, "%s: no such pending check (stale request id or too early)", what);
		break;
	default:
		reply_fail(reply, "%s: unexpected result %d", what, r);
	}
}

/* "portal": the Gosuslugi portal as the lanes last found it, the most recent
 * lane's word counting: {"state": "unknown"} before any lane asked, else
 * {"state": "ok" | "unreachable", "reason": "...", "age_ms": N}. */
static void status_portal(struct daemon *d, cJSON *reply)
{
	cJSON *portal = cJSON_AddObjectToObject(reply, "portal");
	const char *reason = NULL;
	uint64_t age = UINT64_MAX;
	bool seen = false;

	if (!portal)
		return;
	for (size_t i = 0; i < d->station_count; i++) {
		const char *why;
		uint64_t a;

		if (station_portal(d->stations[i], &a, &why) && a < age) {
			age = a;
			reason = why;
			seen = true;
		}
	}
	cJSON_AddStringToObject(portal, "state", !seen ? "unknown" : reason ? "unreachable" : "ok");
	if (reason)
		cJSON_AddStringToObject(portal, "reason", reason);
	if (seen)
		cJSON_AddNumberToObject(portal, "age_ms", (double)age);
}

static void cmd_status(struct daemon *d, const cJSON *req, cJSON *reply)
{
	cJSON *lanes = cJSON_AddArrayToObject(reply, "lanes"), *journal;
	const char *only = req_string(req, "lane");
	bool found = false;

	for (size_t i = 0; i < d->station_count; i++) {
		cJSON *o;

		if (only && strcmp(only, station_name(d->stations[i])) != 0)
			continue;
		found = true;
		o = cJSON_CreateObject();
		station_status(d->stations[i], o);
		cJSON_AddItemToArray(lanes, o);
	}
	if (only && !found)
		reply_fail(reply, "no such lane");
	status_portal(d, reply);
	/* A journal that cannot commit (full disk, read-only file) grants nothing. */
	journal = cJSON_AddObjectToObject(reply, "journal");
	if (journal) {
		cJSON_AddBoolToObject(journal, "ok", !d->journal_err);
		if (d->journal_err)
			cJSON_AddStringToObject(journal, "error", strerror(-d->journal_err));
	}
}

static int parse_request_id(const cJSON *req, uint64_t *id)
{
	const char *text = req_string(req, "request_id");
	char *end;

	*id = 0;
	if (!text)
		return 0;
	errno = 0;
	*id = strtoull(text, &end, 16);
	if (errno || end == text || *end || *id == 0)
		return -EINVAL;
	return 0;
}

static void cmd_decide(struct daemon *d, const cJSON *req, cJSON *reply, bool confirm)
{
	struct station *st = daemon_lane(d, req, reply);
	uint64_t id;

	if (!st)
		return;
	if (parse_request_id(req, &id) < 0) {
		reply_fail(reply, "bad request id");
		return;
	}
	reply_result(reply, station_decide(st, confirm, id), confirm ? "confirm" : "reject");
}

static void cmd_scan(struct daemon *d, const cJSON *req, cJSON *reply)
{
	struct station *st = daemon_lane(d, req, reply);
	const char *payload = req_string(req, "payload");
	int r;

	if (!st)
		return;
	if (!payload) {
		reply_fail(reply, "missing payload");
		return;
	}
	r = station_scan(st, payload, strlen(payload), "ctl");
	if (r == -EINVAL)
		reply_fail(reply, "unusable code: empty, longer than 512 bytes or not printable ASCII");
	else
		reply_result(reply, r, "scan");
}

static void cmd_open(struct daemon *d, const cJSON *req, cJSON *reply)
{
	struct station *st = daemon_lane(d, req, reply);
	const char *dir = req_string(req, "dir");
	const char *reason = req_string(req, "reason");

	if (!st)
		return;
	if (!dir || (strcmp(dir, "a") != 0 && strcmp(dir, "b") != 0)) {
		reply_fail(reply, "direction must be a or b");
		return;
	}
	if (!reason || !reason[0]) {
		reply_fail(reply, "a reason is required");
		return;
	}
	reply_result(reply, station_manual_open(st, dir[0] == 'a' ? LANE_DIR_A : LANE_DIR_B, reason),
		     "open");
}

static void cmd_mode(struct daemon *d, const cJSON *req, cJSON *reply)
{
	struct station *st = daemon_lane(d, req, reply);
	const char *name = req_string(req, "mode");
	enum lane_mode mode;
	int r;

	if (!st)
		return;
	if (!name || lane_mode_from_name(name, &mode) < 0) {
		reply_fail(reply, "mode must be normal, free, free-a, free-b or locked");
		return;
	}
	r = station_set_mode(st, mode);
	reply_result(reply, r, "mode");
	if (r == LANE_OK || r == LANE_DEFERRED)
		cJSON_AddBoolToObject(reply, "applied", r == LANE_OK);
}

static void cmd_stop(struct daemon *d, const cJSON *req, cJSON *reply)
{
	struct station *st = daemon_lane(d, req, reply);
	const cJSON *active = cJSON_GetObjectItemCaseSensitive(req, "active");

	if (!st)
		return;
	if (!cJSON_IsBool(active)) {
		reply_fail(reply, "active must be true or false");
		return;
	}
	reply_result(reply, station_set_stop(st, cJSON_IsTrue(active)), "stop");
}

static void cmd_sim_get(struct daemon *d, const cJSON *req, cJSON *reply)
{
	struct station *st = daemon_lane(d, req, reply);
	struct io_sim_snapshot snap;
	cJSON *outputs, *inputs, *edges;

	if (!st)
		return;
	if (io_sim_snapshot(station_io(st), &snap) < 0) {
		reply_fail(reply, "lane %s does not use the sim backend", station_name(st));
		return;
	}
	outputs = cJSON_AddObjectToObject(reply, "outputs");
	inputs = cJSON_AddObjectToObject(reply, "inputs");
	edges = cJSON_AddObjectToObject(reply, "edges");
	for (int i = 0; i < IO_SIGNAL_COUNT; i++) {
		const char *name = io_signal_name((enum io_signal)i);

		if (io_is_output((enum io_signal)i)) {
			cJSON_AddNumberToObject(outputs, name, snap.level[i]);
			cJSON_AddNumberToObject(edges, name, (double)snap.edges[i]);
		} else {
			cJSON_AddNumberToObject(inputs, name, snap.level[i]);
		}
	}
}

static void cmd_sim_set(struct daemon *d, const cJSON *req, cJSON *reply)
{
	struct station *st = daemon_lane(d, req, reply);
	const char *name = req_string(req, "signal");
	const cJSON *value = cJSON_GetObjectItemCaseSensitive(req, "value");
	enum io_signal signal;
	int r;

	if (!st)
		return;
	if (!name || io_signal_from_name(name, &signal) < 0 || io_is_output(signal)) {
		reply_fail(reply, "unknown input signal");
		return;
	}
	if (!cJSON_IsNumber(value) || (value->valueint != 0 && value->valueint != 1)) {
		reply_fail(reply, "value must be 0 or 1");
		return;
	}
	r = io_sim_drive(station_io(st), signal, value->valueint == 1);
	if (r == -EOPNOTSUPP)
		reply_fail(reply, "lane %s does not use the sim backend", station_name(st));
	else if (r < 0)
		reply_fail(reply, "sim set: %s", strerror(-r));
}

static void cmd_passes_import(struct daemon *d, const cJSON *req, cJSON *reply)
{
	const char *csv = req_string(req, "csv");
	char err[256] = "";
	size_t count = 0;
	int r;

	if (!csv) {
		reply_fail(reply, "missing csv");
		return;
	}
	r = passes_import_csv(d->passes, csv, strlen(csv), now_ms(), &count, err, sizeof(err));
	if (r < 0) {
		reply_fail(reply, "%s", err[0] ? err : strerror(-r));
		return;
	}
	r = store_append_event(d->store, now_ms(), "*", "passes_import", NULL, NULL);
	if (r < 0)
		log_warne(r, "journal: cannot record the passes import");
	log_info("imported %zu passes", count);
	cJSON_AddNumberToObject(reply, "imported", (double)count);
}

static int add_pass(const struct passes_entry *e, void *userdata)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return -ENOMEM;
	cJSON_AddStringToObject(o, "kind", e->kind);
	cJSON_AddStringToObject(o, "holder", e->holder);
	cJSON_AddNumberToObject(o, "valid_from", (double)e->valid_from_ms);
	cJSON_AddNumberToObject(o, "valid_until", (double)e->valid_until_ms);
	cJSON_AddNumberToObject(o, "uses_per_day", e->uses_per_day);
	cJSON_AddNumberToObject(o, "pass_back_min", e->pass_back_min);
	if (e->zone)
		cJSON_AddStringToObject(o, "zone", e->zone);
	else
		cJSON_AddNullToObject(o, "zone");
	cJSON_AddNumberToObject(o, "uses", (double)e->uses);
	cJSON_AddItemToArray(userdata, o);
	return 0;
}

static void cmd_passes_list(struct daemon *d, const cJSON *req, cJSON *reply)
{
	cJSON *list = cJSON_AddArrayToObject(reply, "passes");
	int r = passes_list(d->passes, add_pass, list);

	if (r < 0)
		reply_fail(reply, "passes list: %s", strerror(-r));
}

static void cmd_info(struct daemon *d, const cJSON *req, cJSON *reply)
{
	struct store_stats st;
	cJSON *lanes, *journal;

	cJSON_AddStringToObject(reply, "version", TS_VERSION);
	cJSON_AddStringToObject(reply, "store_path", d->cfg.store_path);
	store_stats(d->store, &st);
	journal = cJSON_AddObjectToObject(reply, "journal");
	if (journal) {
		cJSON_AddNumberToObject(journal, "commits", (double)st.commits);
		cJSON_AddNumberToObject(journal, "checkpoints", (double)st.checkpoints);
		cJSON_AddNumberToObject(journal, "inline_checkpoints", (double)st.inline_checkpoints);
		cJSON_AddNumberToObject(journal, "wal_peak_pages", st.wal_peak_pages);
	}
	lanes = cJSON_AddArrayToObject(reply, "lanes");
	for (size_t i = 0; i < d->station_count; i++)
		cJSON_AddItemToArray(lanes, cJSON_CreateString(station_name(d->stations[i])));
}

static void daemon_request(void *userdata, const cJSON *req, cJSON *reply)
{
	struct daemon *d = userdata;
	const char *cmd = req_string(req, "cmd");

	if (strcmp(cmd, "status") == 0)
		cmd_status(d, req, reply);
	else if (strcmp(cmd, "scan") == 0)
		cmd_scan(d, req, reply);
	else if (strcmp(cmd, "confirm") == 0)
		cmd_decide(d, req, reply, true);
	else if (strcmp(cmd, "reject") == 0)
		cmd_decide(d, req, reply, false);
	else if (strcmp(cmd, "open") == 0)
		cmd_open(d, req, reply);
	else if (strcmp(cmd, "mode") == 0)
		cmd_mode(d, req, reply);
	else if (strcmp(cmd, "stop") == 0)
		cmd_stop(d, req, reply);
	else if (strcmp(cmd, "sim_get") == 0)
		cmd_sim_get(d, req, reply);
	else if (strcmp(cmd, "sim_set") == 0)
		cmd_sim_set(d, req, reply);
	else if (strcmp(cmd, "passes_import") == 0)
		cmd_passes_import(d, req, reply);
	else if (strcmp(cmd, "passes_list") == 0)
		cmd_passes_list(d, req, reply);
	else if (strcmp(cmd, "info") == 0)
		cmd_info(d, req, reply);
	else
		reply_fail(reply, "unknown command '%s'", cmd);
	if (!cJSON_GetObjectItemCaseSensitive(reply, "ok") &&
	    cJSON_GetObjectItemCaseSensitive(reply, "error"))
		cJSON_AddBoolToObject(reply, "ok", false);
}

/* Retention: at start, then at most hourly, riding on a flush (an idle daemon
 * has nothing new to purge for). */
static void daemon_purge(struct daemon *d)
{
	int64_t now = now_ms();
	uint64_t purged = 0;
	int r;

	if ((!d->cfg.store_retention_days && !d->cfg.store_holder_days) ||
	    now - d->purged_at_ms < 3600 * 1000)
		return;
	d->purged_at_ms = now;
	if (d->cfg.store_holder_days) {
		/* Privacy policy: masked holder fields go after holder_days (holder.h). */
		r = holder_drop(store_db(d->store),
				now - (int64_t)d->cfg.store_holder_days * 86400000, &purged);
		if (r < 0)
			log_warne(r, "journal: dropping old holder data failed");
		else if (purged)
			log_info("journal: dropped the holder data of %llu checks older than %u days",
				 (unsigned long long)purged, d->cfg.store_holder_days);
	}
	if (!d->cfg.store_retention_days)
		return;
	r = store_purge(d->store, now - (int64_t)d->cfg.store_retention_days * 86400000, now,
			&purged);
	if (r < 0)
		log_warne(r, "journal: retention purge failed (%s)", store_errmsg(d->store));
	else if (purged)
		log_info("journal: purged %llu rows older than %u days", (unsigned long long)purged,
			 d->cfg.store_retention_days);
}

/* What status says of the journal: a failed commit marks it, and only a commit that
 * wrote rows clears the mark (a sync with nothing to write proves nothing). */
static void daemon_journal_state(struct daemon *d, bool had_rows, int r)
{
	if (r < 0)
		d->journal_err = r;
	else if (had_rows)
		d->journal_err = 0;
}

static int daemon_on_flush(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct daemon *d = userdata;
	bool rows = store_pending(d->store);
	int r = store_sync(d->store);

	daemon_journal_state(d, rows, r);
	if (r < 0)
		log_warne(r, "journal: commit failed (%s)", store_errmsg(d->store));
	else
		daemon_purge(d);
	return 0;
}

/* store_commit_soon(): the commit runs at idle priority, once every event already
 * pending has been handled, so the lanes that granted meanwhile share it. */
static void daemon_commit_soon(void *userdata)
{
	struct daemon *d = userdata;

	sd_event_source_set_enabled(d->commit, SD_EVENT_ONESHOT);
}

/* Grants wait for this commit (station_commit_done()). */
static int daemon_on_commit(sd_event_source *s, void *userdata)
{
	struct daemon *d = userdata;
	bool rows = store_pending(d->store);
	int r = store_sync(d->store);

	daemon_journal_state(d, rows, r);
	if (r < 0)
		log_warne(r, "journal: commit of grants failed (%s)", store_errmsg(d->store));
	for (size_t i = 0; i < d->station_count; i++)
		station_commit_done(d->stations[i]);
	return 0;
}

/* After any event: rows were appended but not committed, so commit them soon.
 * Nothing is armed while idle, so an idle daemon never wakes. */
static int daemon_on_post(sd_event_source *s, void *userdata)
{
	struct daemon *d = userdata;
	int enabled = SD_EVENT_OFF;
	uint64_t now;

	if (!store_pending(d->store))
		return 0;
	sd_event_source_get_enabled(d->flush, &enabled);
	if (enabled != SD_EVENT_OFF)
		return 0;
	sd_event_now(d->ev, CLOCK_MONOTONIC, &now);
	sd_event_source_set_time(d->flush, now + (uint64_t)d->cfg.flush_ms * 1000u);
	sd_event_source_set_enabled(d->flush, SD_EVENT_ONESHOT);
	return 0;
}

static int daemon_on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct daemon *d = userdata;

	if (si->ssi_signo == SIGHUP) {
		struct config fresh;
		char err[512];

		/* Passes are read from the journal on every scan: nothing to reload there.
		 * The configuration is re-checked so a broken edit is caught early. */
		if (config_load(&fresh, d->cfg.path, NULL, 0, err, sizeof(err)) < 0)
			log_warnx("reload: %s; keeping the running configuration", err);
		else
			log_info("reload: %s is valid; lane settings apply at the next restart",
				 d->cfg.path);
		return 0;
	}
	log_info("stopping on signal %u", si->ssi_signo);
	sd_notify(0, "STOPPING=1");
	return sd_event_exit(d->ev, 0);
}

static void daemon_teardown(struct daemon *d)
{
	control_close(d->control);
	for (size_t i = d->station_count; i-- > 0;) {
		store_append_event(d->store, now_ms(), station_name(d->stations[i]), "stop", NULL,
				   NULL);
		station_close(d->stations[i]);
	}
	/* Stations cancelled their own checks; this cancels whatever is left. */
	gosu_client_free(d->gosu);
	gosu_classify_free();
	sd_event_source_unref(d->flush);
	sd_event_source_unref(d->commit);
	passes_close(d->passes);
	store_close(d->store);
	sd_event_unref(d->ev);
}

static int daemon_gosu_open(struct daemon *d)
{
	struct gosu_client_config gc = {
		.base_url = d->cfg.gosuslugi_base_url,
		.ca_file = d->cfg.gosuslugi_ca_file,
		.connect_timeout_ms = d->cfg.gosuslugi_connect_timeout_ms,
		.timeout_ms = d->cfg.gosuslugi_timeout_ms,
	};
	int r;

	r = gosu_classify_init();
	if (r < 0) {
		log_warne(r, "cannot prepare the Gosuslugi link classifier");
		return r;
	}
	gosu_endpoints_defaults(&gc.endpoints);
	if (d->cfg.gosuslugi_check_v4)
		snprintf(gc.endpoints.check, sizeof(gc.endpoints.check), "%s", GOSU_EP_CHECK_V4);
	if (d->cfg.gosuslugi_v2_fallback)
		snprintf(gc.endpoints.status_fallback, sizeof(gc.endpoints.status_fallback), "%s",
			 GOSU_EP_STATUS_V2);
	r = gosu_client_new(&d->gosu, d->ev, &gc);
	if (r < 0) {
		log_warne(r, "cannot set up the Gosuslugi client for %s", gc.base_url);
		return r;
	}
	log_info("gosuslugi: checks go to %s%s", gc.base_url,
		 gc.ca_file[0] ? " (CA file set)" : "");
	return 0;
}

static int daemon_setup(struct daemon *d)
{
	struct passes_policy policy = {
		.membership_attendant = d->cfg.membership_attendant,
		.ticket_attendant = d->cfg.ticket_attendant,
	};
	sigset_t mask;
	uint64_t seed;
	size_t annulled = 0;
	const char *why;
	int r;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	r = sd_event_default(&d->ev);
	if (r < 0) {
		log_warne(r, "cannot create the event loop");
		return r;
	}
	sd_event_add_signal(d->ev, NULL, SIGTERM, daemon_on_signal, d);
	sd_event_add_signal(d->ev, NULL, SIGINT, daemon_on_signal, d);
	sd_event_add_signal(d->ev, NULL, SIGHUP, daemon_on_signal, d);
	/* Pings systemd when WATCHDOG_USEC is set; does nothing otherwise. */
	sd_event_set_watchdog(d->ev, true);

	r = store_open(&d->store, d->cfg.store_path);
	if (r < 0) {
		log_warne(r, "cannot open the journal %s", d->cfg.store_path);
		return r;
	}
	daemon_purge(d);
	r = passes_open(&d->passes, d->store, &policy);
	if (r < 0) {
		log_warne(r, "cannot prepare the passes verifier");
		return r;
	}
	r = passes_annul_pending(d->passes, now_ms(), &annulled);
	if (r < 0)
		log_warne(r, "cannot annul pass uses left pending, ignoring");
	else if (annulled)
		log_info("annulled %zu pass uses left pending by the last run", annulled);

	r = sd_event_add_time(d->ev, &d->flush, CLOCK_MONOTONIC, UINT64_MAX, 1000,
			      daemon_on_flush, d);
	if (r < 0)
		return r;
	sd_event_source_set_enabled(d->flush, SD_EVENT_OFF);
	r = sd_event_add_defer(d->ev, &d->commit, daemon_on_commit, d);
	if (r < 0)
		return r;
	sd_event_source_set_priority(d->commit, SD_EVENT_PRIORITY_IDLE);
	sd_event_source_set_enabled(d->commit, SD_EVENT_OFF);
	store_set_commit_hook(d->store, daemon_commit_soon, d);
	r = sd_event_add_post(d->ev, NULL, daemon_on_post, d);
	if (r < 0)
		return r;

	r = daemon_gosu_open(d);
	if (r < 0)
		return r;
	d->env = (struct station_env){
		.ev = d->ev, .store = d->store, .passes = d->passes, .cfg = &d->cfg};
	d->env.gosu = d->gosu;
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (uint64_t)now_ms();
	for (size_t i = 0; i < d->cfg.lane_count; i++) {
		const struct config_lane *lane = &d->cfg.lanes[i];

		r = station_open(&d->stations[i], &d->env, lane, seed + (i << 48), &why);
		if (r < 0) {
			log_warne(r, "lane %s: cannot set up the %s", lane->name, why);
			return r;
		}
		d->station_count++;
		store_append_event(d->store, now_ms(), lane->name, "start", NULL, NULL);
	}
	r = store_sync(d->store);
	if (r < 0) {
		log_warne(r, "cannot write the journal %s", d->cfg.store_path);
		return r;
	}
	r = control_open(&d->control, d->ev, d->cfg.control_socket, d->cfg.control_mode,
			 CONTROL_REQUEST_MAX, daemon_request, d);
	if (r < 0) {
		log_warne(r, "cannot listen on %s", d->cfg.control_socket);
		return r;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {{"help", no_argument, NULL, 'h'}, {0}};
	char *overrides[OVERRIDES_MAX];
	size_t override_count = 0;
	const char *config_path = NULL;
	bool foreground = false, check_only = false;
	int verbose = 0, opt, r;
	struct daemon *d;
	char err[1024];

	while ((opt = getopt_long(argc, argv, "f:dvnD:Ph", longopts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			config_path = optarg;
			break;
		case 'd':
			foreground = true;
			break;
		case 'v':
			verbose++;
			break;
		case 'n':
			check_only = true;
			break;
		case 'D':
			if (override_count == OVERRIDES_MAX) {
				fprintf(stderr, "turnstiled: too many -D overrides\n");
				return 1;
			}
			overrides[override_count++] = optarg;
			break;
		case 'P':
			config_print_example(stdout);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (!config_path || optind != argc) {
		usage(stderr);
		return 1;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return 1;
	if (config_load(&d->cfg, config_path, overrides, override_count, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		free(d);
		return 1;
	}
	if (check_only) {
		printf("configuration OK\n");
		free(d);
		return 0;
	}
	log_init("turnstiled", foreground, verbose);

	r = daemon_setup(d);
	if (r >= 0) {
		sd_notify(0, "READY=1\nSTATUS=lanes ready");
		log_info("turnstiled %s ready: %zu lane(s), control socket %s", TS_VERSION,
			 d->station_count, d->cfg.control_socket);
		r = sd_event_loop(d->ev);
		if (r < 0)
			log_warne(r, "event loop failed");
	}
	daemon_teardown(d);
	free(d);
	return r < 0 ? 1 : 0;
}
