/* test_export.c: exports of a journal written through store.c and read back through
 * a read-only connection: RFC 4180 CSV compared byte for byte, JSON Lines parsed
 * line by line with cJSON, each record against the check_export view and its seal
 * recomputed from the view's fields, the time and lane filters, write errors, flat
 * memory as the journal grows, and export_parse_time. Local time is pinned with TZ.
 */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "checkrec.h"
#include "export.h"
#include "store.h"

struct fixture {
	char dir[64];
	char path[PATH_MAX];
	struct store *store;
	sqlite3 *db;
};

static const struct export_filter all = {INT64_MIN, INT64_MAX, NULL, NULL};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	/* Moscow has no DST, so +03:00 all year; POSIX spelling needs no tzdata. */
	setenv("TZ", "MSK-3", 1);
	tzset();
	snprintf(f->dir, sizeof(f->dir), "/tmp/ts-export-XXXXXX");
	if (!mkdtemp(f->dir))
		goto error;
	snprintf(f->path, sizeof(f->path), "%s/journal.db", f->dir);
	if (store_open(&f->store, f->path) < 0)
		goto error;
	*state = f;
	return 0;

error:
	rmdir(f->dir);
	free(f);
	return -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char side[PATH_MAX + 8];

	sqlite3_close(f->db);
	store_close(f->store);
	unlink(f->path);
	snprintf(side, sizeof(side), "%s-wal", f->path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", f->path);
	unlink(side);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* One check with the steps the daemon writes; NULL skips a step. */
static int64_t add_check(struct store *s, int64_t t, const char *lane, const char *source,
			 const char *request_id, const char *verdict, const char *verdict_detail,
			 const char *attendant, const char *grant, const char *gate)
{
	int64_t id = 0;

	assert_int_equal(store_append_scan(s, t, lane, source, "qr", NULL, request_id, NULL, &id),
			 0);
	if (verdict)
		assert_int_equal(
		    store_append_step(s, id, t + 1, lane, "verdict", verdict, verdict_detail), 0);
	if (attendant)
		assert_int_equal(
		    store_append_step(s, id, t + 2, lane, "attendant", attendant, NULL), 0);
	if (grant)
		assert_int_equal(store_append_step(s, id, t + 3, lane, "grant", grant, NULL), 0);
	if (gate)
		assert_int_equal(store_append_step(s, id, t + 4, lane, "gate", gate, NULL), 0);
	return id;
}

static void open_export_db(struct fixture *f)
{
	assert_int_equal(store_sync(f->store), 0);
	assert_int_equal(export_open_db(f->path, &f->db), 0);
}

/* Runs an export into a heap buffer; the caller frees it. */
static char *export_to_string(sqlite3 *db, const struct export_filter *filter,
			      enum export_format format, uint64_t *rows)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	assert_non_null(out);
	assert_int_equal(export_run(db, filter, format, out, rows), 0);
	assert_int_equal(fclose(out), 0);
	return buf;
}

/* The row_hashes field the export must give check_id: "ID:HASH ..." from the journal. */
static const char *row_hashes(sqlite3 *db, int64_t check_id)
{
	static char buf[4][1024];
	static int next;
	char *out = buf[next++ % 4];
	sqlite3_stmt *stmt;

	assert_int_equal(sqlite3_prepare_v2(db,
					    "SELECT group_concat(id || ':' || hash, ' ') FROM"
					    " (SELECT id, hash FROM journal WHERE id = ?1"
					    " OR check_id = ?1 ORDER BY id)",
					    -1, &stmt, NULL),
			 SQLITE_OK);
	sqlite3_bind_int64(stmt, 1, check_id);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	snprintf(out, sizeof(buf[0]), "%s",
		 (const char *)sqlite3_column_text(stmt, 0));
	sqlite3_finalize(stmt);
	assert_true(strlen(out) > 64); /* at least "ID:" and one hash */
	return out;
}

/* 2026-11-25T13:05:01.123+03:00 */
static int64_t sample_ms(void)
{
	struct tm tm = {
	    .tm_year = 126, .tm_mon = 10, .tm_mday = 25, .tm_hour = 10, .tm_min = 5, .tm_sec = 1};

	return (int64_t)timegm(&tm) * 1000 + 123;
}

/* The seal a record with these fields must carry (fields in checkrec order, the
 * last being row_hashes), built here from the fields, not read from the journal. */
