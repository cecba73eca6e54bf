/* export.h: one record per check (checkrec.h), streamed as CSV (RFC 4180, UTF-8,
 * header row) or JSON Lines from table checks in one ordered read, in constant
 * memory (export.c). Works on a read-only connection (turnstilectl opens the journal
 * itself, so a large export never stalls the daemon's loop).
 *
 * Fields, in this order: check_id, time (ISO 8601 local time with offset), lane,
 * source, code_kind, verdict, attendant, gate, grant_dir, request_id, reason, then
 * (JSON Lines only) time_ms, the scan row's Unix ms, then row_hashes ("ID:HASH ..."
 * of the check's journal rows) and seal (checkrec.h), so that audit_verify_file()
 * can check a line on its own and against the journal (audit.h).
 */
#ifndef TS_EXPORT_H
#define TS_EXPORT_H

#include <stdint.h>
#include <stdio.h>
#include <sqlite3.h>

enum export_format { EXPORT_CSV, EXPORT_JSONL };

struct export_filter {
	int64_t since_ms; /* INT64_MIN: no bound */
	int64_t until_ms; /* INT64_MAX: no bound; exclusive */
	const char *lane; /* NULL: all lanes */
	const char *verdict; /* NULL: any verdict ("none": checks without one) */
};

/* Opens path read-only for export; 0 or negative errno. */
int export_open_db(const char *path, sqlite3 **db);
/* Writes the records; *rows counts them. 0 or negative errno (-EIO on write errors). */
int export_run(sqlite3 *db, const struct export_filter *filter, enum export_format format,
	       FILE *out, uint64_t *rows);
/* Summary per local day and lane: day, lane, checks, entries (passed, direction a),
 * exits (passed, b), denied (no grant, verdict not valid), rejected (valid, no
 * grant), manual_opens, not_passed, denied_by_reason ("used:2 expired:1"). */
int export_summary(sqlite3 *db, const struct export_filter *filter, enum export_format format,
		   FILE *out, uint64_t *rows);
/* Parses "2026-12-01", "2026-12-01T19:00[:SS]" (local time) or an integer of Unix ms. */
int export_parse_time(const char *text, int64_t *ms);

#endif
