/* checkrec.c: the check record, its encoding and its seal (see checkrec.h).
 *
 * Pure functions over journal rows: no SQL here. store.c calls checkrec_begin() and
 * checkrec_step() as it appends, audit.c calls them again over the journal to prove
 * the stored records, and export.c only decodes. A step decodes the record it
 * extends into views and encodes the new one from them, so nothing is parsed twice
 * and a record is never edited in place.
 */
#include "checkrec.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <nettle/sha2.h>

const char *const checkrec_names[CR_FIELDS] = {
    [CR_LANE] = "lane",		  [CR_SOURCE] = "source",	  [CR_CODE_KIND] = "code_kind",
    [CR_VERDICT] = "verdict",	  [CR_ATTENDANT] = "attendant",	  [CR_GATE] = "gate",
    [CR_GRANT_DIR] = "grant_dir", [CR_REQUEST_ID] = "request_id", [CR_REASON] = "reason",
    [CR_ROWS] = "row_hashes",
};

void checkrec_buf_free(struct checkrec_buf *buf)
{
	if (!buf)
		return;
	free(buf->p);
	*buf = (struct checkrec_buf){0};
}

static bool buf_reserve(struct checkrec_buf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->len + n <= b->cap)
		return true;
	cap = b->cap ? b->cap : 512;
	while (cap < b->len + n)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p)
		return false;
	b->p = p;
	b->cap = cap;
	return true;
}

int checkrec_decode(const char *enc, size_t len, struct checkrec *rec)
{
	const char *p = enc, *end = enc + len;

	if (!enc || !rec)
		return -EINVAL;
	for (int f = 0; f < CR_FIELDS; f++) {
		size_t n = 0;

		if (p == end || *p++ != 'T' || p == end || *p < '0' || *p > '9')
			return -EINVAL;
		/* No leading zeros, so one length has one spelling. */
		if (*p == '0' && p + 1 < end && p[1] != ':')
			return -EINVAL;
		while (p < end && *p >= '0' && *p <= '9') {
			if (n > (size_t)(end - enc))
				return -EINVAL;
			n = n * 10 + (size_t)(*p++ - '0');
		}
		if (p == end || *p++ != ':' || n > (size_t)(end - p))
			return -EINVAL;
		rec->text[f] = p;
		rec->len[f] = n;
		p += n;
	}
	return p == end ? 0 : -EINVAL;
}

/* Encodes rec, with extra (extra_len bytes, may be 0) appended to its rows. */
static int encode(const struct checkrec *rec, const char *extra, size_t extra_len,
		  struct checkrec_buf *out)
{
	out->len = 0;
	for (int f = 0; f < CR_FIELDS; f++) {
		size_t n = rec->len[f] + (f == CR_ROWS ? extra_len : 0);
		char num[32];
		size_t k = audit_number(num, 'T', (int64_t)n, ':');

		if (!buf_reserve(out, k + n))
			return -ENOMEM;
		memcpy(out->p + out->len, num, k);
		out->len += k;
		if (rec->len[f])
			memcpy(out->p + out->len, rec->text[f], rec->len[f]);
		out->len += rec->len[f];
		if (f == CR_ROWS && extra_len) {
			memcpy(out->p + out->len, extra, extra_len);
			out->len += extra_len;
		}
	}
	return 0;
}

int checkrec_encode(const struct checkrec *rec, struct checkrec_buf *out)
{
	if (!rec || !out)
		return -EINVAL;
	return encode(rec, NULL, 0, out);
}

static void set_text(struct checkrec *rec, enum checkrec_field f, const char *s)
{
	rec->text[f] = s ? s : "";
	rec->len[f] = s ? strlen(s) : 0;
}

/* "ID:HASH" of a row into buf (at least 26 + AUDIT_HASH_HEX_LEN bytes), after a
 * space unless it is the check's first row; its length, or 0 if the row has no
 * proper hash. */
static size_t row_ref(char *buf, const struct audit_row *row, bool first)
{
	char num[32];
	size_t n = 0, k;

	if (!row->hash || strlen(row->hash) != AUDIT_HASH_HEX_LEN || row->id <= 0)
		return 0;
	if (!first)
		buf[n++] = ' ';
	k = audit_number(num, 'I', row->id, ':');
	memcpy(buf + n, num + 1, k - 1); /* without the tag */
	n += k - 1;
	memcpy(buf + n, row->hash, AUDIT_HASH_HEX_LEN);
	return n + AUDIT_HASH_HEX_LEN;
}

int checkrec_begin(const struct audit_row *scan, struct checkrec_buf *out)
{
	struct checkrec rec;
	char ref[128];
	size_t n;

	if (!scan || !out || !scan->step || strcmp(scan->step, "scan") != 0 || scan->check_id > 0)
		return -EINVAL;
	n = row_ref(ref, scan, true);
	if (!n)
		return -EINVAL;
	set_text(&rec, CR_LANE, scan->lane);
	set_text(&rec, CR_SOURCE, scan->source);
	set_text(&rec, CR_CODE_KIND, scan->code_kind);
	set_text(&rec, CR_VERDICT, "none");
	set_text(&rec, CR_ATTENDANT, "not_required");
	set_text(&rec, CR_GATE, "none");
	set_text(&rec, CR_GRANT_DIR, "");
	set_text(&rec, CR_REQUEST_ID, scan->request_id);
	set_text(&rec, CR_REASON, "");
	set_text(&rec, CR_ROWS, "");
	return encode(&rec, ref, n, out);
}