static const char *seal_of(int64_t check_id, int64_t time_ms, const char *const *fields)
{
	static char buf[4][CHECKREC_SEAL_HEX_LEN + 1];
	static int next;
	char *out = buf[next++ % 4];
	struct checkrec rec;
	struct checkrec_buf enc = {0};

	for (int k = 0; k < CR_FIELDS; k++) {
		rec.text[k] = fields[k];
		rec.len[k] = strlen(fields[k]);
	}
	assert_int_equal(checkrec_encode(&rec, &enc), 0);
	checkrec_seal(check_id, time_ms, enc.p, enc.len, out);
	checkrec_buf_free(&enc);
	return out;
}

static void csv_is_rfc4180_with_quoting_of_commas_quotes_newlines_and_plain_utf8(void **state)
{
	struct fixture *f = *state;
	int64_t t = sample_ms();
	uint64_t rows = 0;
	char *csv, expect[4096];
	const char *h1, *h6, *h8;

	add_check(f->store, t, "Вход 1", "serial0", "req,1", "allow",
		  "{\"reason\":\"Паспорт \\\"А\\\", стр. 1\\r\\nвторая\"}", "confirm", "a",
		  "passed");
	/* No steps after the scan, no request id, and a verdict detail that is not JSON. */
	add_check(f->store, t + 1000, "L2", "cam \"0\"", NULL, "deny", "not json", NULL, NULL,
		  NULL);
	add_check(f->store, t + 2000, "L2", "cam0", "", NULL, NULL, NULL, NULL, NULL);
	open_export_db(f);

	csv = export_to_string(f->db, &all, EXPORT_CSV, &rows);
	assert_int_equal(rows, 3);
	h1 = row_hashes(f->db, 1);
	h6 = row_hashes(f->db, 6);
	h8 = row_hashes(f->db, 8);
	snprintf(
	    expect, sizeof(expect),
	    "check_id,time,lane,source,code_kind,verdict,attendant,gate,grant_dir,request_id,"
	    "reason,row_hashes,seal\r\n"
	    "1,2026-11-25T13:05:01.123+03:00,Вход 1,serial0,qr,allow,confirm,passed,a,\"req,1\","
	    "\"Паспорт \"\"А\"\", стр. 1\r\nвторая\",%s,%s\r\n"
	    "6,2026-11-25T13:05:02.123+03:00,L2,\"cam \"\"0\"\"\",qr,deny,not_required,none,,,,%s,%s"
	    "\r\n"
	    "8,2026-11-25T13:05:03.123+03:00,L2,cam0,qr,none,not_required,none,,,,%s,%s\r\n",
	    h1,
	    seal_of(1, t,
		    (const char *const[]){"Вход 1", "serial0", "qr", "allow", "confirm", "passed",
					  "a", "req,1", "Паспорт \"А\", стр. 1\r\nвторая", h1}),
	    h6,
	    seal_of(6, t + 1000,
		    (const char *const[]){"L2", "cam \"0\"", "qr", "deny", "not_required", "none",
					  "", "", "", h6}),
	    h8,
	    seal_of(8, t + 2000,
		    (const char *const[]){"L2", "cam0", "qr", "none", "not_required", "none", "",
					  "", "", h8}));
	assert_string_equal(csv, expect);
	free(csv);
}

static void time_is_local_iso8601_with_numeric_offset_on_both_sides_of_utc(void **state)
{
	struct fixture *f = *state;
	char *out;

	add_check(f->store, -1, "L1", "s", NULL, NULL, NULL, NULL, NULL, NULL);
	add_check(f->store, 0, "L1", "s", NULL, NULL, NULL, NULL, NULL, NULL);
	open_export_db(f);

	out = export_to_string(f->db, &all, EXPORT_CSV, NULL);
	assert_non_null(strstr(out, "\r\n1,1970-01-01T02:59:59.999+03:00,"));
	assert_non_null(strstr(out, "\r\n2,1970-01-01T03:00:00.000+03:00,"));
	free(out);

	/* New York in winter, and India's half-hour offset. */
	setenv("TZ", "EST5EDT,M3.2.0,M11.1.0", 1);
	tzset();
	out = export_to_string(f->db, &all, EXPORT_CSV, NULL);
	assert_non_null(strstr(out, "\r\n2,1969-12-31T19:00:00.000-05:00,"));
	free(out);
	setenv("TZ", "IST-5:30", 1);
	tzset();
	out = export_to_string(f->db, &all, EXPORT_CSV, NULL);
	assert_non_null(strstr(out, "\r\n2,1970-01-01T05:30:00.000+05:30,"));
	free(out);
}

