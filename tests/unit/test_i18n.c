/* test_i18n.c: the attendant's catalogue is complete in both languages. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "i18n.h"

/* should: have a non-empty text for every message id in English and Russian,
 * and the Russian one differs from the English one (it was translated). */
static void test_every_message_translated(void **state)
{
	for (int m = 0; m < I18N_MSG_COUNT; m++) {
		const char *en = i18n_text(I18N_EN, (enum i18n_msg)m);
		const char *ru = i18n_text(I18N_RU, (enum i18n_msg)m);

		if (!en[0] || !ru[0] || strcmp(en, ru) == 0)
			fail_msg("message %d: en '%s' ru '%s'", m, en, ru);
	}
}

/* should: translate every protocol word the console shows (states, verdicts,
 * modes, code kinds) into both languages. */
static void test_every_word_translated(void **state)
{
	static const char *const shown[] = {
		"idle", "verifying", "await_attendant", "open", "passing", "denied", "free",
		"blocked", "emergency", "io_fault", "valid", "invalid", "expired", "not_found",
		"cancelled", "unavailable", "forged", "unknown", "used", "normal", "free-a",
		"free-b", "locked", "ticket", "membership", "gosuslugi",
	};

	assert_true(i18n_word_count() >= sizeof(shown) / sizeof(shown[0]));
	for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]); i++) {
		const char *en = i18n_word(I18N_EN, shown[i]);
		const char *ru = i18n_word(I18N_RU, shown[i]);

		if (!en[0] || strcmp(ru, shown[i]) == 0 || strcmp(en, ru) == 0)
			fail_msg("word %s: en '%s' ru '%s'", shown[i], en, ru);
	}
	assert_string_equal(i18n_word(I18N_RU, "forged"), "ПОДДЕЛКА");
	assert_string_equal(i18n_word(I18N_EN, "no-such-word"), "no-such-word");
	assert_string_equal(i18n_word(I18N_EN, NULL), "");
	assert_null(i18n_word_key(i18n_word_count()));
}

/* should: pick the language like gettext would: LC_ALL, then LC_MESSAGES, then
 * LANG; "ru*" is Russian; --lang accepts only ru and en. */
static void test_language_choice(void **state)
{
	enum i18n_lang l = I18N_EN;

	assert_int_equal(i18n_lang_from_locale(NULL, NULL, "ru_RU.UTF-8"), I18N_RU);
	assert_int_equal(i18n_lang_from_locale("", "", "ru_RU.UTF-8"), I18N_RU);
	assert_int_equal(i18n_lang_from_locale("C.UTF-8", NULL, "ru_RU.UTF-8"), I18N_EN);
	assert_int_equal(i18n_lang_from_locale(NULL, "ru_UA.UTF-8", "en_US.UTF-8"), I18N_RU);
	assert_int_equal(i18n_lang_from_locale(NULL, NULL, NULL), I18N_EN);
	assert_int_equal(i18n_lang_parse("RU", &l), 0);
	assert_int_equal(l, I18N_RU);
	assert_int_equal(i18n_lang_parse("en", &l), 0);
	assert_int_equal(l, I18N_EN);
	assert_int_equal(i18n_lang_parse("de", &l), -EINVAL);
	assert_int_equal(i18n_lang_parse(NULL, &l), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_message_translated),
		cmocka_unit_test(test_every_word_translated),
		cmocka_unit_test(test_language_choice),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
