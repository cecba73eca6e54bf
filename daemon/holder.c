/* holder.c: masked personal data beside the hash chain (see holder.h).
 *
 * The digest uses the same length-prefixed encoding as the chain, so no choice of
 * field contents makes two different holders digest alike. Statements are prepared
 * per call: a put happens once per Gosuslugi check that carries a holder (seconds
 * apart at the busiest entrance), a drop once an hour, a verify on request.
 */
#include "holder.h"
#include "sqlite_errno.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include <nettle/sha2.h>

static const char holder_hex[] = "0123456789abcdef";

int holder_salt(char *out)
{
	unsigned char raw[HOLDER_SALT_HEX_LEN / 2];
	size_t got = 0;

	if (!out)
		return -EINVAL;
	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof(raw); i++) {
		out[2 * i] = holder_hex[raw[i] >> 4];
		out[2 * i + 1] = holder_hex[raw[i] & 0xf];
	}
	out[HOLDER_SALT_HEX_LEN] = '\0';
	return 0;
}

static void holder_put_text(struct sha256_ctx *ctx, const char *s)
{
	char buf[32];
	size_t len = strlen(s);
	int n = snprintf(buf, sizeof(buf), "T%zu:", len);

	sha256_update(ctx, (size_t)n, (const uint8_t *)buf);
	sha256_update(ctx, len, (const uint8_t *)s);
}

int holder_digest(const char *salt, const struct holder_fields *h, char *out)
{
	uint8_t md[SHA256_DIGEST_SIZE];
	struct sha256_ctx ctx;

	if (!salt || strlen(salt) != HOLDER_SALT_HEX_LEN || !h || !h->initials ||
	    !h->birth_date || !h->doc || !out)
		return -EINVAL;
	sha256_init(&ctx);
	sha256_update(&ctx, 5, (const uint8_t *)"tsh1\n");
	sha256_update(&ctx, HOLDER_SALT_HEX_LEN, (const uint8_t *)salt);
	sha256_update(&ctx, 1, (const uint8_t *)"\n");
	holder_put_text(&ctx, h->initials);
	holder_put_text(&ctx, h->birth_date);
	holder_put_text(&ctx, h->doc);
	sha256_digest(&ctx, sizeof(md), md);
	for (size_t i = 0; i < sizeof(md); i++) {
		out[2 * i] = holder_hex[md[i] >> 4];
		out[2 * i + 1] = holder_hex[md[i] & 0xf];
	}
	out[HOLDER_DIGEST_HEX_LEN] = '\0';
	return 0;
}

int holder_put(sqlite3 *db, int64_t check_id, int64_t time_ms, const char *salt,
	       const struct holder_fields *h)
{
	sqlite3_stmt *stmt;
	int rc;

	if (!db || check_id <= 0 || !salt || strlen(salt) != HOLDER_SALT_HEX_LEN || !h ||
	    !h->initials || !h->birth_date || !h->doc)
		return -EINVAL;
	rc = sqlite3_prepare_v2(db, "INSERT INTO holder (check_id, time, salt, initials,"
				" birth_date, doc) VALUES (?1, ?2, ?3, ?4, ?5, ?6)", -1, &stmt,
				NULL);
	if (rc != SQLITE_OK)
		return sqlite_errno(rc);
	sqlite3_bind_int64(stmt, 1, check_id);
	sqlite3_bind_int64(stmt, 2, time_ms);
	sqlite3_bind_text(stmt, 3, salt, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 4, h->initials, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 5, h->birth_date, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 6, h->doc, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? 0 : sqlite_errno(rc);
}

int holder_drop(sqlite3 *db, int64_t before_ms, uint64_t *dropped)
{
	sqlite3_stmt *stmt;
	int rc;

	if (dropped)
		*dropped = 0;
	if (!db)
		return -EINVAL;
	rc = sqlite3_prepare_v2(db, "DELETE FROM holder WHERE time < ?1", -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return sqlite_errno(rc);
	sqlite3_bind_int64(stmt, 1, before_ms);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return sqlite_errno(rc);
	if (dropped)
		*dropped = (uint64_t)sqlite3_changes64(db);
	return 0;
}

int holder_verify(sqlite3 *db, int64_t *bad_check)
{
	/* The digest of the check's last verdict (the one the export shows). */
	static const char sql[] =
	    "SELECT h.check_id, h.salt, h.initials, h.birth_date, h.doc,"
	    " (SELECT CASE WHEN json_valid(v.detail) THEN json_extract(v.detail, '$.holder_digest')"
	    " END FROM journal v WHERE v.check_id = h.check_id AND v.step = 'verdict'"
	    " ORDER BY v.id DESC LIMIT 1)"
	    " FROM holder h ORDER BY h.check_id";
	char digest[HOLDER_DIGEST_HEX_LEN + 1];
	sqlite3_stmt *stmt;
	int rc, r = 0;

	if (!db || !bad_check)
		return -EINVAL;
	*bad_check = 0;
	rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
	if (rc != SQLITE_OK) {
		/* A journal that has not met 0003 yet has no holder table. */
		return strstr(sqlite3_errmsg(db), "no such table") ? 0 : sqlite_errno(rc);
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct holder_fields h = {
		    .initials = (const char *)sqlite3_column_text(stmt, 2),
		    .birth_date = (const char *)sqlite3_column_text(stmt, 3),
		    .doc = (const char *)sqlite3_column_text(stmt, 4),
		};
		const char *salt = (const char *)sqlite3_column_text(stmt, 1);
		const char *want = (const char *)sqlite3_column_text(stmt, 5);

		if (!want || holder_digest(salt ? salt : "", &h, digest) < 0 ||
		    strcmp(digest, want) != 0) {
			*bad_check = sqlite3_column_int64(stmt, 0);
			r = 1;
			break;
		}
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = sqlite_errno(rc);
	sqlite3_finalize(stmt);
	return r;
}