static void jsonl_lines_parse_as_objects_with_numeric_id_and_exact_strings(void **state)
{
	static const char *const keys[] = {"check_id",	"time",	      "lane",	   "source",
					   "code_kind", "verdict",    "attendant", "gate",
					   "grant_dir", "request_id", "reason",
					   "time_ms",	"row_hashes", "seal"};
	struct fixture *f = *state;
	uint64_t rows = 0;
	char *text, *line, *save = NULL;
	int n = 0;
	/* Control characters, quote, backslash, Cyrillic, U+2028, a 4-byte emoji. */
	const char *reason = "a\x01\x1f\t\"\\b\u2028Я😀";

	add_check(f->store, sample_ms(), "L1", "serial0", "req\n1", "allow",
		  "{\"reason\":\"a\\u0001\\u001f\\t\\\"\\\\b\\u2028Я😀\"}", "reject", NULL, "none");
	/* Bytes that are not UTF-8 cannot reach JSON as they are. */
	add_check(f->store, sample_ms() + 1, "L\xff\xc3(", "s", NULL, NULL, NULL, NULL, NULL, NULL);
	open_export_db(f);

	text = export_to_string(f->db, &all, EXPORT_JSONL, &rows);
	assert_int_equal(rows, 2);
	assert_int_equal(text[strlen(text) - 1], '\n');
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		cJSON *obj = cJSON_Parse(line), *item;
		int k = 0;

		if (!obj)
			fail_msg("line %d is not JSON: %s", n + 1, line);
		assert_true(cJSON_IsObject(obj));
		cJSON_ArrayForEach(item, obj)
		{
			assert_true(k < 14);
			assert_string_equal(item->string, keys[k]);
			if (k == 0 || k == 11)
				assert_true(cJSON_IsNumber(item));
			else
				assert_true(cJSON_IsString(item));
			k++;
		}
		assert_int_equal(k, 14);
		assert_string_equal(
		    cJSON_GetObjectItem(obj, "row_hashes")->valuestring,
		    row_hashes(f->db, (int64_t)cJSON_GetObjectItem(obj, "check_id")->valuedouble));
		if (n == 0) {
			assert_int_equal(cJSON_GetObjectItem(obj, "check_id")->valuedouble, 1);
			assert_string_equal(cJSON_GetObjectItem(obj, "time")->valuestring,
					    "2026-11-25T13:05:01.123+03:00");
			assert_string_equal(cJSON_GetObjectItem(obj, "request_id")->valuestring,
					    "req\n1");
			assert_string_equal(cJSON_GetObjectItem(obj, "reason")->valuestring,
					    reason);
			assert_string_equal(cJSON_GetObjectItem(obj, "attendant")->valuestring,
					    "reject");
			assert_string_equal(cJSON_GetObjectItem(obj, "grant_dir")->valuestring, "");
		} else {
			assert_string_equal(cJSON_GetObjectItem(obj, "lane")->valuestring,
					    "L\xef\xbf\xbd\xef\xbf\xbd(");
			assert_string_equal(cJSON_GetObjectItem(obj, "reason")->valuestring, "");
		}
		cJSON_Delete(obj);
		n++;
	}
	assert_int_equal(n, 2);
	free(text);
}

/* Long texts with a character JSON must escape (or a multibyte one) at every
 * offset from 0 to 15, with plain text before and after it. */
static void jsonl_escapes_at_every_offset_of_long_text(void **state)
{
	static const char *const specials[] = {"\"", "\\", "\n", "\x01", "\x7f", "Я", "\xff"};
	static const char *const expect[] = {"\"", "\\", "\n", "\x01", "\x7f", "Я",
					     "\xef\xbf\xbd"};
	const int n = (int)(sizeof(specials) / sizeof(specials[0]));
	struct fixture *f = *state;
	char *text, *line, *save = NULL;
	int k = 0;

	for (int i = 0; i < n * 16; i++) {
		char lane[64];

		snprintf(lane, sizeof(lane), "%.*s%s%s", i % 16, "0123456789abcdefghij",
			 specials[i / 16], "0123456789abcdefghijklmn");
		add_check(f->store, 1000 + i, lane, "s", NULL, NULL, NULL, NULL, NULL, NULL);
	}
	open_export_db(f);
	text = export_to_string(f->db, &all, EXPORT_JSONL, NULL);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save), k++) {
		cJSON *obj = cJSON_Parse(line);
		char want[64];

		if (!obj)
			fail_msg("record %d is not JSON: %s", k, line);
		snprintf(want, sizeof(want), "%.*s%s%s", k % 16, "0123456789abcdefghij",
			 expect[k / 16], "0123456789abcdefghijklmn");
		assert_string_equal(cJSON_GetObjectItem(obj, "lane")->valuestring, want);
		cJSON_Delete(obj);
	}
	assert_int_equal(k, n * 16);
	free(text);
}

