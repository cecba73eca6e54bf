/* holder.h: the privacy policy's store for the masked personal data of a check.
 *
 * The portal's masked holder fields (initials, birth date, passport fragment) are
 * kept in the holder table (schema/0003_holder.sql), not in the hash-chained
 * journal rows, so that they can be dropped after N days without touching the
 * chain. The verdict row commits to them: its detail carries
 *   holder_digest = SHA-256("tsh1\n" || salt || "\n" || T<len>:initials ||
 *                           T<len>:birth_date || T<len>:doc) as lowercase hex
 * (the length-prefixed text encoding of audit.h), with salt 32 random hex digits
 * kept only in the holder row. So an edited holder row no longer matches its
 * digest (holder_verify), and a dropped one leaves a digest that cannot be guessed
 * back from the few possible initials and birth dates.
 *
 * Policy (config): gosuslugi.keep_holder = no: never stored (no digest either);
 * yes with store.holder_days = 0: kept as long as the check's journal rows;
 * yes with store.holder_days = N: dropped N days after the check.
 *
 * These run on the store's connection and inside its open transaction (the row
 * commits with the verdict row that names it). Nothing here logs.
 */
#ifndef TS_HOLDER_H
#define TS_HOLDER_H

#include <stdint.h>
#include <sqlite3.h>

#define HOLDER_SALT_HEX_LEN 32
#define HOLDER_DIGEST_HEX_LEN 64

struct holder_fields {
	const char *initials, *birth_date, *doc;
};

/* A fresh random salt, 33 bytes with NUL. 0 or negative errno. */
int holder_salt(char *out);
/* The digest of the fields under salt, 65 bytes with NUL. 0 or negative errno. */
int holder_digest(const char *salt, const struct holder_fields *h, char *out);

/* Stores the fields of check_id (its scan row id) at time_ms. 0 or negative errno. */
int holder_put(sqlite3 *db, int64_t check_id, int64_t time_ms, const char *salt,
	       const struct holder_fields *h);
/* Drops the rows stored before before_ms; *dropped counts them. 0 or negative errno. */
int holder_drop(sqlite3 *db, int64_t before_ms, uint64_t *dropped);

/* Checks every stored row against the holder_digest of its check's last verdict row.
 * 0: all match (or the journal predates the holder table), 1: *bad_check's does not,
 * negative errno on errors. */
int holder_verify(sqlite3 *db, int64_t *bad_check);

#endif
