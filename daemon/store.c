/* store.c: the SQLite audit journal (see store.h for the contract).
 *
 * One connection, one thread. store_open() sets the pragmas, applies the embedded
 * migrations (schema.h) whose version is above PRAGMA user_version, each in its own
 * BEGIN IMMEDIATE ... COMMIT together with the new user_version, loads or creates the
 * installation's code-hash key and prepares every statement once; nothing is
 * prepared on the hot path.
 *
 * Group commit: an append opens a write transaction if none is open and inserts;
 * store_sync() commits it, and with synchronous=FULL in WAL mode the commit is an
 * fsync of the WAL. A commit never checkpoints: past STORE_CKPT_PAGES the wal hook
 * wakes the thread of walckpt.c, which does. Whether rows are pending is simply "a
 * transaction is open" (sqlite3_get_autocommit), which stays right when SQLite
 * rolls a transaction back by itself after SQLITE_FULL or an I/O error.
 *
 * Failure model: a commit that fails is rolled back and reported, so the rows
 * appended since the last successful sync are lost. The daemon syncs every grant
 * before the relay moves, so at stake are at most the non-grant rows since the last
 * sync (scans, verdicts, attendant decisions, gate results, lane events of the last
 * flush interval), never a grant the gate acted on.
 *
 * Errors: SQLITE_FULL -> -ENOSPC, SQLITE_READONLY -> -EROFS, SQLITE_BUSY/LOCKED ->
 * -EBUSY, SQLITE_CONSTRAINT (a step for an unknown check, a bad step name) ->
 * -EINVAL, anything else -> -EIO. The message SQLite gave is kept at the failure
 * (a later ROLLBACK would overwrite sqlite3_errmsg) and store_errmsg() returns it
 * until the next append, sync or query.
 */
#include "store.h"
#include "sqlite_errno.h"
#include "audit.h"
#include "checkrec.h"
#include "schema.h"
#include "walckpt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <nettle/hmac.h>

#define STORE_BUSY_TIMEOUT_MS 5000
#define STORE_KEY_NAME "code_hash_key"
/* WAL size (pages) past which commits wake the checkpoint thread (SQLite's default
 * limit), and the size at which a commit checkpoints by itself after all. */
#define STORE_CKPT_PAGES 1000
#define STORE_WAL_MAX_PAGES (4 * STORE_CKPT_PAGES)

enum store_stmt {
	STMT_BEGIN,
	STMT_COMMIT,
	STMT_ROLLBACK,
	STMT_INSERT,
	STMT_GRANTED,
	STMT_TAIL,
	STMT_CHECK_GET,
	STMT_CHECK_NEW,
	STMT_CHECK_SET,
	STMT_COUNT
};

static const char *const store_sql[STMT_COUNT] = {
    [STMT_BEGIN] = "BEGIN IMMEDIATE",
    [STMT_COMMIT] = "COMMIT",
    [STMT_ROLLBACK] = "ROLLBACK",
    [STMT_INSERT] = "INSERT INTO journal (time, lane, check_id, step, value, source, code_kind,"
		    " code_hash, request_id, detail, id, prev_hash, hash)"
		    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    /* The chain's tail, read when a write transaction begins. */
    [STMT_TAIL] = "SELECT id, hash FROM journal ORDER BY id DESC LIMIT 1",
    /* journal_code finds the code's rows in the window; the grant step of each scan
     * is one probe of journal_check. */
    [STMT_GRANTED] = "SELECT EXISTS (SELECT 1 FROM journal s"
		     " WHERE s.code_hash = ?1 AND s.time >= ?2 AND s.step = 'scan'"
		     " AND EXISTS (SELECT 1 FROM journal g"
		     " WHERE g.check_id = s.id AND g.step = 'grant'))",
    /* The check's record (schema 0004), kept with every row of the check. */
    [STMT_CHECK_GET] = "SELECT time, record FROM checks WHERE check_id = ?1",
    [STMT_CHECK_NEW] = "INSERT INTO checks (check_id, time, last_id, record, seal)"
		       " VALUES (?1, ?2, ?1, ?3, ?4)",
    [STMT_CHECK_SET] = "UPDATE checks SET last_id = ?2, record = ?3, seal = ?4"
		       " WHERE check_id = ?1",
};