/* The check ids in a JSONL export, in order, as "1,5,9". */
static void exported_ids(sqlite3 *db, const struct export_filter *filter, char *ids, size_t size)
{
	char *text = export_to_string(db, filter, EXPORT_JSONL, NULL), *line, *save = NULL;
	size_t len = 0;

	ids[0] = '\0';
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		cJSON *obj = cJSON_Parse(line);

		assert_non_null(obj);
		len += (size_t)snprintf(ids + len, size - len, "%s%d", len ? "," : "",
					cJSON_GetObjectItem(obj, "check_id")->valueint);
		cJSON_Delete(obj);
	}
	free(text);
}

static void filters_take_half_open_time_range_and_lane_in_check_id_order(void **state)
{
	struct fixture *f = *state;
	struct export_filter filter;
	char ids[128];

	/* Ids 1, 2, 3, 4, 5 (scans only); the clock stepped back before check 4. */
	add_check(f->store, 1000, "L1", "s", NULL, NULL, NULL, NULL, NULL, NULL);
	add_check(f->store, 2000, "L2", "s", NULL, NULL, NULL, NULL, NULL, NULL);
	add_check(f->store, 3000, "L1", "s", NULL, NULL, NULL, NULL, NULL, NULL);
	add_check(f->store, 1500, "L1", "s", NULL, NULL, NULL, NULL, NULL, NULL);
	add_check(f->store, 4000, "L2", "s", NULL, NULL, NULL, NULL, NULL, NULL);
	assert_int_equal(store_append_event(f->store, 2500, "L1", "fire_alarm", NULL, NULL), 0);
	open_export_db(f);

	exported_ids(f->db, &all, ids, sizeof(ids));
	assert_string_equal(ids, "1,2,3,4,5");

	filter = (struct export_filter){1500, 3000, NULL, NULL};
	exported_ids(f->db, &filter, ids, sizeof(ids));
	assert_string_equal(ids, "2,4");

	filter = (struct export_filter){2000, INT64_MAX, NULL, NULL};
	exported_ids(f->db, &filter, ids, sizeof(ids));
	assert_string_equal(ids, "2,3,5");

	filter = (struct export_filter){INT64_MIN, 2000, NULL, NULL};
	exported_ids(f->db, &filter, ids, sizeof(ids));
	assert_string_equal(ids, "1,4");

	filter = (struct export_filter){INT64_MIN, INT64_MAX, "L2", NULL};
	exported_ids(f->db, &filter, ids, sizeof(ids));
	assert_string_equal(ids, "2,5");

	filter = (struct export_filter){1000, 3001, "L1", NULL};
	exported_ids(f->db, &filter, ids, sizeof(ids));
	assert_string_equal(ids, "1,3,4");

	filter = (struct export_filter){5000, 6000, NULL, NULL};
	exported_ids(f->db, &filter, ids, sizeof(ids));
	assert_string_equal(ids, "");

	filter = (struct export_filter){INT64_MIN, INT64_MAX, "L9", NULL};
	exported_ids(f->db, &filter, ids, sizeof(ids));
	assert_string_equal(ids, "");
}

/* The export's records as the check_export view and an independent query give them:
 * time as local ISO 8601 (TZ is MSK-3 here), reason from json_extract, every row of
 * the check by id, and the seal computed from those fields. The test's texts need
 * no CSV quoting. */
static char *view_csv(sqlite3 *db, const char *lane, int64_t since, int64_t until)
{
	static const char sql[] =
	    "SELECT check_id, time, strftime('%Y-%m-%dT%H:%M:%f', time / 1000.0, 'unixepoch',"
	    " 'localtime') || '+03:00', lane, source, code_kind, verdict, attendant, gate,"
	    " grant_dir, COALESCE(request_id, ''),"
	    " COALESCE(json_extract(verdict_detail, '$.reason'), ''),"
	    " (SELECT group_concat(id || ':' || hash, ' ') FROM (SELECT id, hash FROM journal j"
	    " WHERE j.id = v.check_id OR j.check_id = v.check_id ORDER BY j.id))"
	    " FROM check_export v WHERE (?1 IS NULL OR lane = ?1) AND time >= ?2 AND time < ?3"
	    " ORDER BY check_id";
	sqlite3_stmt *stmt;
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	assert_non_null(out);
	fputs("check_id,time,lane,source,code_kind,verdict,attendant,gate,grant_dir,request_id,"
	      "reason,row_hashes,seal\r\n",
	      out);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
	if (lane)
		sqlite3_bind_text(stmt, 1, lane, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, since);
	sqlite3_bind_int64(stmt, 3, until);
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		const char *fields[CR_FIELDS];
		int64_t check_id = sqlite3_column_int64(stmt, 0);

		fprintf(out, "%lld,%s", (long long)check_id, sqlite3_column_text(stmt, 2));
		for (int k = 0; k < CR_FIELDS; k++) {
			fields[k] = (const char *)sqlite3_column_text(stmt, 3 + k);
			assert_null(strpbrk(fields[k], ",\"\r\n"));
			fprintf(out, ",%s", fields[k]);
		}
		fprintf(out, ",%s\r\n", seal_of(check_id, sqlite3_column_int64(stmt, 1), fields));
	}
	sqlite3_finalize(stmt);
	assert_int_equal(fclose(out), 0);
	return buf;
}