/* The reason of a verdict's detail (see checkrec.h): NULL for none, else a string
 * the caller frees. */
static char *detail_reason(const char *detail)
{
	cJSON *d = detail ? cJSON_Parse(detail) : NULL;
	const cJSON *item;
	char *reason = NULL;

	if (cJSON_IsObject(d)) {
		item = cJSON_GetObjectItemCaseSensitive(d, "reason");
		if (cJSON_IsString(item))
			reason = strdup(item->valuestring);
		else if (item && !cJSON_IsNull(item))
			reason = cJSON_PrintUnformatted(item);
	}
	cJSON_Delete(d);
	return reason;
}

/* What a step row does to its record besides adding itself to row_hashes: the field
 * it sets (CR_FIELDS: none) to its value; a verdict also sets the reason, into
 * *reason (to be freed; NULL: none). */
static enum checkrec_field step_field(const struct audit_row *row, char **reason)
{
	*reason = NULL;
	if (!row->value)
		return CR_FIELDS;
	if (!strcmp(row->step, "verdict")) {
		*reason = detail_reason(row->detail);
		return CR_VERDICT;
	}
	if (!strcmp(row->step, "attendant"))
		return CR_ATTENDANT;
	if (!strcmp(row->step, "grant"))
		return CR_GRANT_DIR;
	if (!strcmp(row->step, "gate"))
		return CR_GATE;
	return CR_FIELDS;
}

int checkrec_step(const char *enc, size_t len, const struct audit_row *row,
		  struct checkrec_buf *out)
{
	struct checkrec rec;
	char ref[128], *reason;
	enum checkrec_field f;
	size_t n;
	int r;

	if (!enc || !row || !out || row->check_id <= 0 || !row->step)
		return -EINVAL;
	r = checkrec_decode(enc, len, &rec);
	if (r < 0)
		return r;
	n = row_ref(ref, row, false);
	if (!n)
		return -EINVAL;
	f = step_field(row, &reason);
	if (f != CR_FIELDS)
		set_text(&rec, f, row->value);
	if (f == CR_VERDICT)
		set_text(&rec, CR_REASON, reason);
	r = encode(&rec, ref, n, out);
	/* cJSON_PrintUnformatted's memory is malloc's by default, as strdup's. */
	free(reason);
	return r;
}

/* --- building ------------------------------------------------------------------ */

static bool build_set(struct checkrec_buf *b, const char *s, size_t n, bool append)
{
	if (!append)
		b->len = 0;
	if (!buf_reserve(b, n + 1))
		return false;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	return true;
}

static bool build_text(struct checkrec_build *b, enum checkrec_field f, const char *s)
{
	return build_set(&b->field[f], s ? s : "", s ? strlen(s) : 0, false);
}

int checkrec_build_begin(struct checkrec_build *b, const struct audit_row *scan)
{
	struct checkrec_buf first = {0};
	struct checkrec rec;
	int r;

	if (!b)
		return -EINVAL;
	/* One definition of a new record: checkrec_begin()'s, decoded into the fields. */
	r = checkrec_begin(scan, &first);
	if (r == 0)
		r = checkrec_decode(first.p, first.len, &rec);
	for (int f = 0; r == 0 && f < CR_FIELDS; f++)
		if (!build_set(&b->field[f], rec.text[f], rec.len[f], false))
			r = -ENOMEM;
	checkrec_buf_free(&first);
	return r;
}

int checkrec_build_step(struct checkrec_build *b, const struct audit_row *row)
{
	char ref[128], *reason;
	enum checkrec_field f;
	bool ok = true;
	size_t n;

	if (!b || !row || row->check_id <= 0 || !row->step)
		return -EINVAL;
	n = row_ref(ref, row, false);
	if (!n)
		return -EINVAL;
	f = step_field(row, &reason);
	if (f != CR_FIELDS)
		ok = build_text(b, f, row->value);
	if (ok && f == CR_VERDICT)
		ok = build_text(b, CR_REASON, reason);
	free(reason);
	if (!ok || !build_set(&b->field[CR_ROWS], ref, n, true))
		return -ENOMEM;
	return 0;
}

int checkrec_build_encode(const struct checkrec_build *b, struct checkrec_buf *out)
{
	struct checkrec rec;

	if (!b || !out)
		return -EINVAL;
	for (int f = 0; f < CR_FIELDS; f++) {
		rec.text[f] = b->field[f].p ? b->field[f].p : "";
		rec.len[f] = b->field[f].len;
	}
	return encode(&rec, NULL, 0, out);
}

void checkrec_build_free(struct checkrec_build *b)
{
	if (!b)
		return;
	for (int f = 0; f < CR_FIELDS; f++)
		checkrec_buf_free(&b->field[f]);
}

void checkrec_seal(int64_t check_id, int64_t time_ms, const char *enc, size_t len, char *out)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t md[SHA256_DIGEST_SIZE];
	struct sha256_ctx ctx;
	char num[32];

	sha256_init(&ctx);
	sha256_update(&ctx, 5, (const uint8_t *)"tsc1\n");
	sha256_update(&ctx, audit_number(num, 'I', check_id, ';'), (const uint8_t *)num);
	sha256_update(&ctx, audit_number(num, 'I', time_ms, ';'), (const uint8_t *)num);
	sha256_update(&ctx, len, (const uint8_t *)enc);
	sha256_digest(&ctx, sizeof(md), md);
	for (size_t i = 0; i < sizeof(md); i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0xf];
	}
	out[CHECKREC_SEAL_HEX_LEN] = '\0';
}