struct store {
	sqlite3 *db;
	sqlite3_stmt *stmt[STMT_COUNT];
	unsigned char key[STORE_HASH_KEY_LEN];
	char errmsg[256];
	int64_t tail_id;                      /* last row of the chain, 0: empty */
	char tail_hash[AUDIT_HASH_HEX_LEN + 1]; /* its hash, AUDIT_GENESIS when empty */
	struct walckpt *ckpt;                 /* checkpoints, off the committing thread */
	int ckpt_asked_at;                    /* WAL pages at the last request */
	uint64_t commits, inline_checkpoints;
	int wal_peak;                         /* most WAL pages seen after a commit */
	/* Write transactions are numbered as they begin (store_txn_durable). */
	uint64_t txn_seq, txn_open, txn_committed, txn_lost;
	void (*commit_hook)(void *ctx); /* store_commit_soon() */
	void *commit_ctx;
	struct checkrec_buf record; /* the check record being written */
};

/* Remembers SQLite's message for store_errmsg() and turns rc into a negative errno. */
static int store_fail(struct store *store, int rc)
{
	snprintf(store->errmsg, sizeof(store->errmsg), "%s", sqlite3_errmsg(store->db));
	return sqlite_errno(rc);
}

static int store_exec(struct store *store, const char *sql)
{
	int rc = sqlite3_exec(store->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : store_fail(store, rc);
}

/* Runs a prepared statement that returns no rows, and resets it. */
static int store_step_done(struct store *store, enum store_stmt id)
{
	sqlite3_stmt *stmt = store->stmt[id];
	int rc = sqlite3_step(stmt);
	int r = rc == SQLITE_DONE ? 0 : store_fail(store, rc);

	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	return r;
}

static int store_query_int(struct store *store, const char *sql, int64_t *out)
{
	sqlite3_stmt *stmt;
	int rc, r;

	rc = sqlite3_prepare_v2(store->db, sql, -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return store_fail(store, rc);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(stmt, 0);
		r = 0;
	} else {
		r = rc == SQLITE_DONE ? -EIO : store_fail(store, rc);
	}
	sqlite3_finalize(stmt);
	return r;
}

static int store_pragmas(struct store *store)
{
	sqlite3_stmt *stmt;
	int rc, r;

	rc = sqlite3_busy_timeout(store->db, STORE_BUSY_TIMEOUT_MS);
	if (rc != SQLITE_OK)
		return store_fail(store, rc);

	/* journal_mode answers with the mode it ended up in; anything but WAL (a
	 * filesystem without shared memory, an in-memory path) is refused. */
	rc = sqlite3_prepare_v2(store->db, "PRAGMA journal_mode=WAL", -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return store_fail(store, rc);
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW)
		r = store_fail(store, rc);
	else if (strcmp((const char *)sqlite3_column_text(stmt, 0), "wal") != 0)
		r = -EIO;
	else
		r = 0;
	sqlite3_finalize(stmt);
	if (r < 0) {
		if (r == -EIO && !store->errmsg[0])
			snprintf(store->errmsg, sizeof(store->errmsg), "journal_mode is not WAL");
		return r;
	}

	r = store_exec(store, "PRAGMA synchronous=FULL");
	if (r < 0)
		return r;
	/* The journal mostly appends: a small page cache keeps the daemon's RSS low
	 * (SQLite's default is 2 MiB). */
	r = store_exec(store, "PRAGMA cache_size=-512");
	if (r < 0)
		return r;
	return store_exec(store, "PRAGMA foreign_keys=ON");
}

static int store_migrate(struct store *store)
{
	int64_t current = 0;
	int last, r;

	r = store_query_int(store, "PRAGMA user_version", &current);
	if (r < 0)
		return r;
	last = schema_migration_count ? schema_migrations[schema_migration_count - 1].version : 0;
	if (current > last) {
		snprintf(store->errmsg, sizeof(store->errmsg),
			 "database schema version %lld is newer than this program's %d",
			 (long long)current, last);
		return -EPROTO;
	}

	for (unsigned i = 0; i < schema_migration_count; i++) {
		const struct schema_migration *m = &schema_migrations[i];
		char sql[64];

		if (m->version <= current)
			continue;
		r = store_exec(store, "BEGIN IMMEDIATE");
		if (r < 0)
			return r;
		snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", m->version);
		r = store_exec(store, m->sql);
		if (r == 0)
			r = store_exec(store, sql);
		if (r == 0)
			r = store_exec(store, "COMMIT");
		if (r < 0) {
			if (!sqlite3_get_autocommit(store->db))
				sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
			return r;
		}
	}
	return 0;
}

static int store_random(void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads the installation key, creating it on first open. The SELECT and the INSERT
 * share one write transaction so two first opens cannot end with two keys. */
static int store_load_key(struct store *store)
{
	sqlite3_stmt *sel = NULL, *ins = NULL;
	unsigned char fresh[STORE_HASH_KEY_LEN];
	int rc, r;

	r = store_exec(store, "BEGIN IMMEDIATE");
	if (r < 0)
		return r;

	rc = sqlite3_prepare_v2(store->db, "SELECT value FROM meta WHERE key = ?1", -1, &sel, NULL);
	if (rc != SQLITE_OK)
		goto sqlite_error;
	sqlite3_bind_text(sel, 1, STORE_KEY_NAME, -1, SQLITE_STATIC);
	rc = sqlite3_step(sel);
	if (rc == SQLITE_ROW) {
		const void *blob = sqlite3_column_blob(sel, 0);

		if (sqlite3_column_type(sel, 0) != SQLITE_BLOB ||
		    sqlite3_column_bytes(sel, 0) != STORE_HASH_KEY_LEN) {
			snprintf(store->errmsg, sizeof(store->errmsg), "meta '%s' is not %d bytes",
				 STORE_KEY_NAME, STORE_HASH_KEY_LEN);
			r = -EPROTO;
			goto error;
		}
		memcpy(store->key, blob, STORE_HASH_KEY_LEN);
	} else if (rc == SQLITE_DONE) {
		r = store_random(fresh, sizeof(fresh));
		if (r < 0) {
			snprintf(store->errmsg, sizeof(store->errmsg), "getrandom: %s",
				 strerror(-r));
			goto error;
		}
		rc = sqlite3_prepare_v2(store->db, "INSERT INTO meta (key, value) VALUES (?1, ?2)",
					-1, &ins, NULL);
		if (rc != SQLITE_OK)
			goto sqlite_error;
		sqlite3_bind_text(ins, 1, STORE_KEY_NAME, -1, SQLITE_STATIC);
		sqlite3_bind_blob(ins, 2, fresh, sizeof(fresh), SQLITE_STATIC);
		rc = sqlite3_step(ins);
		if (rc != SQLITE_DONE)
			goto sqlite_error;
		memcpy(store->key, fresh, sizeof(fresh));
	} else {
		goto sqlite_error;
	}
	sqlite3_finalize(sel);
	sqlite3_finalize(ins);
	explicit_bzero(fresh, sizeof(fresh));
	return store_exec(store, "COMMIT");

sqlite_error:
	r = store_fail(store, rc);
error:
	sqlite3_finalize(sel);
	sqlite3_finalize(ins);
	explicit_bzero(fresh, sizeof(fresh));
	if (!sqlite3_get_autocommit(store->db))
		sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

/* Reads the chain's tail (inside the write transaction, so it stays the tail). */
static int store_load_tail(struct store *store)
{
	sqlite3_stmt *stmt = store->stmt[STMT_TAIL];
	int rc, r = 0;

	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		const char *hash = (const char *)sqlite3_column_text(stmt, 1);

		store->tail_id = sqlite3_column_int64(stmt, 0);
		if (!hash || strlen(hash) != AUDIT_HASH_HEX_LEN) {
			snprintf(store->errmsg, sizeof(store->errmsg),
				 "journal row %lld has no hash", (long long)store->tail_id);
			r = -EPROTO;
		} else {
			memcpy(store->tail_hash, hash, sizeof(store->tail_hash));
		}
	} else if (rc == SQLITE_DONE) {
		store->tail_id = 0;
		memcpy(store->tail_hash, AUDIT_GENESIS, sizeof(store->tail_hash));
	} else {
		r = store_fail(store, rc);
	}
	sqlite3_reset(stmt);
	return r;
}

/* SQLite's wal hook, after each commit: replaces the automatic checkpoint, which
 * would run inside this commit (walckpt.h). The thread is asked again only after
 * another quarter of the limit, so a busy journal does not keep it syncing.
 *
 * The WAL starts over only when a write transaction begins after a checkpoint
 * that copied all of it. Commits that never pause can keep the thread from ever
 * catching up; past STORE_WAL_MAX_PAGES this commit finishes the checkpoint (as
 * SQLite's own hook would do at every limit), so the WAL stays bounded. */
static int store_wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct store *store = arg;

	if (pages > store->wal_peak)
		store->wal_peak = pages;
	if (pages < store->ckpt_asked_at) /* the WAL started over */
		store->ckpt_asked_at = 0;
	if (pages >= STORE_WAL_MAX_PAGES) {
		if (sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL) ==
		    SQLITE_OK)
			store->inline_checkpoints++;
	} else if (pages >= STORE_CKPT_PAGES &&
		   pages - store->ckpt_asked_at >= STORE_CKPT_PAGES / 4) {
		store->ckpt_asked_at = pages;
		walckpt_request(store->ckpt);
	}
	return SQLITE_OK;
}