static void assert_same_text(const char *got, const char *want)
{
	size_t i = 0;

	while (got[i] && got[i] == want[i])
		i++;
	if (got[i] || want[i])
		fail_msg("differs at byte %zu:\n got: %.200s\nwant: %.200s", i, got + i, want + i);
}

/* Lanes at work at once interleave their checks' rows; some checks stay open for
 * long (an attendant who takes their time, a gate result after a restart): the
 * records the store keeps as rows arrive must still be what the view says. */
static void interleaved_and_long_open_checks_export_as_the_view_defines_them(void **state)
{
	static const char *const lanes[] = {"L1", "L2", "L3", "L4"};
	static const char *const steps[] = {"verdict", "attendant", "grant", "gate"};
	static const char *const values[4][3] = {{"valid", "expired", "used"},
						 {"confirmed", "rejected", "timeout"},
						 {"a", "b", "a"},
						 {"passed", "not_passed", "passed"}};
	struct fixture *f = *state;
	int64_t open[4] = {0}, late[5] = {0};
	int left[4] = {0}, nlate = 0;
	unsigned seed = 7;
	char *got, *want;
	uint64_t rows = 0;

	for (int i = 0; i < 6000; i++) {
		int l = (int)(rand_r(&seed) % 4);

		if (i >= 5500 && i - 5500 < nlate * 50 && (i - 5500) % 50 == 0)
			assert_int_equal(store_append_step(f->store, late[(i - 5500) / 50], 1000 + i,
							   "L1", "abort", "restart", NULL),
					 0);
		if (!left[l]) {
			char req[16];

			snprintf(req, sizeof(req), "r%d", i);
			assert_int_equal(store_append_scan(f->store, 1000 + i, lanes[l], "s", "qr",
							   NULL, req, NULL, &open[l]),
					 0);
			left[l] = (int)(rand_r(&seed) % 5);
			/* Now and then a check whose last step comes thousands of rows (over
			 * a thousand checks) later. */
			if (i / 400 >= nlate && nlate < 5)
				late[nlate++] = open[l];
			continue;
		}
		{
			int k = 4 - left[l], v = (int)(rand_r(&seed) % 3);
			/* Details of many shapes (nesting, spacing, numbers, escapes,
			 * duplicate keys): the reason is json_extract's in the view and
			 * cJSON's in the record. */
			static const char *const shapes[][2] = {
			    {"{\"reason\":\"why ", "\",\"valid_until\":\"2027-01-31\",\"reuse\":true}"},
			    {"{\"a\":{\"b\":[\"c\",null,false,{}]},\"reason\":\"why ", "\"}"},
			    {" { \"reason\" : \"why ", "\" ,\"e\":[] } "},
			    {"{\"reason\":\"why ", "\",\"n\":7}"},
			    {"{\"reason\":\"why \\u0041", "\"}"},
			    {"{\"x\":\"reason\",\"reason\":\"Паспорт ", "\",\"reason\":\"second\"}"},
			};
			char detail[128];

			snprintf(detail, sizeof(detail), "%s%d%s", shapes[i % 6][0], i,
				 shapes[i % 6][1]);
			assert_int_equal(store_append_step(f->store, open[l], 1000 + i, lanes[l],
							   steps[k], values[k][v],
							   k == 0 ? detail : NULL),
					 0);
			left[l]--;
		}
		if (i % 97 == 0)
			assert_int_equal(
			    store_append_event(f->store, 1000 + i, lanes[l], "mode_change", NULL, NULL),
			    0);
	}
	open_export_db(f);

	got = export_to_string(f->db, &all, EXPORT_CSV, &rows);
	want = view_csv(f->db, NULL, INT64_MIN, INT64_MAX);
	assert_true(rows > 1500);
	assert_same_text(got, want);
	free(got);
	free(want);

	got = export_to_string(f->db, &(struct export_filter){INT64_MIN, INT64_MAX, "L3", NULL},
			       EXPORT_CSV, &rows);
	want = view_csv(f->db, "L3", INT64_MIN, INT64_MAX);
	assert_true(rows > 300);
	assert_same_text(got, want);
	free(got);
	free(want);

	/* A time range that starts after the first long-open check and ends before
	 * its last row. */
	got = export_to_string(f->db, &(struct export_filter){1500, 5000, NULL, NULL}, EXPORT_CSV,
			       &rows);
	want = view_csv(f->db, NULL, 1500, 5000);
	assert_true(rows > 800);
	assert_same_text(got, want);
	free(got);
	free(want);
}

