/* checkrec.h: the record of one check, as managers read it: the scan's facts, the
 * automatic verdict, the attendant's decision and the gate result side by side,
 * with the ids and chain hashes of the journal rows it was made from.
 *
 * The journal keeps one record per check in table checks (schema/0004_checks.sql),
 * updated by store.c with every row the check gets, so that an export reads one row
 * per check. A record follows the check_export view of 0001_init.sql: the last step
 * of each kind wins; defaults are verdict "none", attendant "not_required", gate
 * "none", grant_dir ""; NULL facts of the scan read as "". reason is the "reason"
 * member of the last verdict's detail (a string as it is, another value but null as
 * cJSON prints it, "" when the detail is not a JSON object). rows is "ID:HASH" for
 * every row of the check (its scan, then each row whose check_id is the scan's id)
 * in id order, separated by single spaces.
 *
 * Encoding (column checks.record): the fields in enum checkrec_field order, each as
 * "T<byte length>:<bytes>" (as audit.h encodes texts). The seal (column checks.seal,
 * carried by every export line) is SHA-256("tsc1\n" || "I<check_id>;" || "I<time>;"
 * || record) as lowercase hex: it lets an exported line be checked on its own
 * (audit.h), and audit_verify_db() rebuilds every record from the journal.
 */
#ifndef TS_CHECKREC_H
#define TS_CHECKREC_H

#include <stddef.h>
#include <stdint.h>

#include "audit.h"

#define CHECKREC_SEAL_HEX_LEN 64

enum checkrec_field {
	CR_LANE,
	CR_SOURCE,
	CR_CODE_KIND,
	CR_VERDICT,
	CR_ATTENDANT,
	CR_GATE,
	CR_GRANT_DIR,
	CR_REQUEST_ID,
	CR_REASON,
	CR_ROWS,
	CR_FIELDS
};

/* The fields' names in exports, in enum order. */
extern const char *const checkrec_names[CR_FIELDS];

/* A decoded record: views into the encoding it was decoded from (not NUL-ended). */
struct checkrec {
	const char *text[CR_FIELDS];
	size_t len[CR_FIELDS];
};

/* A growable encoding; zero-initialise, reuse, free with checkrec_buf_free(). */
struct checkrec_buf {
	char *p;
	size_t len, cap;
};

void checkrec_buf_free(struct checkrec_buf *buf);

/* Splits an encoding into its fields. 0, or -EINVAL if it is not one. */
int checkrec_decode(const char *enc, size_t len, struct checkrec *rec);

/* Encodes rec into out (replacing what out held). 0 or -ENOMEM. */
int checkrec_encode(const struct checkrec *rec, struct checkrec_buf *out);

/* The record of a check whose only row so far is its scan. 0 or negative errno
 * (-EINVAL: the row is not a scan or has no hash). */
int checkrec_begin(const struct audit_row *scan, struct checkrec_buf *out);

/* The record after one more row of its check: enc (len bytes) is the record so far,
 * out gets the new one (out must not hold enc). 0 or negative errno. */
int checkrec_step(const char *enc, size_t len, const struct audit_row *row,
		  struct checkrec_buf *out);

/* A record built row by row and encoded once, for a reader that replays many checks
 * (audit.c): the same record as checkrec_begin() and checkrec_step() give, without
 * encoding it after every row. Zero-initialise, reuse, free with
 * checkrec_build_free(). */
struct checkrec_build {
	struct checkrec_buf field[CR_FIELDS];
};

int checkrec_build_begin(struct checkrec_build *b, const struct audit_row *scan);
int checkrec_build_step(struct checkrec_build *b, const struct audit_row *row);
int checkrec_build_encode(const struct checkrec_build *b, struct checkrec_buf *out);
void checkrec_build_free(struct checkrec_build *b);

/* The seal of a record (65 bytes with the NUL into out). */
void checkrec_seal(int64_t check_id, int64_t time_ms, const char *enc, size_t len, char *out);

#endif
