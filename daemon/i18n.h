/* i18n.h: Russian and English texts for everything the attendant reads.
 *
 * A compact catalogue compiled into the program: one table keyed by message id
 * (enum i18n_msg) with the English and the Russian text side by side, and one
 * table keyed by the protocol's words (states, verdicts, modes, code kinds), so
 * that a missing translation is visible in one place and tested (test_i18n.c
 * checks that every entry has both texts). gettext was not chosen because the
 * attendant's language must not depend on which locales the host generated: the
 * texts are UTF-8 and need only a UTF-8 character set (C.UTF-8 is always there).
 *
 * The language comes from `--lang ru|en`, else from the locale variables in the
 * usual order (LC_ALL, LC_MESSAGES, LANG): a value starting with "ru" picks
 * Russian, anything else English. Pure: no I/O, no logging.
 */
#ifndef TS_I18N_H
#define TS_I18N_H

enum i18n_lang { I18N_EN, I18N_RU, I18N_LANG_COUNT };

enum i18n_msg {
	I18N_TITLE,
	I18N_LANE,
	I18N_STATE,
	I18N_MODE,
	I18N_MODE_PENDING,
	I18N_HOLDER,
	I18N_BIRTH,
	I18N_DOC,
	I18N_PASS,
	I18N_VALID_UNTIL,
	I18N_TIME_LEFT,
	I18N_REQUEST,
	I18N_REASON,
	I18N_REUSE,
	I18N_NO_CHECK,
	I18N_CHECKING,
	I18N_HINT_VALID,
	I18N_HINT_DENIED,
	I18N_HINT_OPEN,
	I18N_KEYS,
	I18N_STATUS_OK,
	I18N_STATUS_IO_FAULT,
	I18N_STATUS_EMERGENCY,
	I18N_STATUS_PORTAL,
	I18N_STATUS_NO_DAEMON,
	I18N_STATUS_LOCKED,
	I18N_STATUS_STOPPED,
	I18N_MSG_CONFIRMED,
	I18N_MSG_REJECTED,
	I18N_MSG_STALE,
	I18N_MSG_NOTHING,
	I18N_MSG_FAILED,
	I18N_MSG_OPENED,
	I18N_MSG_REASON_EMPTY,
	I18N_MSG_MODE_SET,
	I18N_MSG_MODE_DEFERRED,
	I18N_MSG_STOPPED,
	I18N_MSG_STOP_CLEARED,
	I18N_MSG_CANCELLED,
	I18N_MSG_RECONNECTED,
	I18N_PROMPT_DIR,
	I18N_PROMPT_REASON,
	I18N_PROMPT_MODE,
	I18N_TOO_SMALL,
	I18N_NO_LANE,
	I18N_MSG_COUNT
};

/* "ru" or "en" (case-insensitive): 0 and *out; otherwise -EINVAL. */
int i18n_lang_parse(const char *name, enum i18n_lang *out);
/* From the locale variables' values (each may be NULL or empty). */
enum i18n_lang i18n_lang_from_locale(const char *lc_all, const char *lc_messages,
				     const char *lang);
/* The text of msg; never NULL. */
const char *i18n_text(enum i18n_lang lang, enum i18n_msg msg);
/* The attendant's word for a protocol word (state, verdict, mode, code kind);
 * the word itself when the catalogue does not know it, "" for NULL. */
const char *i18n_word(enum i18n_lang lang, const char *word);
/* For tests: the number of protocol words, and the i-th one's key and text. */
unsigned i18n_word_count(void);
const char *i18n_word_key(unsigned i);

#endif