/* The summary as the SQL it replaced computed it over the check_export view. */
static char *summary_oracle(sqlite3 *db, const struct export_filter *filter)
{
	static const char sql[] =
	    "WITH c AS (SELECT date(time / 1000, 'unixepoch', 'localtime') AS day, lane, verdict,"
	    " grant_dir, gate, source FROM check_export"
	    " WHERE time >= ?1 AND time < ?2 AND (?3 IS NULL OR lane = ?3)"
	    " AND (?4 IS NULL OR verdict = ?4)),"
	    " r AS (SELECT day, lane, verdict, count(*) AS n FROM c"
	    " WHERE grant_dir = '' AND verdict <> 'valid' GROUP BY day, lane, verdict)"
	    " SELECT day || ',' || lane || ',' || count(*) || ','"
	    " || sum(gate = 'passed' AND grant_dir = 'a') || ','"
	    " || sum(gate = 'passed' AND grant_dir = 'b') || ','"
	    " || sum(grant_dir = '' AND verdict <> 'valid') || ','"
	    " || sum(grant_dir = '' AND verdict = 'valid') || ','"
	    " || COALESCE(sum(source = 'manual' AND grant_dir <> ''), 0) || ','"
	    " || sum(gate = 'not_passed') || ','"
	    " || COALESCE((SELECT group_concat(verdict || ':' || n, ' ') FROM"
	    " (SELECT verdict, n FROM r WHERE r.day = c.day AND r.lane = c.lane ORDER BY verdict)),"
	    " '') FROM c GROUP BY day, lane ORDER BY day, lane";
	sqlite3_stmt *stmt;
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	assert_non_null(out);
	fputs("day,lane,checks,entries,exits,denied,rejected,manual_opens,not_passed,"
	      "denied_by_reason\r\n",
	      out);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
	sqlite3_bind_int64(stmt, 1, filter->since_ms);
	sqlite3_bind_int64(stmt, 2, filter->until_ms);
	if (filter->lane)
		sqlite3_bind_text(stmt, 3, filter->lane, -1, SQLITE_STATIC);
	if (filter->verdict)
		sqlite3_bind_text(stmt, 4, filter->verdict, -1, SQLITE_STATIC);
	while (sqlite3_step(stmt) == SQLITE_ROW)
		fprintf(out, "%s\r\n", (const char *)sqlite3_column_text(stmt, 0));
	sqlite3_finalize(stmt);
	assert_int_equal(fclose(out), 0);
	return buf;
}

static char *summary_to_string(sqlite3 *db, const struct export_filter *filter,
			       enum export_format format, uint64_t *rows)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	assert_non_null(out);
	assert_int_equal(export_summary(db, filter, format, out, rows), 0);
	assert_int_equal(fclose(out), 0);
	return buf;
}

/* Two weeks of three lanes, every outcome, manual openings; filtered every way. */
static void summary_counts_per_local_day_and_lane_as_the_view_does(void **state)
{
	static const char *const lanes[] = {"L1", "Вход 2", "L3"};
	static const char *const verdicts[] = {"valid", "expired", "used", "not_found", "valid"};
	const struct export_filter filters[] = {
	    {INT64_MIN, INT64_MAX, NULL, NULL},
	    {INT64_MIN, INT64_MAX, "Вход 2", NULL},
	    {1796072400000LL + 3 * 86400000LL, 1796072400000LL + 9 * 86400000LL, NULL, NULL},
	    {INT64_MIN, INT64_MAX, NULL, "expired"},
	    {INT64_MIN, INT64_MAX, "L3", "valid"},
	};
	struct fixture *f = *state;
	unsigned seed = 11;
	uint64_t rows = 0;
	char *got, *want;

	for (int i = 0; i < 3000; i++) {
		/* Every 7 minutes from 2026-12-01 00:00 Moscow time. */
		int64_t t = 1796072400000LL + (int64_t)i * 7 * 60000;
		const char *lane = lanes[rand_r(&seed) % 3];
		const char *verdict = verdicts[rand_r(&seed) % 5];
		unsigned pick = rand_r(&seed) % 8;
		bool manual = pick == 0, granted = manual || (!strcmp(verdict, "valid") && pick < 6);

		add_check(f->store, t, lane, manual ? "manual" : "serial0", NULL,
			  manual ? NULL : verdict, NULL, granted ? "confirmed" : NULL,
			  granted ? (pick % 3 ? "a" : "b") : NULL,
			  granted ? (pick == 5 ? "not_passed" : "passed") : NULL);
	}
	open_export_db(f);
	for (size_t k = 0; k < sizeof(filters) / sizeof(filters[0]); k++) {
		got = summary_to_string(f->db, &filters[k], EXPORT_CSV, &rows);
		want = summary_oracle(f->db, &filters[k]);
		assert_true(rows > 0);
		assert_same_text(got, want);
		free(got);
		free(want);
	}
	got = summary_to_string(f->db, &filters[0], EXPORT_JSONL, &rows);
	assert_int_equal(rows, 3 * 15); /* 3000 checks 7 minutes apart: 15 days */
	{
		cJSON *first = cJSON_Parse(got);

		assert_non_null(first);
		assert_string_equal(cJSON_GetObjectItem(first, "day")->valuestring, "2026-12-01");
		assert_true(cJSON_IsNumber(cJSON_GetObjectItem(first, "manual_opens")));
		cJSON_Delete(first);
	}
	free(got);
}

