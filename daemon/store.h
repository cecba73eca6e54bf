/* store.h: the SQLite audit journal.
 *
 * Owns the database connection: pragmas at open (WAL, synchronous=FULL,
 * foreign_keys, busy_timeout), migrations from schema.h keyed to
 * PRAGMA user_version (each in one transaction), statements prepared once,
 * the installation's code-hash key (32 random bytes in meta, made on first open).
 *
 * Group commit: store_append_* rows go into an open transaction; store_sync()
 * commits it durably. A grant is appended and synced before the relay moves;
 * other rows are synced by the daemon's flush timer (store_pending() says when
 * one is needed) or by the next grant. WAL checkpoints run on a thread of their own
 * (walckpt.h), never inside a commit. Every function returns 0 or a negative
 * errno (-EIO for SQLite errors, -ENOSPC for a full disk, -EROFS for a read-only
 * file); nothing here logs or exits. store_errmsg() gives SQLite's last words.
 */
#ifndef TS_STORE_H
#define TS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

#define STORE_HASH_KEY_LEN 32
#define STORE_HASH_HEX_LEN 64 /* + NUL */

struct store;

int store_open(struct store **out, const char *path);
void store_close(struct store *store); /* syncs; accepts NULL */

sqlite3 *store_db(struct store *store);
const char *store_errmsg(struct store *store);

/* HMAC-SHA256(installation key, code) as lowercase hex; out has 65 bytes. */
int store_code_hash(const struct store *store, const char *code, size_t len, char *out);

/* A new check: a 'scan' row; *check_id is its row id. detail may be NULL (JSON text). */
int store_append_scan(struct store *store, int64_t time_ms, const char *lane, const char *source,
		      const char *code_kind, const char *code_hash, const char *request_id,
		      const char *detail, int64_t *check_id);
/* A later step of check_id: step is "verdict", "attendant", "grant", "gate" or "abort". */
int store_append_step(struct store *store, int64_t check_id, int64_t time_ms, const char *lane,
		      const char *step, const char *value, const char *detail);
/* A lane event (kind in value, e.g. "mode_change", "fire_alarm", "manual_open"). */
int store_append_event(struct store *store, int64_t time_ms, const char *lane, const char *kind,
		       const char *detail, int64_t *row_id);

bool store_pending(const struct store *store); /* rows appended but not synced */
int store_sync(struct store *store);          /* commit durably; no-op if nothing pending */

/* Write transactions are numbered as they begin. store_txn(): the one the rows
 * appended since the last sync went into, 0 if none is open. store_txn_durable():
 * 1 once txn is committed, 0 while it is still open, -EIO if it was lost (its
 * commit failed, or SQLite rolled it back by itself after a full disk or an I/O
 * error). Only the last lost transaction is remembered, so a loss after txn also
 * answers -EIO: the answer errs on the side of "not durable". */
uint64_t store_txn(const struct store *store);
int store_txn_durable(struct store *store, uint64_t txn);

/* Group commit: store_commit_soon() asks for a commit without waiting for it. With
 * a hook set (turnstiled: a commit at the end of the loop iteration, station.h) it
 * calls the hook and returns 0; without one it is store_sync(). Whoever must know
 * the outcome checks store_txn_durable(). */
void store_set_commit_hook(struct store *store, void (*fn)(void *ctx), void *ctx);
int store_commit_soon(struct store *store);

/* What the journal did so far (benchmarks, tests). */
struct store_stats {
	uint64_t commits;           /* successful store_sync() commits */
	uint64_t checkpoints;        /* WAL checkpoints completed off the committing thread */
	uint64_t inline_checkpoints; /* by a commit, the WAL at its bound (commits never paused) */
	int wal_peak_pages;          /* the most pages the WAL held after a commit */
	int checkpoint_error;        /* 0, or the negative errno of the thread's last failure */
};
void store_stats(struct store *store, struct store_stats *out);

/* Was code_hash granted on any lane since since_ms (for the reuse flag)? 1 yes, 0 no, <0 error. */
int store_recently_granted(struct store *store, const char *code_hash, int64_t since_ms);

/* Retention: removes the rows older than cutoff_ms (a prefix of the chain, widened
 * so that no check loses its scan row) and appends a 'retention_checkpoint' event
 * (time now_ms, lane "-") whose detail carries the hash the removed prefix ended
 * with, so audit_verify_db() still verifies. Commits pending rows first and the
 * purge on its own. *purged counts the rows removed (0: nothing was old enough, and
 * no checkpoint is written). */
int store_purge(struct store *store, int64_t cutoff_ms, int64_t now_ms, uint64_t *purged);

#endif
