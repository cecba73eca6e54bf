/* station.h: one lane at run time: the pure lane state machine (lane.h) wired
 * to its IO backend, its scanner, the verifiers and the journal.
 *
 * The station owns the only clock reads and the only timer of its lane. It
 * applies the lane's actions in order, journaling each step before acting on
 * it; a grant is synced to disk before the outputs that open the gate move, by a
 * commit that the lanes granting in the same loop iteration share.
 */
#ifndef TS_STATION_H
#define TS_STATION_H

#include <cjson/cJSON.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "gosu_client.h"
#include "io.h"
#include "lane.h"
#include "passes.h"
#include "store.h"

struct station_env {
	sd_event *ev;
	struct store *store;
	struct passes *passes;
	const struct config *cfg;
	struct gosu_client *gosu; /* Gosuslugi certificate checks; NULL: all unavailable */
};

struct station;

/* Opens the IO backend and the scanner, drives every output to its safe level and
 * reads the fire loop. 0 or negative errno; on error *why names the part that failed. */
int station_open(struct station **out, const struct station_env *env,
		 const struct config_lane *lane, uint64_t request_seed, const char **why);
/* Drives the outputs safe, journals the stop, frees. Accepts NULL. */
void station_close(struct station *st);

/* Grants wait for a commit asked with store_commit_soon(): the store's commit hook
 * must be set (turnstiled does) and, once it committed, call this on every lane. It
 * carries out the actions parked behind this lane's grant (or feeds the lane a
 * failed grant if the commit was lost); nothing parked: no-op. */
void station_commit_done(struct station *st);

const char *station_name(const struct station *st);
struct io *station_io(struct station *st);

/* Each returns an enum lane_result (>= 0) or a negative errno (-EINVAL: bad code). */
int station_scan(struct station *st, const char *payload, size_t len, const char *source);
int station_decide(struct station *st, bool confirm, uint64_t request_id);
int station_manual_open(struct station *st, enum lane_dir dir, const char *reason);
int station_set_mode(struct station *st, enum lane_mode mode);
/* Stop blocks the lane at once (a check in flight is aborted) until it is cleared;
 * unlike mode locked it does not wait for the lane to be idle. */
int station_set_stop(struct station *st, bool active);

/* How this lane last found the Gosuslugi portal: false if it never asked. Else
 * *age_ms since then, and *reason NULL if the portal answered, or why it could
 * not be asked or did not answer (an "unavailable" verdict). */
bool station_portal(const struct station *st, uint64_t *age_ms, const char **reason);

/* Adds name, state, mode, pending_mode, attendant_left_ms, outputs, check to obj. */
int station_status(struct station *st, cJSON *obj);

const char *station_result_name(int result);

#endif
