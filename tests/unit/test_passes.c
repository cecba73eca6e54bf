/* test_passes.c: the passes verifier against a real store in a temporary directory.
 *
 * Time zone is Europe/Moscow (UTC+3, no DST) so local dates are deterministic;
 * expected instants are computed here with plain arithmetic (msk()), independent
 * of the libc time functions passes.c uses.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "passes.h"
#include "store.h"

struct fx {
	char dir[64];
	char path[128];
	struct store *store;
	struct passes *passes;
	char err[256];
	size_t imported;
};

/* Unix ms of a Moscow local time (UTC+3): days from civil, no libc. */
static int64_t msk_s(int y, int mo, int d, int h, int mi, int s)
{
	int64_t era, yoe, doy, doe, days;

	y -= mo <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	days = era * 146097 + doe - 719468;
	return ((days * 86400) + h * 3600 + mi * 60 + s - 3 * 3600) * 1000;
}

static int64_t msk(int y, int mo, int d, int h, int mi)
{
	return msk_s(y, mo, d, h, mi, 0);
}

#define NOW msk(2025, 3, 10, 12, 0)

static const struct passes_policy policy_ticket_attendant = {
	.membership_attendant = false,
	.ticket_attendant = true,
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	setenv("TZ", "Europe/Moscow", 1);
	tzset();
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_passes.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->path, sizeof(fx->path), "%s/journal.db", fx->dir);
	assert_int_equal(store_open(&fx->store, fx->path), 0);
	assert_int_equal(passes_open(&fx->passes, fx->store, &policy_ticket_attendant), 0);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	char p[160];

	passes_close(fx->passes);
	store_close(fx->store);
	unlink(fx->path);
	snprintf(p, sizeof(p), "%s-wal", fx->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", fx->path);
	unlink(p);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

static int import(struct fx *fx, const char *csv)
{
	fx->err[0] = '\0';
	fx->imported = 12345;
	return passes_import_csv(fx->passes, csv, strlen(csv), NOW, &fx->imported, fx->err,
				 sizeof(fx->err));
}

static int check(struct fx *fx, const char *code, const char *zone, int64_t now,
		 struct lane_check_result *res, int64_t *pass_id)
{
	char hash[STORE_HASH_HEX_LEN + 1];

	assert_int_equal(store_code_hash(fx->store, code, strlen(code), hash), 0);
	return passes_check(fx->passes, hash, "lane1", zone, now, res, pass_id);
}

static const char *verdict_name(enum lane_verdict v)
{
	static const char *const names[LANE_VERDICT_COUNT] = {
		[LANE_VERDICT_VALID] = "valid",		[LANE_VERDICT_INVALID] = "invalid",
		[LANE_VERDICT_EXPIRED] = "expired",	[LANE_VERDICT_NOT_FOUND] = "not_found",
		[LANE_VERDICT_CANCELLED] = "cancelled", [LANE_VERDICT_UNAVAILABLE] = "unavailable",
		[LANE_VERDICT_FORGED] = "forged",	[LANE_VERDICT_UNKNOWN] = "unknown",
		[LANE_VERDICT_USED] = "used",
	};

	return (unsigned)v < LANE_VERDICT_COUNT ? names[v] : "?";
}

/* Checks code at now and asserts the verdict (and reason); returns the pass id. */
static int64_t expect(struct fx *fx, const char *code, const char *zone, int64_t now,
		      enum lane_verdict verdict, const char *reason)
{
	struct lane_check_result res;
	int64_t id = -1;

	assert_int_equal(check(fx, code, zone, now, &res, &id), 0);
	assert_string_equal(verdict_name(res.verdict), verdict_name(verdict));
	if (reason != NULL)
		assert_string_equal(res.reason, reason);
	return id;
}

static int64_t query_int(struct fx *fx, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v = -1;

	assert_int_equal(sqlite3_prepare_v2(store_db(fx->store), sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static const char *const base_csv = "code,kind,holder,valid_from,valid_until,uses_per_day,"
				    "pass_back_min,zone\n"
				    "M-1,membership,\"Иванов, Иван\",2025-01-01,2025-12-31,0,0,\n"
				    "T-1,ticket,Петрова А.,2025-03-10T11:00,2025-03-10T23:00,,,\n";

/* ---- import ---- */

struct list_acc {
	int n;
	struct passes_entry e[8];
	char holder[8][160];
	char kind[8][16];
	char zone[8][32];
};

static int list_cb(const struct passes_entry *e, void *userdata)
{
	struct list_acc *acc = userdata;

	if (acc->n >= 8)
		return -ENOSPC;
	acc->e[acc->n] = *e;
	snprintf(acc->holder[acc->n], sizeof(acc->holder[0]), "%s", e->holder);
	snprintf(acc->kind[acc->n], sizeof(acc->kind[0]), "%s", e->kind);
	snprintf(acc->zone[acc->n], sizeof(acc->zone[0]), "%s", e->zone ? e->zone : "(null)");
	acc->n++;
	return 0;
}

static void import_accepts_bom_crlf_quotes_cyrillic_and_both_kinds(void **state)
{
	struct fx *fx = *state;
	struct list_acc acc = {0};
	const char *csv = "\xef\xbb\xbf"
			  "zone,holder,code,kind,valid_from,valid_until,"
			  "pass_back_min,uses_per_day\r\n"
			  ",\"Сидоров, Пётр \"\"Тренер\"\"\",M-1,membership,2025-01-01,"
			  "2025-12-31,30,2\r\n"
			  "Партер,\"Кузнецова\nАнна\",\"T,1\",ticket,2025-03-10T19:00,"
			  "2025-03-10T22:30:15,,\r\n"
			  "\r\n\r\n";

	assert_int_equal(import(fx, csv), 0);
	assert_string_equal(fx->err, "");
	assert_int_equal(fx->imported, 2);
	assert_int_equal(passes_list(fx->passes, list_cb, &acc), 0);
	assert_int_equal(acc.n, 2);

	assert_string_equal(acc.kind[0], "membership");
	assert_string_equal(acc.holder[0], "Сидоров, Пётр \"Тренер\"");
	assert_int_equal(acc.e[0].valid_from_ms, msk(2025, 1, 1, 0, 0));
	assert_int_equal(acc.e[0].valid_until_ms, msk(2026, 1, 1, 0, 0)); /* end of 31.12 */
	assert_int_equal(acc.e[0].uses_per_day, 2);
	assert_int_equal(acc.e[0].pass_back_min, 30);
	assert_string_equal(acc.zone[0], "(null)");
	assert_int_equal(acc.e[0].uses, 0);

	assert_string_equal(acc.kind[1], "ticket");
	assert_string_equal(acc.holder[1], "Кузнецова\nАнна");
	assert_int_equal(acc.e[1].valid_from_ms, msk(2025, 3, 10, 19, 0));
	assert_int_equal(acc.e[1].valid_until_ms, msk_s(2025, 3, 10, 22, 30, 15));
	assert_string_equal(acc.zone[1], "Партер");

	/* the quoted code with a comma is the code */
	expect(fx, "T,1", "Партер", msk(2025, 3, 10, 19, 30), LANE_VERDICT_VALID, NULL);
}

static void import_of_header_only_imports_nothing_and_succeeds(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(import(fx, "code,kind,holder,valid_from,valid_until\n"), 0);
	assert_int_equal(fx->imported, 0);
}

struct bad_case {
	const char *what;
	const char *csv;
	const char *err; /* expected err prefix */
};

#define HDR "code,kind,holder,valid_from,valid_until,uses_per_day,pass_back_min,zone\n"
#define ROW_OK "N-1,membership,Новый,2025-01-01,2025-12-31,0,0,\n"
#define REPLACE_M1 "M-1,membership,Заменён,2025-01-01,2025-12-31,0,0,\n"

static const struct bad_case bad_cases[] = {
	{"empty file", "", "line 1: missing header"},
	{"blank header", "\n" ROW_OK, "line 1: missing header"},
	{"unknown column (case-sensitive)", "Code,kind,holder,valid_from,valid_until\n",
	 "line 1: unknown column \"Code\""},
	{"unknown column", "code,kind,holder,valid_from,valid_until,colour\n",
	 "line 1: unknown column \"colour\""},
	{"missing column", "code,kind,holder,valid_from\n",
	 "line 1: missing column \"valid_until\""},
	{"duplicate column", "code,kind,holder,valid_from,valid_until,kind\n",
	 "line 1: duplicate column \"kind\""},
	{"bad kind", HDR REPLACE_M1 ROW_OK "X-1,visitor,Гость,2025-01-01,2025-01-02,,,\n",
	 "line 4: kind must be"},
	{"empty code", HDR REPLACE_M1 ",membership,Гость,2025-01-01,2025-01-02,,,\n",
	 "line 3: code is empty"},
	{"code with a tab", HDR REPLACE_M1 "A\tB,membership,Гость,2025-01-01,2025-01-02,,,\n",
	 "line 3: code is not printable ASCII"},
	{"code with UTF-8", HDR REPLACE_M1 "КОД,membership,Гость,2025-01-01,2025-01-02,,,\n",
	 "line 3: code is not printable ASCII"},
	{"empty holder", HDR REPLACE_M1 "X-1,membership,,2025-01-01,2025-01-02,,,\n",
	 "line 3: holder is empty"},
	{"holder not UTF-8", HDR REPLACE_M1 "X-1,membership,Gast\xff,2025-01-01,2025-01-02,,,\n",
	 "line 3: holder is not valid UTF-8"},
	{"holder overlong UTF-8",
	 HDR REPLACE_M1 "X-1,membership,\xc0\xaf,2025-01-01,2025-01-02,,,\n",
	 "line 3: holder is not valid UTF-8"},
	{"holder 129 bytes",
	 HDR REPLACE_M1 "X-1,membership,"
			"ЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖ"
			"x,2025-01-01,2025-01-02,,,\n",
	 "line 3: holder longer than 128 bytes"},
	{"from after until", HDR REPLACE_M1 "X-1,ticket,Гость,2025-01-02,2025-01-01T10:00,,,\n",
	 "line 3: valid_until is before valid_from"},
	{"no such day", HDR REPLACE_M1 "X-1,ticket,Гость,2025-02-29,2025-03-01,,,\n",
	 "line 3: valid_from is not"},
	{"month 13", HDR REPLACE_M1 "X-1,ticket,Гость,2025-01-01,2025-13-01,,,\n",
	 "line 3: valid_until is not"},
	{"short month", HDR REPLACE_M1 "X-1,ticket,Гость,2025-1-01,2025-01-02,,,\n",
	 "line 3: valid_from is not"},
	{"hour 24", HDR REPLACE_M1 "X-1,ticket,Гость,2025-01-01,2025-01-01T24:00,,,\n",
	 "line 3: valid_until is not"},
	{"space not T", HDR REPLACE_M1 "X-1,ticket,Гость,2025-01-01 10:00,2025-01-02,,,\n",
	 "line 3: valid_from is not"},
	{"dotted date", HDR REPLACE_M1 "X-1,ticket,Гость,01.01.2025,2025-01-02,,,\n",
	 "line 3: valid_from is not"},
	{"uses_per_day 1001", HDR REPLACE_M1 "X-1,membership,Гость,2025-01-01,2025-01-02,1001,,\n",
	 "line 3: uses_per_day must be"},
	{"uses_per_day negative", HDR REPLACE_M1 "X-1,membership,Г,2025-01-01,2025-01-02,-1,,\n",
	 "line 3: uses_per_day must be"},
	{"pass_back_min 1441", HDR REPLACE_M1 "X-1,membership,Г,2025-01-01,2025-01-02,,1441,\n",
	 "line 3: pass_back_min must be"},
	{"too few fields", HDR REPLACE_M1 ROW_OK "X-1,membership,Г,2025-01-01,2025-01-02\n",
	 "line 4: 5 fields, the header has 8"},
	{"too many fields", HDR REPLACE_M1 "X-1,membership,Г,2025-01-01,2025-01-02,,,,\n",
	 "line 3: 9 fields, the header has 8"},
	{"duplicate code in file", HDR REPLACE_M1 ROW_OK "M-1,ticket,Г,2025-01-01,2025-01-02,,,\n",
	 "line 4: duplicate code (first on line 2)"},
	{"blank line in the middle", HDR REPLACE_M1 "\n" ROW_OK, "line 3: empty line"},
	{"error after a multi-line quoted field counts its lines",
	 HDR REPLACE_M1 "Q-1,membership,\"Три\nстроки\r\nимени\",2025-01-01,2025-01-02,,,\n"
			"X-1,membership,Г,2025-01-01,2025-01-02,x,,\n",
	 "line 6: uses_per_day must be"},
	{"field after the line break names its own line",
	 HDR REPLACE_M1 "Q-1,membership,\"Две\nстроки\",2025-13-01,2025-01-02,,,\n",
	 "line 4: valid_from is not"},
	{"unterminated quote names the line it opened",
	 HDR REPLACE_M1 "Q-1,membership,\"Без конца\n,2025-01-01,2025-01-02,,,\n",
	 "line 3: unterminated quoted field"},
	{"text after closing quote",
	 HDR REPLACE_M1 "Q-1,membership,\"Имя\"x,2025-01-01,2025-01-02,,,\n",
	 "line 3: text after a closing quote"},
	{"stray quote", HDR REPLACE_M1 "Q-1,membership,Им\"я,2025-01-01,2025-01-02,,,\n",
	 "line 3: quote inside an unquoted field"},
};

static int count_cb(const struct passes_entry *e, void *userdata)
{
	(void)e;
	(*(int *)userdata)++;
	return 0;
}

static void import_error_names_the_line_and_leaves_the_db_untouched(void **state)
{
	struct fx *fx = *state;
	struct lane_check_result res;
	char code513[520];
	char csv[1024];
	size_t i;
	int n;

	assert_int_equal(import(fx, base_csv), 0);
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *bc = &bad_cases[i];
		int rc = import(fx, bc->csv);

		if (rc != -EINVAL || strncmp(fx->err, bc->err, strlen(bc->err)) != 0)
			fail_msg("case \"%s\": rc %d err \"%s\", expected -EINVAL \"%s...\"",
				 bc->what, rc, fx->err, bc->err);
		n = 0;
		assert_int_equal(passes_list(fx->passes, count_cb, &n), 0);
		if (n != 2)
			fail_msg("case \"%s\": %d passes after a failed import, expected 2",
				 bc->what, n);
		/* M-1 is replaced by most files before their error: it must not be */
		assert_int_equal(check(fx, "M-1", NULL, NOW, &res, NULL), 0);
		assert_string_equal(res.title, "Иванов, Иван");
	}

	memset(code513, 'C', 513);
	code513[513] = '\0';
	snprintf(csv, sizeof(csv), HDR "%s,membership,Г,2025-01-01,2025-01-02,,,\n", code513);
	assert_int_equal(import(fx, csv), -EINVAL);
	assert_string_equal(fx->err, "line 2: code longer than 512 bytes");
	code513[512] = '\0';
	snprintf(csv, sizeof(csv), HDR "%s,membership,Г,2025-01-01,2025-01-02,,,\n", code513);
	assert_int_equal(import(fx, csv), 0);
}

static void import_error_inside_open_journal_transaction_keeps_journal_rows(void **state)
{
	struct fx *fx = *state;
	int64_t row;

	assert_int_equal(store_append_event(fx->store, NOW, "lane1", "mode_change", NULL, &row), 0);
	assert_true(store_pending(fx->store));
	assert_int_equal(import(fx, HDR REPLACE_M1 "bad"), -EINVAL);
	assert_int_equal(query_int(fx, "SELECT count(*) FROM passes"), 0);
	assert_int_equal(store_sync(fx->store), 0);
	assert_int_equal(query_int(fx, "SELECT count(*) FROM journal"), 1);

	/* and a good import inside the open transaction is committed with it */
	assert_int_equal(store_append_event(fx->store, NOW, "lane1", "mode_change", NULL, &row), 0);
	assert_int_equal(import(fx, base_csv), 0);
	assert_false(store_pending(fx->store));
	assert_int_equal(query_int(fx, "SELECT count(*) FROM journal"), 2);
	assert_int_equal(query_int(fx, "SELECT count(*) FROM passes"), 2);
}

static void code_is_stored_only_as_its_keyed_hash(void **state)
{
	struct fx *fx = *state;
	char hash[STORE_HASH_HEX_LEN + 1];
	sqlite3_stmt *st;
	int col, rows = 0;

	assert_int_equal(import(fx, HDR "SECRET-CODE-4711,ticket,Г,2025-01-01,2025-01-02,,,\n"), 0);
	assert_int_equal(sqlite3_prepare_v2(store_db(fx->store), "SELECT * FROM passes", -1, &st,
					    NULL),
			 SQLITE_OK);
	assert_int_equal(store_code_hash(fx->store, "SECRET-CODE-4711", 16, hash), 0);
	while (sqlite3_step(st) == SQLITE_ROW) {
		rows++;
		for (col = 0; col < sqlite3_column_count(st); col++) {
			const char *v = (const char *)sqlite3_column_text(st, col);

			if (v != NULL && strstr(v, "SECRET") != NULL)
				fail_msg("column %s holds the clear code",
					 sqlite3_column_name(st, col));
			if (strcmp(sqlite3_column_name(st, col), "code_hash") == 0)
				assert_string_equal(v, hash);
		}
	}
	sqlite3_finalize(st);
	assert_int_equal(rows, 1);
}

static void reimport_replaces_the_pass_and_keeps_its_uses(void **state)
{
	struct fx *fx = *state;
	struct lane_check_result res;
	struct list_acc acc = {0};
	int64_t id, id2, use;

	assert_int_equal(import(fx, base_csv), 0);
	id = expect(fx, "T-1", NULL, NOW, LANE_VERDICT_VALID, NULL);
	assert_int_equal(passes_reserve(fx->passes, id, "lane1", NOW, &use), 0);
	assert_int_equal(passes_consume(fx->passes, use, NOW + 5000), 0);

	assert_int_equal(import(fx, HDR "T-1,ticket,Новый владелец,2025-03-10,2025-03-11,,,\n"), 0);
	assert_int_equal(check(fx, "T-1", NULL, NOW, &res, &id2), 0);
	assert_int_equal(id2, id);
	assert_int_equal(res.verdict, LANE_VERDICT_USED);
	assert_string_equal(res.title, "Новый владелец");
	assert_string_equal(res.valid_until, "11.03.2025 23:59");
	assert_int_equal(passes_list(fx->passes, list_cb, &acc), 0);
	assert_int_equal(acc.n, 2);
	assert_int_equal(acc.e[1].uses, 1);
}

/* ---- check ---- */

static void unknown_code_is_verdict_unknown(void **state)
{
	struct fx *fx = *state;
	struct lane_check_result res;
	int64_t id = 99;

	assert_int_equal(import(fx, base_csv), 0);
	assert_int_equal(check(fx, "NOPE", NULL, NOW, &res, &id), 0);
	assert_int_equal(res.verdict, LANE_VERDICT_UNKNOWN);
	assert_string_equal(res.code_kind, "unknown");
	assert_string_equal(res.reason, "unknown code");
	assert_int_equal(id, 0);
}

static void valid_membership_fills_kind_title_and_valid_until(void **state)
{
	struct fx *fx = *state;
	struct lane_check_result res;
	int64_t id = 0;

	assert_int_equal(import(fx, base_csv), 0);
	assert_int_equal(check(fx, "M-1", "any", NOW, &res, &id), 0);
	assert_int_equal(res.verdict, LANE_VERDICT_VALID);
	assert_true(id > 0);
	assert_string_equal(res.code_kind, "membership");
	assert_string_equal(res.title, "Иванов, Иван");
	assert_string_equal(res.valid_until, "31.12.2025 23:59");
	assert_false(res.reuse);
}

static void before_valid_from_is_invalid_not_yet_valid(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(import(fx, base_csv), 0);
	expect(fx, "T-1", NULL, msk(2025, 3, 10, 10, 59), LANE_VERDICT_INVALID,
	       "not yet valid (from 10.03.2025 11:00)");
	expect(fx, "T-1", NULL, msk(2025, 3, 10, 11, 0), LANE_VERDICT_VALID, NULL);
	expect(fx, "M-1", NULL, msk(2024, 12, 31, 23, 59), LANE_VERDICT_INVALID,
	       "not yet valid (from 01.01.2025 00:00)");
	expect(fx, "M-1", NULL, msk(2025, 1, 1, 0, 0), LANE_VERDICT_VALID, NULL);
}

static void date_only_valid_until_lasts_to_the_end_of_that_local_day(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(import(fx, HDR "D-1,membership,Г,2025-03-01,2025-03-10,,,\n"), 0);
	expect(fx, "D-1", NULL, msk_s(2025, 3, 10, 23, 59, 59) + 999, LANE_VERDICT_VALID, NULL);
	expect(fx, "D-1", NULL, msk(2025, 3, 11, 0, 0), LANE_VERDICT_EXPIRED, "expired");
	/* an exact valid_until is exclusive */
	assert_int_equal(import(fx, base_csv), 0);
	expect(fx, "T-1", NULL, msk(2025, 3, 10, 22, 59), LANE_VERDICT_VALID, NULL);
	expect(fx, "T-1", NULL, msk(2025, 3, 10, 23, 0), LANE_VERDICT_EXPIRED, "expired");
}

static void ticket_is_single_use_reserve_annul_consume(void **state)
{
	struct fx *fx = *state;
	int64_t id, use1, use2;

	assert_int_equal(import(fx, base_csv), 0);
	id = expect(fx, "T-1", NULL, NOW, LANE_VERDICT_VALID, NULL);
	assert_int_equal(passes_reserve(fx->passes, id, "lane1", NOW, &use1), 0);
	expect(fx, "T-1", NULL, NOW + 1000, LANE_VERDICT_USED, "already used");

	assert_int_equal(passes_annul(fx->passes, use1, NOW + 8000), 0);
	expect(fx, "T-1", NULL, NOW + 9000, LANE_VERDICT_VALID, NULL);

	assert_int_equal(passes_reserve(fx->passes, id, "lane2", NOW + 10000, &use2), 0);
	assert_true(use2 != use1);
	assert_int_equal(passes_consume(fx->passes, use2, NOW + 12000), 0);
	expect(fx, "T-1", NULL, NOW + 60000, LANE_VERDICT_USED, "already used");
	expect(fx, "T-1", NULL, msk(2025, 3, 10, 22, 0), LANE_VERDICT_USED, NULL);
}

static void settling_a_settled_use_is_ealready_and_unknown_ids_enoent(void **state)
{
	struct fx *fx = *state;
	int64_t id, use, dummy;

	assert_int_equal(import(fx, base_csv), 0);
	id = expect(fx, "T-1", NULL, NOW, LANE_VERDICT_VALID, NULL);
	assert_int_equal(passes_reserve(fx->passes, id, "lane1", NOW, &use), 0);
	assert_int_equal(passes_consume(fx->passes, use, NOW + 1000), 0);
	assert_int_equal(passes_consume(fx->passes, use, NOW + 2000), -EALREADY);
	assert_int_equal(passes_annul(fx->passes, use, NOW + 2000), -EALREADY);
	assert_int_equal(passes_consume(fx->passes, use + 100, NOW), -ENOENT);
	assert_int_equal(passes_annul(fx->passes, use + 100, NOW), -ENOENT);
	assert_int_equal(passes_reserve(fx->passes, id + 100, "lane1", NOW, &dummy), -ENOENT);
	assert_int_equal(query_int(fx, "SELECT count(*) FROM pass_uses WHERE state = 'consumed'"),
			 1);
	assert_false(store_pending(fx->store));
}

static void reserving_a_ticket_another_lane_reserved_since_the_check_fails(void **state)
{
	struct fx *fx = *state;
	int64_t id, use1, use2 = 0;

	assert_int_equal(import(fx, base_csv), 0);
	/* both lanes checked the same ticket before either reserved */
	id = expect(fx, "T-1", NULL, NOW, LANE_VERDICT_VALID, NULL);
	expect(fx, "T-1", NULL, NOW, LANE_VERDICT_VALID, NULL);
	assert_int_equal(passes_reserve(fx->passes, id, "lane1", NOW + 100, &use1), 0);
	assert_int_equal(passes_reserve(fx->passes, id, "lane2", NOW + 200, &use2), -EALREADY);
	assert_int_equal(use2, 0);
	assert_int_equal(query_int(fx, "SELECT count(*) FROM pass_uses"), 1);
}

static void membership_daily_limit_counts_pending_and_consumed_since_local_midnight(void **state)
{
	struct fx *fx = *state;
	int64_t id, u1, u2, u3;

	assert_int_equal(import(fx, HDR "M-2,membership,Г,2025-01-01,2025-12-31,2,,\n"), 0);
	id = expect(fx, "M-2", NULL, msk(2025, 3, 10, 9, 0), LANE_VERDICT_VALID, NULL);
	assert_int_equal(passes_reserve(fx->passes, id, "lane1", msk(2025, 3, 10, 9, 0), &u1), 0);
	assert_int_equal(passes_consume(fx->passes, u1, msk(2025, 3, 10, 9, 0) + 3000), 0);
	expect(fx, "M-2", NULL, msk(2025, 3, 10, 10, 0), LANE_VERDICT_VALID, NULL);
	assert_int_equal(passes_reserve(fx->passes, id, "lane1", msk(2025, 3, 10, 10, 0), &u2), 0);
	/* second use still pending: it counts */
	expect(fx, "M-2", NULL, msk(2025, 3, 10, 11, 0), LANE_VERDICT_USED, "daily limit reached");
	expect(fx, "M-2", NULL, msk_s(2025, 3, 10, 23, 59, 59), LANE_VERDICT_USED,
	       "daily limit reached");
	/* an annulled use gives the entry back */
	assert_int_equal(passes_annul(fx->passes, u2, msk(2025, 3, 10, 10, 1)), 0);
	expect(fx, "M-2", NULL, msk(2025, 3, 10, 11, 0), LANE_VERDICT_VALID, NULL);
	assert_int_equal(passes_reserve(fx->passes, id, "lane1", msk(2025, 3, 10, 11, 0), &u3), 0);
	assert_int_equal(passes_consume(fx->passes, u3, msk(2025, 3, 10, 11, 0) + 3000), 0);
	expect(fx, "M-2", NULL, msk(2025, 3, 10, 20, 0), LANE_VERDICT_USED, "daily limit reached");
	/* local midnight, not UTC midnight (00:30 MSK is still 10.03 in UTC) */
	expect(fx, "M-2", NULL, msk(2025, 3, 11, 0, 30), LANE_VERDICT_VALID, NULL);
}

static void membership_pass_back_refuses_reentry_within_the_window(void **state)
{
	struct fx *fx = *state;
	int64_t id, use, t0 = msk(2025, 3, 10, 10, 0);

	assert_int_equal(import(fx, HDR "M-3,membership,Г,2025-01-01,2025-12-31,0,30,\n"), 0);
	id = expect(fx, "M-3", NULL, t0, LANE_VERDICT_VALID, NULL);
	assert_int_equal(passes_reserve(fx->passes, id, "lane1", t0, &use), 0);
	expect(fx, "M-3", NULL, t0 + 1000, LANE_VERDICT_USED, "pass-back: re-entry too soon");
	assert_int_equal(passes_consume(fx->passes, use, t0 + 4000), 0);
	expect(fx, "M-3", NULL, msk_s(2025, 3, 10, 10, 29, 59), LANE_VERDICT_USED,
	       "pass-back: re-entry too soon");
	expect(fx, "M-3", NULL, msk(2025, 3, 10, 10, 30), LANE_VERDICT_VALID, NULL);
}

static void unlimited_membership_allows_repeated_entries(void **state)
{
	struct fx *fx = *state;
	int64_t id, use;
	int i;

	assert_int_equal(import(fx, base_csv), 0);
	for (i = 0; i < 5; i++) {
		id = expect(fx, "M-1", NULL, NOW + i * 1000, LANE_VERDICT_VALID, NULL);
		assert_int_equal(passes_reserve(fx->passes, id, "lane1", NOW + i * 1000, &use), 0);
		assert_int_equal(passes_consume(fx->passes, use, NOW + i * 1000 + 500), 0);
	}
}

static void ticket_zone_must_match_the_lane_zone(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(import(fx, HDR "Z-1,ticket,Г,2025-03-10,2025-03-10,,,stalls\n"
					"Z-2,ticket,Г,2025-03-10,2025-03-10,,,\n"
					"Z-3,membership,Г,2025-03-10,2025-03-10,,,stalls\n"),
			 0);
	expect(fx, "Z-1", "stalls", NOW, LANE_VERDICT_VALID, NULL);
	expect(fx, "Z-1", "balcony", NOW, LANE_VERDICT_INVALID, "wrong zone");
	expect(fx, "Z-1", "", NOW, LANE_VERDICT_INVALID, "wrong zone");
	expect(fx, "Z-1", NULL, NOW, LANE_VERDICT_INVALID, "wrong zone");
	expect(fx, "Z-1", "Stalls", NOW, LANE_VERDICT_INVALID, "wrong zone");
	/* a ticket without zone, and any membership, pass on every lane */
	expect(fx, "Z-2", "balcony", NOW, LANE_VERDICT_VALID, NULL);
	expect(fx, "Z-2", NULL, NOW, LANE_VERDICT_VALID, NULL);
	expect(fx, "Z-3", "balcony", NOW, LANE_VERDICT_VALID, NULL);
}

static void attendant_requirement_follows_the_policy_per_kind(void **state)
{
	struct fx *fx = *state;
	const struct passes_policy flipped = {.membership_attendant = true,
					      .ticket_attendant = false};
	struct lane_check_result res;

	assert_int_equal(import(fx, base_csv), 0);
	assert_int_equal(check(fx, "M-1", NULL, NOW, &res, NULL), 0);
	assert_int_equal(res.verdict, LANE_VERDICT_VALID);
	assert_false(res.attendant_required);
	assert_int_equal(check(fx, "T-1", NULL, NOW, &res, NULL), 0);
	assert_int_equal(res.verdict, LANE_VERDICT_VALID);
	assert_true(res.attendant_required);

	passes_close(fx->passes);
	assert_int_equal(passes_open(&fx->passes, fx->store, &flipped), 0);
	assert_int_equal(check(fx, "M-1", NULL, NOW, &res, NULL), 0);
	assert_true(res.attendant_required);
	assert_int_equal(check(fx, "T-1", NULL, NOW, &res, NULL), 0);
	assert_false(res.attendant_required);
}

static void annul_pending_at_startup_frees_reserved_uses_only(void **state)
{
	struct fx *fx = *state;
	int64_t m, t, um1, um2, ut;
	size_t n = 99;

	assert_int_equal(import(fx, base_csv), 0);
	m = expect(fx, "M-1", NULL, NOW, LANE_VERDICT_VALID, NULL);
	t = expect(fx, "T-1", NULL, NOW, LANE_VERDICT_VALID, NULL);
	assert_int_equal(passes_reserve(fx->passes, m, "lane1", NOW, &um1), 0);
	assert_int_equal(passes_consume(fx->passes, um1, NOW + 1000), 0);
	assert_int_equal(passes_reserve(fx->passes, m, "lane1", NOW + 2000, &um2), 0);
	assert_int_equal(passes_reserve(fx->passes, t, "lane2", NOW + 2000, &ut), 0);
	expect(fx, "T-1", NULL, NOW + 3000, LANE_VERDICT_USED, NULL);

	/* restart */
	passes_close(fx->passes);
	store_close(fx->store);
	assert_int_equal(store_open(&fx->store, fx->path), 0);
	assert_int_equal(passes_open(&fx->passes, fx->store, &policy_ticket_attendant), 0);
	assert_int_equal(passes_annul_pending(fx->passes, NOW + 60000, &n), 0);
	assert_int_equal(n, 2);
	expect(fx, "T-1", NULL, NOW + 61000, LANE_VERDICT_VALID, NULL);
	assert_int_equal(passes_consume(fx->passes, ut, NOW + 62000), -EALREADY);
	assert_int_equal(query_int(fx, "SELECT count(*) FROM pass_uses WHERE state = 'consumed'"),
			 1);
	assert_int_equal(passes_annul_pending(fx->passes, NOW + 63000, &n), 0);
	assert_int_equal(n, 0);
}

static void long_holder_title_is_cut_at_a_utf8_boundary(void **state)
{
	struct fx *fx = *state;
	struct lane_check_result res;
	char csv[512];
	char holder[160] = "";
	int i;

	for (i = 0; i < 64; i++)
		strcat(holder, "Ж"); /* 128 bytes: the maximum */
	snprintf(csv, sizeof(csv), HDR "L-1,membership,%s,2025-01-01,2025-12-31,,,\n", holder);
	assert_int_equal(import(fx, csv), 0);
	assert_int_equal(check(fx, "L-1", NULL, NOW, &res, NULL), 0);
	assert_int_equal(strlen(res.title), 126);
	assert_memory_equal(res.title, holder, 126);
}

static int stop_cb(const struct passes_entry *e, void *userdata)
{
	(void)e;
	(*(int *)userdata)++;
	return 7;
}

static void list_walks_in_id_order_and_stops_on_callback_return(void **state)
{
	struct fx *fx = *state;
	struct list_acc acc = {0};
	int n = 0;

	assert_int_equal(import(fx, HDR "B,ticket,Второй,2025-01-01,2025-12-31,,,\n"
					"A,membership,Первый,2025-01-01,2025-12-31,,,\n"),
			 0);
	assert_int_equal(passes_list(fx->passes, list_cb, &acc), 0);
	assert_int_equal(acc.n, 2);
	assert_string_equal(acc.holder[0], "Второй");
	assert_string_equal(acc.holder[1], "Первый");
	assert_int_equal(passes_list(fx->passes, stop_cb, &n), 7);
	assert_int_equal(n, 1);
}

static void close_accepts_null(void **state)
{
	(void)state;
	passes_close(NULL);
}

#define TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(import_accepts_bom_crlf_quotes_cyrillic_and_both_kinds),
		TEST(import_of_header_only_imports_nothing_and_succeeds),
		TEST(import_error_names_the_line_and_leaves_the_db_untouched),
		TEST(import_error_inside_open_journal_transaction_keeps_journal_rows),
		TEST(code_is_stored_only_as_its_keyed_hash),
		TEST(reimport_replaces_the_pass_and_keeps_its_uses),
		TEST(unknown_code_is_verdict_unknown),
		TEST(valid_membership_fills_kind_title_and_valid_until),
		TEST(before_valid_from_is_invalid_not_yet_valid),
		TEST(date_only_valid_until_lasts_to_the_end_of_that_local_day),
		TEST(ticket_is_single_use_reserve_annul_consume),
		TEST(settling_a_settled_use_is_ealready_and_unknown_ids_enoent),
		TEST(reserving_a_ticket_another_lane_reserved_since_the_check_fails),
		TEST(membership_daily_limit_counts_pending_and_consumed_since_local_midnight),
		TEST(membership_pass_back_refuses_reentry_within_the_window),
		TEST(unlimited_membership_allows_repeated_entries),
		TEST(ticket_zone_must_match_the_lane_zone),
		TEST(attendant_requirement_follows_the_policy_per_kind),
		TEST(annul_pending_at_startup_frees_reserved_uses_only),
		TEST(long_holder_title_is_cut_at_a_utf8_boundary),
		TEST(list_walks_in_id_order_and_stops_on_callback_return),
		cmocka_unit_test(close_accepts_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