static int store_upgrade_rows(struct store *store); /* with the appends below */

static void store_teardown(struct store *store)
{
	for (int i = 0; i < STMT_COUNT; i++)
		sqlite3_finalize(store->stmt[i]);
	/* Before the last close, which checkpoints what is left and removes the WAL. */
	walckpt_stop(store->ckpt);
	sqlite3_close(store->db);
	explicit_bzero(store->key, sizeof(store->key));
	checkrec_buf_free(&store->record);
	free(store);
}

int store_open(struct store **out, const char *path)
{
	struct store *store;
	int rc, r;

	if (!out || !path)
		return -EINVAL;
	*out = NULL;
	store = calloc(1, sizeof(*store));
	if (!store)
		return -ENOMEM;

	rc = sqlite3_open_v2(path, &store->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		/* CANTOPEN carries the real reason (ENOENT, EACCES, ...) in errno. */
		int sys = store->db ? sqlite3_system_errno(store->db) : 0;

		r = (rc & 0xff) == SQLITE_CANTOPEN && sys > 0 ? -sys : sqlite_errno(rc);
		goto error;
	}
	/* SQLite falls back to read-only when the file cannot be written; the journal
	 * is useless then, so say so now rather than at the first grant. */
	if (sqlite3_db_readonly(store->db, "main") == 1) {
		r = -EROFS;
		goto error;
	}

	r = store_pragmas(store);
	if (r < 0)
		goto error;
	r = store_migrate(store);
	if (r < 0)
		goto error;
	r = store_load_key(store);
	if (r < 0)
		goto error;

	for (int i = 0; i < STMT_COUNT; i++) {
		rc = sqlite3_prepare_v3(store->db, store_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
					&store->stmt[i], NULL);
		if (rc != SQLITE_OK) {
			r = store_fail(store, rc);
			goto error;
		}
	}
	r = store_upgrade_rows(store);
	if (r < 0)
		goto error;
	r = walckpt_start(&store->ckpt, path);
	if (r < 0) {
		snprintf(store->errmsg, sizeof(store->errmsg), "cannot start the checkpoint thread");
		goto error;
	}
	sqlite3_wal_hook(store->db, store_wal_hook, store);

	*out = store;
	return 0;

error:
	store_teardown(store);
	return r;
}

