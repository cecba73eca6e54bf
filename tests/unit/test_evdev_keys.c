/* test_evdev_keys.c: recorded input-event streams decode to the right text.
 *
 * The streams are what a USB keyboard-wedge scanner and a keypad send through
 * evdev (EV_MSC scan codes, EV_KEY press/repeat/release, EV_SYN reports). The
 * decoder must give the same ASCII whatever the host's keyboard layout is.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <linux/input-event-codes.h>

#include "evdev_keys.h"

struct ev {
	uint16_t type, code;
	int32_t value;
};

#define KEY_TAP(k) {EV_MSC, MSC_SCAN, 0x70000}, {EV_KEY, (k), 1}, {EV_SYN, SYN_REPORT, 0}, \
		   {EV_KEY, (k), 0}, {EV_SYN, SYN_REPORT, 0}
#define SHIFT_DOWN {EV_KEY, KEY_LEFTSHIFT, 1}, {EV_SYN, SYN_REPORT, 0}
#define SHIFT_UP {EV_KEY, KEY_LEFTSHIFT, 0}, {EV_SYN, SYN_REPORT, 0}

/* Feeds the stream; the characters of the presses go to out (NUL-terminated);
 * returns how many DROPPED results were seen. */
static int decode(const struct ev *evs, size_t n, char *out, size_t outlen)
{
	struct evdev_keys k;
	size_t len = 0;
	int dropped = 0;

	evdev_keys_init(&k);
	for (size_t i = 0; i < n; i++) {
		struct evdev_keys_press p;
		enum evdev_keys_result r = evdev_keys_feed(&k, evs[i].type, evs[i].code,
							   evs[i].value, &p);

		if (r == EVDEV_KEYS_DROPPED)
			dropped++;
		if (r == EVDEV_KEYS_PRESS && p.ch) {
			assert_true(len + 1 < outlen);
			out[len++] = p.ch;
		}
	}
	out[len] = '\0';
	return dropped;
}

/* should: turn a scanned mixed-case code with Shift into the exact ASCII, with
 * Enter ('\r') at the end. */
static void test_shift_and_enter(void **state)
{
	static const struct ev evs[] = {
		SHIFT_DOWN, KEY_TAP(KEY_Q), KEY_TAP(KEY_R), SHIFT_UP, KEY_TAP(KEY_MINUS),
		KEY_TAP(KEY_1), KEY_TAP(KEY_A), {EV_KEY, KEY_RIGHTSHIFT, 1},
		KEY_TAP(KEY_SLASH), KEY_TAP(KEY_2), {EV_KEY, KEY_RIGHTSHIFT, 0},
		KEY_TAP(KEY_DOT), KEY_TAP(KEY_ENTER),
	};
	char out[64];

	assert_int_equal(decode(evs, sizeof(evs) / sizeof(evs[0]), out, sizeof(out)), 0);
	assert_string_equal(out, "QR-1a?@.\r");
}

/* should: give digits for keypad keys (whatever NumLock says) and end the code
 * on keypad Enter. */
static void test_keypad_digits(void **state)
{
	static const struct ev evs[] = {
		{EV_KEY, KEY_NUMLOCK, 1}, {EV_KEY, KEY_NUMLOCK, 0},
		KEY_TAP(KEY_KP1), KEY_TAP(KEY_KP2), KEY_TAP(KEY_KP0), KEY_TAP(KEY_KP9),
		KEY_TAP(KEY_KPDOT), KEY_TAP(KEY_KPMINUS), KEY_TAP(KEY_KPPLUS),
		KEY_TAP(KEY_KPENTER),
	};
	char out[64];

	decode(evs, sizeof(evs) / sizeof(evs[0]), out, sizeof(out));
	assert_string_equal(out, "1209.-+\r");
}

/* should: ignore key repeat (value 2), so a held key types one character and a
 * held Enter confirms once; a Shift repeat keeps Shift down. */
static void test_repeat_ignored(void **state)
{
	static const struct ev evs[] = {
		{EV_KEY, KEY_A, 1}, {EV_KEY, KEY_A, 2}, {EV_KEY, KEY_A, 2}, {EV_KEY, KEY_A, 0},
		{EV_KEY, KEY_LEFTSHIFT, 1}, {EV_KEY, KEY_LEFTSHIFT, 2}, KEY_TAP(KEY_B),
		{EV_KEY, KEY_LEFTSHIFT, 0}, {EV_KEY, KEY_ENTER, 1}, {EV_KEY, KEY_ENTER, 2},
		{EV_KEY, KEY_ENTER, 2}, {EV_KEY, KEY_ENTER, 0},
	};
	char out[64];

	decode(evs, sizeof(evs) / sizeof(evs[0]), out, sizeof(out));
	assert_string_equal(out, "aB\r");
}

