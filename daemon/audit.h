/* audit.h: the journal's hash chain: the canonical row hash, and verification of
 * the chain and the check records in a journal file, or of a JSON Lines export.
 *
 * hash = SHA-256("tsj1\n" || prev_hash || "\n" || canonical(row)) as lowercase hex,
 * where canonical(row) encodes id, time, lane, check_id, step, value, source,
 * code_kind, code_hash, request_id, detail in this order: an integer as
 * "I<decimal>;", a text as "T<byte length>:<bytes>", NULL as "N". prev_hash is the
 * hash of the row before (by id); the first row ever has AUDIT_GENESIS. After a
 * retention purge the first remaining row's prev_hash is the hash the purged prefix
 * ended with, recorded in a later 'retention_checkpoint' event row (detail JSON
 * {"first_kept_id":N,"prefix_hash":"...","purged_rows":M}), itself in the chain.
 */
#ifndef TS_AUDIT_H
#define TS_AUDIT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sqlite3.h>

#define AUDIT_HASH_HEX_LEN 64
#define AUDIT_GENESIS "0000000000000000000000000000000000000000000000000000000000000000"
#define AUDIT_CHECKPOINT "retention_checkpoint"

/* One journal row; NULL text and check_id <= 0 are SQL NULL. */
struct audit_row {
	int64_t id;
	int64_t time;
	int64_t check_id;
	const char *lane, *step, *value, *source, *code_kind, *code_hash, *request_id, *detail;
	const char *prev_hash, *hash;
};

struct audit_report {
	uint64_t rows;       /* rows checked */
	uint64_t records;    /* file: records (lines) checked */
	int64_t bad_id;      /* first broken row (or check) id, 0: none */
	uint64_t bad_line;   /* file: line of the first broken record, 0: none */
	int64_t last_id;     /* last row checked (file: named) */
	char head[AUDIT_HASH_HEX_LEN + 1]; /* hash of the last row checked */
	char reason[200];    /* what is wrong, when broken */
};

/* A tag, a decimal number and an end mark of the encoding ("I-42;", "T17:") into buf
 * (at least 24 bytes); its length. */
size_t audit_number(char *buf, char tag, int64_t v, char end);

/* Writes the row's hash (65 bytes with NUL) computed over row->prev_hash. */
int audit_row_hash(const struct audit_row *row, char *out);

/* The SELECT list that audit_row_read() expects at column first. */
#define AUDIT_ROW_COLUMNS                                                                         \
	"id, time, lane, check_id, step, value, source, code_kind, code_hash, request_id, "       \
	"detail, prev_hash, hash"
void audit_row_read(sqlite3_stmt *stmt, int first, struct audit_row *row);

/* Walks the whole chain of a journal (any connection; read-only is enough) in one
 * pass in id order, and with it proves table checks (checkrec.h): every check's
 * record is rebuilt from its rows with checkrec_begin()/checkrec_step() as store.c
 * builds it and must equal the stored record byte for byte, with last_id its last
 * row, time its scan's time and seal checkrec_seal() of the record. Every scan row
 * has a record, every record a scan row, every step row an open check. Memory is
 * bounded by the checks open at once, not by the journal. Then checks the holder
 * rows kept beside it against their digests (holder.h). 0: intact, 1: broken (rep
 * says where and why: bad_id is the row, or the check whose record is wrong),
 * negative errno on errors. */
int audit_verify_db(sqlite3 *db, struct audit_report *rep);

/* Verifies a JSON Lines export (export.h), one check per line: exactly the export's
 * keys, each once; check_id and time_ms integers, the rest strings; check_ids
 * ascending; time the instant of time_ms; row_hashes well formed ("ID:HASH ..." from
 * the check's own row on, ids ascending, 64 lowercase hex); seal = checkrec_seal() of
 * the line's fields. A file has no secret: whoever can write it can reseal an
 * edited line, and a line removed leaves no trace. With db (any connection to the
 * journal), each line's record must also be what the journal's rows of that check
 * make, byte for byte (the first differing field is named). rep: records = lines,
 * rows = rows named by row_hashes, last_id/head = the last one named; bad_line and
 * bad_id (the check) where broken. 0 intact, 1 broken, negative errno. */
int audit_verify_file(FILE *in, sqlite3 *db, struct audit_report *rep);

#endif