void store_close(struct store *store)
{
	if (!store)
		return;
	/* Callers who want to know whether the last rows made it call store_sync()
	 * first; here a failure can only be dropped. */
	store_sync(store);
	store_teardown(store);
}

sqlite3 *store_db(struct store *store)
{
	return store ? store->db : NULL;
}

const char *store_errmsg(struct store *store)
{
	if (!store)
		return "no store";
	return store->errmsg[0] ? store->errmsg : sqlite3_errmsg(store->db);
}

int store_code_hash(const struct store *store, const char *code, size_t len, char *out)
{
	static const char hex[] = "0123456789abcdef";
	struct hmac_sha256_ctx ctx;
	uint8_t md[SHA256_DIGEST_SIZE];

	if (!store || (!code && len) || !out)
		return -EINVAL;
	hmac_sha256_set_key(&ctx, sizeof(store->key), store->key);
	hmac_sha256_update(&ctx, len, (const uint8_t *)(code ? code : ""));
	hmac_sha256_digest(&ctx, sizeof(md), md);
	for (size_t i = 0; i < sizeof(md); i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0xf];
	}
	out[STORE_HASH_HEX_LEN] = '\0';
	/* The context holds the key's inner and outer states. */
	explicit_bzero(&ctx, sizeof(ctx));
	explicit_bzero(md, sizeof(md));
	return 0;
}

