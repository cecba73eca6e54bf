/* passes.h: the 'passes' verifier: local credentials in SQLite.
 *
 * Kinds: membership (valid window, optional uses per local day, optional
 * pass-back minutes after a consumed use) and ticket (single use, valid window,
 * optional zone). Codes are stored only as keyed hashes (store_code_hash).
 *
 * A use is reserved ('pending') when the check is granted, and settled later:
 * consumed when the person passes, annulled when nobody does. Pending and
 * consumed uses both count, so the same ticket cannot be granted twice at once.
 * Nothing here logs; every function returns 0 or a negative errno.
 */
#ifndef TS_PASSES_H
#define TS_PASSES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lane.h"
#include "store.h"

struct passes;

struct passes_policy {
	bool membership_attendant; /* attendant must confirm memberships */
	bool ticket_attendant;     /* attendant must confirm tickets */
};

int passes_open(struct passes **out, struct store *store, const struct passes_policy *policy);
void passes_close(struct passes *passes);

/* Imports a whole CSV text: all rows or none. Header row required with at least
 * code,kind,holder,valid_from,valid_until; optional uses_per_day, pass_back_min,
 * zone. Times: local "YYYY-MM-DD" (from: start of day; until: end of that day) or
 * "YYYY-MM-DDTHH:MM[:SS]". A code already present is replaced. On error returns
 * -EINVAL and writes "line N: what is wrong" to err. */
int passes_import_csv(struct passes *passes, const char *text, size_t len, int64_t now_ms,
		      size_t *imported, char *err, size_t errlen);

/* Looks the code up for lane/zone at now_ms and fills result (verdict valid, expired,
 * not yet valid = invalid, used, unknown when no such code). 0 or negative errno. */
int passes_check(struct passes *passes, const char *code_hash, const char *lane, const char *zone,
		 int64_t now_ms, struct lane_check_result *result, int64_t *pass_id);

/* Reserve a use at grant time; *use_id identifies it. */
int passes_reserve(struct passes *passes, int64_t pass_id, const char *lane, int64_t now_ms,
		   int64_t *use_id);
int passes_consume(struct passes *passes, int64_t use_id, int64_t now_ms);
int passes_annul(struct passes *passes, int64_t use_id, int64_t now_ms);
/* At start-up: every use still pending was never seen to pass: annul it. *count set. */
int passes_annul_pending(struct passes *passes, int64_t now_ms, size_t *count);

struct passes_entry {
	const char *kind;
	const char *holder;
	int64_t valid_from_ms, valid_until_ms;
	int uses_per_day, pass_back_min;
	const char *zone; /* may be NULL */
	int64_t uses;     /* consumed uses so far */
};
typedef int (*passes_list_fn)(const struct passes_entry *entry, void *userdata);
int passes_list(struct passes *passes, passes_list_fn fn, void *userdata);

#endif