static void write_error_on_the_output_gives_eio(void **state)
{
	struct fixture *f = *state;
	uint64_t rows = 99;
	FILE *out;

	add_check(f->store, 1000, "L1", "s", NULL, NULL, NULL, NULL, NULL, NULL);
	open_export_db(f);
	out = fopen("/dev/full", "w");
	assert_non_null(out);
	assert_int_equal(export_run(f->db, &all, EXPORT_CSV, out, &rows), -EIO);
	fclose(out);
	out = fopen("/dev/full", "w");
	assert_non_null(out);
	assert_int_equal(export_run(f->db, &all, EXPORT_JSONL, out, &rows), -EIO);
	fclose(out);
}

static size_t peak_heap;

static ssize_t peak_write(void *cookie, const char *buf, size_t size)
{
	struct mallinfo2 mi = mallinfo2();

	if (mi.uordblks > peak_heap)
		peak_heap = mi.uordblks;
	return (ssize_t)size;
}

/* Heap in use at its highest while exporting, above what it was before. */
static size_t export_heap_growth(sqlite3 *db, const struct export_filter *filter, uint64_t *rows)
{
	cookie_io_functions_t io = {.write = peak_write};
	FILE *out = fopencookie(NULL, "w", io);
	size_t base;

	assert_non_null(out);
	/* Small buffer: the sampler runs every few rows. */
	setvbuf(out, NULL, _IOFBF, 512);
	base = mallinfo2().uordblks;
	peak_heap = base;
	assert_int_equal(export_run(db, filter, EXPORT_JSONL, out, rows), 0);
	fclose(out);
	return peak_heap - base;
}

static void export_memory_stays_flat_as_the_journal_grows(void **state)
{
	struct fixture *f = *state;
	struct export_filter filter = {1000, INT64_MAX / 2, NULL, NULL};
	size_t small, large;
	uint64_t rows;
	int i;

	for (i = 0; i < 1000; i++)
		add_check(f->store, 1000 + i, "L1", "serial0", "req", "allow",
			  "{\"reason\":\"ok ok ok ok ok ok ok\"}", "confirm", "a", "passed");
	open_export_db(f);
	/* A bounded page cache, so that only the export itself could grow. */
	assert_int_equal(sqlite3_exec(f->db, "PRAGMA cache_size=-256", NULL, NULL, NULL),
			 SQLITE_OK);
	small = export_heap_growth(f->db, &filter, &rows);
	assert_int_equal(rows, 1000);
	sqlite3_close(f->db);
	f->db = NULL;

	for (; i < 30000; i++)
		add_check(f->store, 1000 + i, "L1", "serial0", "req", "allow",
			  "{\"reason\":\"ok ok ok ok ok ok ok\"}", "confirm", "a", "passed");
	open_export_db(f);
	assert_int_equal(sqlite3_exec(f->db, "PRAGMA cache_size=-256", NULL, NULL, NULL),
			 SQLITE_OK);
	large = export_heap_growth(f->db, &filter, &rows);
	assert_int_equal(rows, 30000);

	print_message("heap growth: %zu bytes for 1000 rows, %zu bytes for 30000 rows\n", small,
		      large);
	/* 30 times the rows (about 5 MB of JSON) within the page cache's 256 KiB. */
	assert_true(large < small + 300 * 1024);
}