static void store_bind_text(sqlite3_stmt *stmt, int idx, const char *text)
{
	if (text)
		sqlite3_bind_text(stmt, idx, text, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(stmt, idx);
}

/* The open transaction is gone without our COMMIT: SQLite rolled it back by itself
 * (disk full, I/O error) or the purge did. */
static void store_txn_check(struct store *store)
{
	if (store->txn_open && sqlite3_get_autocommit(store->db)) {
		store->txn_lost = store->txn_open;
		store->txn_open = 0;
	}
}

/* The check record a hashed row makes (checkrec.h) into store->record: a scan's new
 * record, or the record of the check a step belongs to, extended. *check_time: the
 * check's scan time (for the seal). 1: the row has a record to write, 0: it has none
 * (an event), -EINVAL: a step for a row that is not a check. */
static int store_check_record(struct store *store, const struct audit_row *row,
			      int64_t *check_time)
{
	sqlite3_stmt *get = store->stmt[STMT_CHECK_GET];
	int rc, r;

	if (row->check_id <= 0) {
		if (strcmp(row->step, "scan") != 0)
			return 0;
		*check_time = row->time;
		r = checkrec_begin(row, &store->record);
		return r < 0 ? r : 1;
	}
	sqlite3_bind_int64(get, 1, row->check_id);
	rc = sqlite3_step(get);
	if (rc == SQLITE_ROW) {
		*check_time = sqlite3_column_int64(get, 0);
		r = checkrec_step((const char *)sqlite3_column_text(get, 1),
				  (size_t)sqlite3_column_bytes(get, 1), row, &store->record);
		if (r == -EINVAL)
			snprintf(store->errmsg, sizeof(store->errmsg),
				 "the record of check %lld is malformed", (long long)row->check_id);
		else if (r == 0)
			r = 1;
	} else if (rc == SQLITE_DONE) {
		snprintf(store->errmsg, sizeof(store->errmsg), "row %lld is not a check",
			 (long long)row->check_id);
		r = -EINVAL;
	} else {
		r = store_fail(store, rc);
	}
	sqlite3_reset(get);
	return r;
}

/* Writes store->record for the row's check (after store_check_record). */
static int store_check_write(struct store *store, const struct audit_row *row,
			     int64_t check_time)
{
	enum store_stmt id = row->check_id > 0 ? STMT_CHECK_SET : STMT_CHECK_NEW;
	sqlite3_stmt *stmt = store->stmt[id];
	int64_t check_id = row->check_id > 0 ? row->check_id : row->id;
	char seal[CHECKREC_SEAL_HEX_LEN + 1];
	int k = 1;

	checkrec_seal(check_id, check_time, store->record.p, store->record.len, seal);
	sqlite3_bind_int64(stmt, k++, check_id);
	sqlite3_bind_int64(stmt, k++, id == STMT_CHECK_SET ? row->id : check_time);
	sqlite3_bind_text(stmt, k++, store->record.p, (int)store->record.len, SQLITE_STATIC);
	sqlite3_bind_text(stmt, k++, seal, -1, SQLITE_STATIC);
	return store_step_done(store, id);
}

/* A journal from before a migration gets what it added, once, in one pass in id
 * order and one transaction: rows from before 0002 their hashes, checks from
 * before 0004 their records (which need the hashes). Rows without hashes are a
 * prefix (a trigger refuses new ones without), so the first row tells whether any
 * lack them; 0004 left a request in meta. Neither test reads the whole journal. */
static int store_upgrade_rows(struct store *store)
{
	char prev[AUDIT_HASH_HEX_LEN + 1] = AUDIT_GENESIS, hash[AUDIT_HASH_HEX_LEN + 1];
	sqlite3_stmt *sel = NULL, *upd = NULL;
	int64_t unhashed = 0, records = 0, check_time = 0;
	int rc = SQLITE_OK, r;

	r = store_query_int(store, "SELECT count(*) FROM (SELECT hash FROM journal"
			    " ORDER BY id LIMIT 1) WHERE hash IS NULL", &unhashed);
	if (r == 0)
		r = store_query_int(store, "SELECT count(*) FROM meta WHERE key = 'checks_backfill'",
				    &records);
	if (r < 0 || (!unhashed && !records))
		return r;
	r = store_exec(store, "BEGIN IMMEDIATE");
	if (r < 0)
		return r;
	rc = sqlite3_prepare_v2(store->db,
				"SELECT " AUDIT_ROW_COLUMNS " FROM journal ORDER BY id", -1, &sel,
				NULL);
	if (rc == SQLITE_OK && unhashed)
		rc = sqlite3_prepare_v2(store->db,
					"UPDATE journal SET prev_hash = ?1, hash = ?2 WHERE id = ?3",
					-1, &upd, NULL);
	if (rc != SQLITE_OK) {
		r = store_fail(store, rc);
		goto out;
	}
	/* Only the hashes change, so stepping the SELECT over the rows being updated
	 * is safe: no index it reads is touched. */
	while (r == 0 && (rc = sqlite3_step(sel)) == SQLITE_ROW) {
		struct audit_row row;

		audit_row_read(sel, 0, &row);
		if (!row.hash) {
			row.prev_hash = prev;
			r = audit_row_hash(&row, hash);
			if (r < 0)
				break;
			sqlite3_bind_text(upd, 1, prev, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(upd, 2, hash, -1, SQLITE_STATIC);
			sqlite3_bind_int64(upd, 3, row.id);
			rc = sqlite3_step(upd);
			sqlite3_reset(upd);
			if (rc != SQLITE_DONE) {
				r = store_fail(store, rc);
				break;
			}
			row.hash = hash;
		}
		snprintf(prev, sizeof(prev), "%s", row.hash);
		if (!records)
			continue;
		r = store_check_record(store, &row, &check_time);
		if (r == -EINVAL && row.check_id > 0)
			r = 0; /* a step of a row that is no scan: no record to keep */
		else if (r > 0)
			r = store_check_write(store, &row, check_time);
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = store_fail(store, rc);
	if (r == 0 && records)
		r = store_exec(store, "DELETE FROM meta WHERE key = 'checks_backfill'");
out:
	sqlite3_finalize(sel);
	sqlite3_finalize(upd);
	if (r == 0)
		return store_exec(store, "COMMIT");
	if (!sqlite3_get_autocommit(store->db))
		sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

/* One journal row into the open transaction: hashed, inserted, its check's record
 * written. Statement failures leave the transaction as it was, except that a row
 * whose record cannot follow it takes the transaction with it; if SQLite rolled it
 * back by itself (disk full, I/O error) the earlier unsynced rows went with it. */
static int store_insert_row(struct store *store, int64_t time_ms, const char *lane,
			    int64_t check_id, const char *step, const char *value,
			    const char *source, const char *code_kind, const char *code_hash,
			    const char *request_id, const char *detail, int64_t *row_id)
{
	sqlite3_stmt *stmt = store->stmt[STMT_INSERT];
	struct audit_row row;
	char hash[AUDIT_HASH_HEX_LEN + 1];
	int64_t check_time = 0;
	int has_record, r;

	row = (struct audit_row){.id = store->tail_id + 1,
				 .time = time_ms,
				 .lane = lane,
				 .check_id = check_id,
				 .step = step,
				 .value = value,
				 .source = source,
				 .code_kind = code_kind,
				 .code_hash = code_hash,
				 .request_id = request_id,
				 .detail = detail,
				 .prev_hash = store->tail_hash};
	r = audit_row_hash(&row, hash);
	if (r < 0)
		return r;
	row.hash = hash;
	has_record = store_check_record(store, &row, &check_time);
	if (has_record < 0)
		return has_record;

	sqlite3_bind_int64(stmt, 1, time_ms);
	store_bind_text(stmt, 2, lane);
	if (check_id > 0)
		sqlite3_bind_int64(stmt, 3, check_id);
	else
		sqlite3_bind_null(stmt, 3);
	store_bind_text(stmt, 4, step);
	store_bind_text(stmt, 5, value);
	store_bind_text(stmt, 6, source);
	store_bind_text(stmt, 7, code_kind);
	store_bind_text(stmt, 8, code_hash);
	store_bind_text(stmt, 9, request_id);
	store_bind_text(stmt, 10, detail);
	sqlite3_bind_int64(stmt, 11, row.id);
	sqlite3_bind_text(stmt, 12, store->tail_hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 13, hash, -1, SQLITE_STATIC);
	r = store_step_done(store, STMT_INSERT);
	if (r < 0)
		return r;
	if (has_record) {
		r = store_check_write(store, &row, check_time);
		if (r < 0) {
			/* The row is in, its record is not: neither may be committed. */
			sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
			store_txn_check(store);
			return r;
		}
	}
	store->tail_id = row.id;
	memcpy(store->tail_hash, hash, sizeof(store->tail_hash));
	if (row_id)
		*row_id = row.id;
	return 0;
}

/* One journal row: opens the group-commit transaction if none is open, then
 * inserts. A failed insert leaves an open transaction as it was; one this call
 * opened is rolled back, so that a refused row never leaves an empty transaction
 * whose commit would pass for a journal that records again. */
static int store_insert(struct store *store, int64_t time_ms, const char *lane, int64_t check_id,
			const char *step, const char *value, const char *source,
			const char *code_kind, const char *code_hash, const char *request_id,
			const char *detail, int64_t *row_id)
{
	bool opened = false;
	int r;

	store->errmsg[0] = '\0';
	store_txn_check(store);
	if (sqlite3_get_autocommit(store->db)) {
		r = store_step_done(store, STMT_BEGIN);
		if (r == 0)
			r = store_load_tail(store);
		if (r < 0) {
			if (!sqlite3_get_autocommit(store->db))
				sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
			return r;
		}
		store->txn_open = ++store->txn_seq;
		opened = true;
	}
	r = store_insert_row(store, time_ms, lane, check_id, step, value, source, code_kind,
			     code_hash, request_id, detail, row_id);
	if (r < 0 && opened && !sqlite3_get_autocommit(store->db)) {
		sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
		store->txn_open = 0;
	}
	return r;
}

int store_append_scan(struct store *store, int64_t time_ms, const char *lane, const char *source,
		      const char *code_kind, const char *code_hash, const char *request_id,
		      const char *detail, int64_t *check_id)
{
	if (!store || !lane)
		return -EINVAL;
	/* A scan's facts live in their own columns; value is empty. */
	return store_insert(store, time_ms, lane, 0, "scan", "", source, code_kind, code_hash,
			    request_id, detail, check_id);
}

int store_append_step(struct store *store, int64_t check_id, int64_t time_ms, const char *lane,
		      const char *step, const char *value, const char *detail)
{
	if (!store || check_id <= 0 || !lane || !step || !value || !strcmp(step, "scan") ||
	    !strcmp(step, "event"))
		return -EINVAL;
	return store_insert(store, time_ms, lane, check_id, step, value, NULL, NULL, NULL, NULL,
			    detail, NULL);
}

int store_append_event(struct store *store, int64_t time_ms, const char *lane, const char *kind,
		       const char *detail, int64_t *row_id)
{
	if (!store || !lane || !kind)
		return -EINVAL;
	return store_insert(store, time_ms, lane, 0, "event", kind, NULL, NULL, NULL, NULL, detail,
			    row_id);
}

bool store_pending(const struct store *store)
{
	return store && !sqlite3_get_autocommit(store->db);
}

int store_sync(struct store *store)
{
	int r;

	if (!store)
		return -EINVAL;
	store->errmsg[0] = '\0';
	store_txn_check(store);
	if (sqlite3_get_autocommit(store->db))
		return 0;
	r = store_step_done(store, STMT_COMMIT);
	if (r == 0) {
		store->commits++;
		store->txn_committed = store->txn_open;
		store->txn_open = 0;
		return 0;
	}
	if (!sqlite3_get_autocommit(store->db)) {
		/* A COMMIT that failed with BUSY leaves the transaction open; we roll
		 * back so the next append starts clean and the loss is reported once. */
		sqlite3_step(store->stmt[STMT_ROLLBACK]);
		sqlite3_reset(store->stmt[STMT_ROLLBACK]);
	}
	store->txn_lost = store->txn_open;
	store->txn_open = 0;
	return r;
}

void store_set_commit_hook(struct store *store, void (*fn)(void *ctx), void *ctx)
{
	store->commit_hook = fn;
	store->commit_ctx = ctx;
}

int store_commit_soon(struct store *store)
{
	if (!store)
		return -EINVAL;
	if (!store->commit_hook)
		return store_sync(store);
	store->commit_hook(store->commit_ctx);
	return 0;
}

uint64_t store_txn(const struct store *store)
{
	return store && !sqlite3_get_autocommit(store->db) ? store->txn_open : 0;
}

int store_txn_durable(struct store *store, uint64_t txn)
{
	store_txn_check(store);
	if (txn && txn == store->txn_open)
		return 0;
	/* Only the last lost transaction is remembered: one lost after txn makes the
	 * answer "lost" even if txn made it, which errs on the side of not opening. */
	return txn && txn <= store->txn_committed && txn > store->txn_lost ? 1 : -EIO;
}

void store_stats(struct store *store, struct store_stats *out)
{
	struct walckpt_stats ws;

	walckpt_stats(store->ckpt, &ws);
	*out = (struct store_stats){.commits = store->commits,
				    .checkpoints = ws.runs,
				    .inline_checkpoints = store->inline_checkpoints,
				    .wal_peak_pages = store->wal_peak,
				    .checkpoint_error = ws.last_error};
}

int store_recently_granted(struct store *store, const char *code_hash, int64_t since_ms)
{
	sqlite3_stmt *stmt;
	int rc, r;

	if (!store || !code_hash)
		return -EINVAL;
	store->errmsg[0] = '\0';
	stmt = store->stmt[STMT_GRANTED];
	sqlite3_bind_text(stmt, 1, code_hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, since_ms);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		r = sqlite3_column_int(stmt, 0) ? 1 : 0;
	else
		r = store_fail(store, rc);
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	return r;
}

static int store_stmt_int(struct store *store, const char *sql, int64_t arg, int64_t *out,
			  bool *null)
{
	sqlite3_stmt *stmt;
	int rc, r = 0;

	*out = 0;
	*null = true;
	rc = sqlite3_prepare_v2(store->db, sql, -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return store_fail(store, rc);
	sqlite3_bind_int64(stmt, 1, arg);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*null = sqlite3_column_type(stmt, 0) == SQLITE_NULL;
		*out = sqlite3_column_int64(stmt, 0);
	} else {
		r = store_fail(store, rc);
	}
	sqlite3_finalize(stmt);
	return r;
}

/* The purge, inside the open write transaction. */
static int store_purge_tx(struct store *store, int64_t cutoff_ms, int64_t now_ms,
			  uint64_t *purged)
{
	char detail[256], prefix[AUDIT_HASH_HEX_LEN + 1], num[32];
	sqlite3_stmt *stmt = NULL;
	int64_t keep, first, v, count;
	bool null;
	int rc, r;

	r = store_stmt_int(store, "SELECT min(id) FROM journal WHERE time >= ?1", cutoff_ms, &keep,
			   &null);
	if (r < 0)
		return r;
	if (null)
		keep = store->tail_id + 1; /* everything goes but the checkpoint */
	/* A check's steps must not outlive its scan row (they reference it). */
	for (;;) {
		r = store_stmt_int(store,
				   "SELECT min(check_id) FROM journal WHERE id >= ?1"
				   " AND check_id IS NOT NULL",
				   keep, &v, &null);
		if (r < 0)
			return r;
		if (null || v >= keep)
			break;
		keep = v;
	}
	r = store_stmt_int(store, "SELECT min(id) FROM journal WHERE id >= ?1", INT64_MIN, &first,
			   &null);
	if (r < 0)
		return r;
	if (null || keep <= first)
		return 0;
	r = store_stmt_int(store, "SELECT count(*) FROM journal WHERE id < ?1", keep, &count,
			   &null);
	if (r < 0)
		return r;

	rc = sqlite3_prepare_v2(store->db, "SELECT hash FROM journal WHERE id < ?1"
				" ORDER BY id DESC LIMIT 1", -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return store_fail(store, rc);
	sqlite3_bind_int64(stmt, 1, keep);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW && sqlite3_column_bytes(stmt, 0) == AUDIT_HASH_HEX_LEN)
		memcpy(prefix, sqlite3_column_text(stmt, 0), sizeof(prefix));
	else
		r = rc == SQLITE_ROW ? -EPROTO : store_fail(store, rc);
	sqlite3_finalize(stmt);
	if (r < 0)
		return r;

	snprintf(detail, sizeof(detail),
		 "{\"first_kept_id\":%lld,\"prefix_hash\":\"%s\",\"purged_rows\":%lld,"
		 "\"cutoff\":%lld}",
		 (long long)keep, prefix, (long long)count, (long long)cutoff_ms);
	r = store_insert(store, now_ms, "-", 0, "event", AUDIT_CHECKPOINT, NULL, NULL, NULL, NULL,
			 detail, NULL);
	if (r < 0)
		return r;

	/* The DELETE trigger lets rows below meta 'purge_below' go, and only them. */
	rc = sqlite3_prepare_v2(store->db, "INSERT OR REPLACE INTO meta (key, value)"
				" VALUES ('purge_below', CAST(?1 AS BLOB))", -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return store_fail(store, rc);
	snprintf(num, sizeof(num), "%lld", (long long)keep);
	sqlite3_bind_text(stmt, 1, num, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return store_fail(store, rc);
	rc = sqlite3_prepare_v2(store->db, "DELETE FROM journal WHERE id < ?1", -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return store_fail(store, rc);
	sqlite3_bind_int64(stmt, 1, keep);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return store_fail(store, rc);
	r = store_exec(store, "DELETE FROM meta WHERE key = 'purge_below'");
	if (r < 0)
		return r;
	*purged = (uint64_t)count;
	return 0;
}

int store_purge(struct store *store, int64_t cutoff_ms, int64_t now_ms, uint64_t *purged)
{
	uint64_t n = 0;
	int r;

	if (!store)
		return -EINVAL;
	if (purged)
		*purged = 0;
	/* Pending rows first: the purge commits on its own. */
	r = store_sync(store);
	if (r < 0)
		return r;
	r = store_step_done(store, STMT_BEGIN);
	if (r == 0) {
		store->txn_open = ++store->txn_seq;
		r = store_load_tail(store);
	}
	if (r == 0)
		r = store_purge_tx(store, cutoff_ms, now_ms, &n);
	if (r < 0) {
		if (!sqlite3_get_autocommit(store->db))
			sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
		store_txn_check(store);
		return r;
	}
	r = store_sync(store);
	if (r == 0 && purged)
		*purged = n;
	return r;
}