/* should: decode the same ASCII on a host set to a Russian layout: the layout
 * lives in the host's keymap, which the decoder never consults. Here the
 * environment says Russian everywhere and the stream (the same key codes a
 * scanner always sends) still decodes to "https://x.ru/A". */
static void test_cyrillic_host_irrelevant(void **state)
{
	static const struct ev evs[] = {
		KEY_TAP(KEY_H), KEY_TAP(KEY_T), KEY_TAP(KEY_T), KEY_TAP(KEY_P), KEY_TAP(KEY_S),
		SHIFT_DOWN, KEY_TAP(KEY_SEMICOLON), SHIFT_UP, KEY_TAP(KEY_SLASH),
		KEY_TAP(KEY_SLASH), KEY_TAP(KEY_X), KEY_TAP(KEY_DOT), KEY_TAP(KEY_R),
		KEY_TAP(KEY_U), KEY_TAP(KEY_SLASH), SHIFT_DOWN, KEY_TAP(KEY_A), SHIFT_UP,
		KEY_TAP(KEY_ENTER),
	};
	char out[64];

	setenv("LANG", "ru_RU.UTF-8", 1);
	setenv("XKB_DEFAULT_LAYOUT", "ru", 1);
	decode(evs, sizeof(evs) / sizeof(evs[0]), out, sizeof(out));
	assert_string_equal(out, "https://x.ru/A\r");
}

/* should: report SYN_DROPPED and forget a Shift that may have been released in
 * the lost events. */
static void test_dropped_resets_shift(void **state)
{
	static const struct ev evs[] = {
		SHIFT_DOWN, KEY_TAP(KEY_A), {EV_SYN, SYN_DROPPED, 0}, KEY_TAP(KEY_A),
	};
	char out[64];

	assert_int_equal(decode(evs, sizeof(evs) / sizeof(evs[0]), out, sizeof(out)), 1);
	assert_string_equal(out, "Aa");
}

/* should: report presses of keys without a character (F-keys, Esc, Backspace)
 * with ch 0, so a keypad can map them to attendant actions. */
static void test_non_character_keys(void **state)
{
	struct evdev_keys k;
	struct evdev_keys_press p;

	evdev_keys_init(&k);
	assert_int_equal(evdev_keys_feed(&k, EV_KEY, KEY_F5, 1, &p), EVDEV_KEYS_PRESS);
	assert_int_equal(p.key, KEY_F5);
	assert_int_equal(p.ch, 0);
	assert_int_equal(evdev_keys_feed(&k, EV_KEY, KEY_BACKSPACE, 1, &p), EVDEV_KEYS_PRESS);
	assert_int_equal(p.key, KEY_BACKSPACE);
	assert_int_equal(evdev_keys_feed(&k, EV_KEY, KEY_BACKSPACE, 0, &p), EVDEV_KEYS_NONE);
	assert_int_equal(evdev_keys_feed(&k, EV_REL, 0, 1, &p), EVDEV_KEYS_NONE);
	assert_int_equal(evdev_keys_char(KEY_MAX, false), 0);
}

/* should: map configuration key names to key codes and refuse unknown names. */
static void test_key_names(void **state)
{
	assert_int_equal(evdev_keys_parse_name("enter"), KEY_ENTER);
	assert_int_equal(evdev_keys_parse_name("KPEnter"), KEY_KPENTER);
	assert_int_equal(evdev_keys_parse_name("kpminus"), KEY_KPMINUS);
	assert_int_equal(evdev_keys_parse_name("kp7"), KEY_KP7);
	assert_int_equal(evdev_keys_parse_name("f1"), KEY_F1);
	assert_int_equal(evdev_keys_parse_name("F12"), KEY_F12);
	assert_int_equal(evdev_keys_parse_name("r"), KEY_R);
	assert_int_equal(evdev_keys_parse_name("0"), KEY_0);
	assert_int_equal(evdev_keys_parse_name("f13"), -EINVAL);
	assert_int_equal(evdev_keys_parse_name("f1x"), -EINVAL);
	assert_int_equal(evdev_keys_parse_name("R2"), -EINVAL);
	assert_int_equal(evdev_keys_parse_name(""), -EINVAL);
	assert_int_equal(evdev_keys_parse_name(NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shift_and_enter),
		cmocka_unit_test(test_keypad_digits),
		cmocka_unit_test(test_repeat_ignored),
		cmocka_unit_test(test_cyrillic_host_irrelevant),
		cmocka_unit_test(test_dropped_resets_shift),
		cmocka_unit_test(test_non_character_keys),
		cmocka_unit_test(test_key_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