static void open_refuses_missing_file_and_never_creates_one(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX + 16];
	sqlite3 *db = (sqlite3 *)0x1;

	snprintf(path, sizeof(path), "%s/missing.db", f->dir);
	assert_int_equal(export_open_db(path, &db), -ENOENT);
	assert_null(db);
	assert_int_equal(access(path, F_OK), -1);
}

static void parse_time_takes_local_dates_datetimes_and_unix_ms(void **state)
{
	int64_t ms = 0;

	(void)state;
	/* 2026-12-01T00:00 in Moscow is 2026-11-30T21:00Z = 1796072400 s. */
	assert_int_equal(export_parse_time("2026-12-01", &ms), 0);
	assert_int_equal(ms, 1796072400000LL);
	assert_int_equal(export_parse_time("2026-12-01T19:00", &ms), 0);
	assert_int_equal(ms, 1796072400000LL + 19 * 3600000LL);
	assert_int_equal(export_parse_time("2026-12-01T19:00:07", &ms), 0);
	assert_int_equal(ms, 1796072400000LL + 19 * 3600000LL + 7000);
	assert_int_equal(export_parse_time("2028-02-29", &ms), 0);
	assert_int_equal(export_parse_time("1796072400123", &ms), 0);
	assert_int_equal(ms, 1796072400123LL);
	assert_int_equal(export_parse_time("0", &ms), 0);
	assert_int_equal(ms, 0);
	assert_int_equal(export_parse_time("-5", &ms), 0);
	assert_int_equal(ms, -5);

	/* Through a DST change: the offset is the one in force on that date. */
	setenv("TZ", "EST5EDT,M3.2.0,M11.1.0", 1);
	tzset();
	assert_int_equal(export_parse_time("2026-07-01T12:00", &ms), 0);
	assert_int_equal(ms, 1782921600000LL); /* 16:00Z */
	assert_int_equal(export_parse_time("2026-01-01T12:00", &ms), 0);
	assert_int_equal(ms, 1767286800000LL); /* 17:00Z */
	setenv("TZ", "MSK-3", 1);
	tzset();
}

static void parse_time_rejects_garbage_with_einval(void **state)
{
	static const char *const bad[] = {
	    "",
	    "-",
	    "12a",
	    "2026-1-01",
	    "2026-13-01",
	    "2026-00-10",
	    "2026-02-29",
	    "2026-04-31",
	    "2026-12-01T",
	    "2026-12-01T24:00",
	    "2026-12-01T19:60",
	    "2026-12-01T19:00:60",
	    "2026-12-01 19:00",
	    "2026-12-01T19",
	    "2026-12-01T19:00Z",
	    "2026-12-01x",
	    " 2026-12-01",
	    "99999999999999999999",
	    "1969-12-31",
	    "+5",
	};
	int64_t ms = 42;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (export_parse_time(bad[i], &ms) != -EINVAL)
			fail_msg("\"%s\" was accepted (ms %lld), expected -EINVAL", bad[i],
				 (long long)ms);
	}
	assert_int_equal(export_parse_time(NULL, &ms), -EINVAL);
}

/* A journal no daemon of this version has opened has no records to export. */
static void a_journal_before_the_records_is_refused_with_eproto(void **state)
{
	struct fixture *f = *state;
	sqlite3 *db;

	add_check(f->store, 1000, "L1", "s", NULL, "valid", NULL, NULL, NULL, NULL);
	assert_int_equal(store_sync(f->store), 0);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 3", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(export_open_db(f->path, &f->db), -EPROTO);
	assert_null(f->db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(a_journal_before_the_records_is_refused_with_eproto,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(
		csv_is_rfc4180_with_quoting_of_commas_quotes_newlines_and_plain_utf8, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		time_is_local_iso8601_with_numeric_offset_on_both_sides_of_utc, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		jsonl_lines_parse_as_objects_with_numeric_id_and_exact_strings, setup, teardown),
	    cmocka_unit_test_setup_teardown(jsonl_escapes_at_every_offset_of_long_text, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(
		filters_take_half_open_time_range_and_lane_in_check_id_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		interleaved_and_long_open_checks_export_as_the_view_defines_them, setup, teardown),
	    cmocka_unit_test_setup_teardown(summary_counts_per_local_day_and_lane_as_the_view_does,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(write_error_on_the_output_gives_eio, setup, teardown),
	    cmocka_unit_test_setup_teardown(export_memory_stays_flat_as_the_journal_grows, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(open_refuses_missing_file_and_never_creates_one, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(parse_time_takes_local_dates_datetimes_and_unix_ms,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(parse_time_rejects_garbage_with_einval, setup,
					    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
