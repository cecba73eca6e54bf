/* test_evdev_sources.c: the hid scanner source and the keypad on recorded
 * input-event streams.
 *
 * A FIFO stands in for /dev/input/eventN: the test writes struct input_event
 * records into it as a wedge scanner or a keypad would send them, and runs the
 * sd-event loop until the source reports. The FIFO cannot be grabbed (EVIOCGRAB
 * is an evdev ioctl), which is what evdev_require_grab decides about: with it on
 * (the default) the FIFO is refused, with it off it is read with a warning.
 * Unplugging is the FIFO's writer going away and its path disappearing.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <linux/input.h>

#include "keypad.h"
#include "scanner.h"

struct seen {
	int codes;
	char code[600];
	int rejected;
	char why[128];
	int up, down;
	int err; /* of the last status */
	int actions;
	enum keypad_action action[16];
	uint64_t pressed[16];
};

static char dir[64], fifo[96];
static sd_event *loop;
static int writer = -1;

static void on_code(const char *code, size_t len, void *userdata)
{
	struct seen *s = userdata;

	s->codes++;
	snprintf(s->code, sizeof(s->code), "%.*s", (int)len, code);
}

static void on_rejected(const char *why, void *userdata)
{
	struct seen *s = userdata;

	s->rejected++;
	snprintf(s->why, sizeof(s->why), "%s", why);
}

static void on_status(bool connected, int err, const char *device, void *userdata)
{
	struct seen *s = userdata;

	s->err = err;
	if (connected)
		s->up++;
	else
		s->down++;
}

static void on_action(enum keypad_action a, uint64_t pressed_ms, void *userdata)
{
	struct seen *s = userdata;

	assert_true(s->actions < 16);
	s->action[s->actions] = a;
	s->pressed[s->actions++] = pressed_ms;
}

static const struct scanner_callbacks scan_cb = {
    .code = on_code,
    .rejected = on_rejected,
    .status = on_status,
};

static const struct keypad_callbacks keypad_cb = {
    .action = on_action,
    .status = on_status,
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Runs the loop until *counter differs from before, or ms pass. */
static void run_until(const int *counter, int before, unsigned ms)
{
	uint64_t end = now_ms() + ms;

	while (now_ms() < end && *counter == before)
		assert_true(sd_event_run(loop, 20 * 1000) >= 0);
}

static void plug(void)
{
	assert_int_equal(mkfifo(fifo, 0600), 0);
	/* Read-write: the FIFO never sees its last writer leave until unplug(). */
	writer = open(fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	assert_true(writer >= 0);
}

static void unplug(void)
{
	unlink(fifo);
	close(writer);
	writer = -1;
}

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/test_evdev.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(fifo, sizeof(fifo), "%s/event-kbd", dir);
	assert_true(sd_event_new(&loop) >= 0);
	return 0;
}

static int teardown(void **state)
{
	if (writer >= 0)
		close(writer);
	writer = -1;
	unlink(fifo);
	rmdir(dir);
	loop = sd_event_unref(loop);
	return 0;
}

static void lane_config(struct config_lane *l, bool require_grab)
{
	memset(l, 0, sizeof(*l));
	l->scanner = CONFIG_SCANNER_HID;
	snprintf(l->scanner_device, sizeof(l->scanner_device), "%s", fifo);
	snprintf(l->keypad_device, sizeof(l->keypad_device), "%s", fifo);
	snprintf(l->keypad_reject, sizeof(l->keypad_reject), "kpminus");
	snprintf(l->keypad_manual_open, sizeof(l->keypad_manual_open), "kpasterisk");
	l->scanner_max_len = 32;
	l->evdev_require_grab = require_grab;
}

/* The recording: records with a time, written as the kernel would deliver them. */
static struct input_event rec[256];
static size_t nrec;
static uint64_t rec_ms;

static void ev(uint16_t type, uint16_t code, int32_t value)
{
	assert_true(nrec < sizeof(rec) / sizeof(rec[0]));
	rec[nrec].input_event_sec = (time_t)(rec_ms / 1000);
	rec[nrec].input_event_usec = (suseconds_t)(rec_ms % 1000 * 1000);
	rec[nrec].type = type;
	rec[nrec].code = code;
	rec[nrec].value = value;
	nrec++;
}

/* A press and a release, each with the MSC_SCAN and SYN_REPORT a keyboard sends. */
static void tap(uint16_t key)
{
	ev(EV_MSC, MSC_SCAN, 0x70000 + key);
	ev(EV_KEY, key, 1);
	ev(EV_SYN, SYN_REPORT, 0);
	ev(EV_KEY, key, 0);
	ev(EV_SYN, SYN_REPORT, 0);
}

static void shifted(uint16_t key)
{
	ev(EV_KEY, KEY_LEFTSHIFT, 1);
	ev(EV_SYN, SYN_REPORT, 0);
	tap(key);
	ev(EV_KEY, KEY_LEFTSHIFT, 0);
	ev(EV_SYN, SYN_REPORT, 0);
}

/* Sends the recording; chunk > 0 writes it in pieces of that many bytes, so
 * records arrive split across reads. */
static void send_rec(size_t chunk)
{
	const char *p = (const char *)rec;
	size_t len = nrec * sizeof(rec[0]);

	if (!chunk)
		chunk = len;
	for (size_t off = 0; off < len; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;

		assert_int_equal(write(writer, p + off, n), (ssize_t)n);
		/* Let the source read this piece alone. */
		for (int i = 0; i < 3; i++)
			assert_true(sd_event_run(loop, 5 * 1000) >= 0);
	}
	nrec = 0;
}

/* should: type "QR-12" through Shift, the top row and the keypad, ignore a held
 * key's repeats and Ctrl/NumLock around the code, and end it at Enter. */
static void test_hid_shift_keypad_repeat(void **state)
{
	struct config_lane l;
	struct scanner *sc;
	struct seen s = {0};

	plug();
	lane_config(&l, false);
	assert_int_equal(scanner_open(&sc, loop, &l, &scan_cb, &s), 0);
	assert_string_equal(scanner_name(sc), "hid");
	assert_int_equal(s.up, 1);
	assert_int_equal(s.err, -ENOTTY); /* a FIFO: read without a grab, and said so */

	tap(KEY_NUMLOCK);
	ev(EV_KEY, KEY_LEFTSHIFT, 1);
	ev(EV_KEY, KEY_LEFTSHIFT, 2); /* a held Shift repeats and stays down */
	tap(KEY_Q);
	tap(KEY_R);
	ev(EV_KEY, KEY_LEFTSHIFT, 0);
	tap(KEY_MINUS);
	ev(EV_KEY, KEY_KP1, 1);
	ev(EV_KEY, KEY_KP1, 2); /* auto-repeat of a held key: no second '1' */
	ev(EV_KEY, KEY_KP1, 2);
	ev(EV_KEY, KEY_KP1, 0);
	tap(KEY_LEFTCTRL);
	tap(KEY_2);
	tap(KEY_KPENTER);
	send_rec(0);
	run_until(&s.codes, 0, 2000);
	assert_int_equal(s.codes, 1);
	assert_string_equal(s.code, "QR-12");
	assert_int_equal(s.rejected, 0);
	scanner_close(sc);
}

/* should: decode the same code whatever layout the host has (Russian here) and
 * however the records are split between reads. */
static void test_hid_cyrillic_host_and_split_records(void **state)
{
	struct config_lane l;
	struct scanner *sc;
	struct seen s = {0};
	static const uint16_t url[] = {KEY_H, KEY_T, KEY_T, KEY_P, KEY_S};

	setenv("LANG", "ru_RU.UTF-8", 1);
	setenv("XKB_DEFAULT_LAYOUT", "ru", 1);
	plug();
	lane_config(&l, false);
	assert_int_equal(scanner_open(&sc, loop, &l, &scan_cb, &s), 0);
	for (size_t i = 0; i < sizeof(url) / sizeof(url[0]); i++)
		tap(url[i]);
	shifted(KEY_SEMICOLON);
	tap(KEY_SLASH);
	tap(KEY_SLASH);
	shifted(KEY_A);
	tap(KEY_ENTER);
	send_rec(7); /* 7 bytes at a time: no record arrives whole */
	run_until(&s.codes, 0, 2000);
	assert_string_equal(s.code, "https://A");
	scanner_close(sc);
}

/* should: reject, not shorten, a line with a key that has no character (Tab)
 * and a line over scanner_max_len; reject the code in progress when the kernel
 * dropped events (SYN_DROPPED), so its tail is not taken for a code; and read
 * the next good code. */
static void test_hid_garbage_rules(void **state)
{
	struct config_lane l;
	struct scanner *sc;
	struct seen s = {0};

	plug();
	lane_config(&l, false);
	assert_int_equal(scanner_open(&sc, loop, &l, &scan_cb, &s), 0);
	tap(KEY_A);
	tap(KEY_TAB);
	tap(KEY_B);
	tap(KEY_ENTER);
	send_rec(0);
	run_until(&s.rejected, 0, 2000);
	assert_int_equal(s.rejected, 1);
	assert_non_null(strstr(s.why, "keys without a character"));

	for (int i = 0; i < 40; i++)
		tap(KEY_7);
	tap(KEY_ENTER);
	send_rec(0);
	run_until(&s.rejected, 1, 2000);
	assert_int_equal(s.rejected, 2);
	assert_non_null(strstr(s.why, "too long (40 keys, at most 32)"));

	tap(KEY_X);
	ev(EV_SYN, SYN_DROPPED, 0);
	tap(KEY_Y);
	tap(KEY_ENTER);
	send_rec(0);
	run_until(&s.rejected, 2, 2000);
	assert_int_equal(s.rejected, 3);
	assert_int_equal(s.codes, 0);
	assert_non_null(strstr(s.why, "keys lost by the kernel"));

	tap(KEY_O);
	tap(KEY_K);
	tap(KEY_ENTER);
	send_rec(0);
	run_until(&s.codes, 0, 2000);
	assert_int_equal(s.codes, 1);
	assert_string_equal(s.code, "ok");
	scanner_close(sc);
}

/* should: report an unplug once, drop the half-typed code, retry with backoff,
 * and read codes again from the device that comes back. */
static void test_hid_unplug_and_reconnect(void **state)
{
	struct config_lane l;
	struct scanner *sc;
	struct seen s = {0};

	plug();
	lane_config(&l, false);
	assert_int_equal(scanner_open(&sc, loop, &l, &scan_cb, &s), 0);
	tap(KEY_H);
	tap(KEY_A);
	send_rec(0);
	unplug();
	run_until(&s.down, 0, 2000);
	assert_int_equal(s.down, 1);
	assert_int_equal(s.err, -ENODEV);
	/* Retries while it is gone (250 ms, 500 ms, ...) are not reported again. */
	run_until(&s.up, 1, 900);
	assert_int_equal(s.up, 1);
	assert_int_equal(s.down, 2); /* once more: now "not found" instead of "gone" */
	assert_int_equal(s.err, -ENOENT);
	plug();
	run_until(&s.up, 1, 6000);
	assert_int_equal(s.up, 2);
	tap(KEY_L);
	tap(KEY_O);
	tap(KEY_ENTER);
	send_rec(0);
	run_until(&s.codes, 0, 2000);
	assert_int_equal(s.codes, 1);
	assert_string_equal(s.code, "lo"); /* not "halo": the cut code is gone */
	scanner_close(sc);
}

/* should: refuse a device that cannot be grabbed when the grab is required (the
 * default), keep retrying, and never read a key from it. */
static void test_grab_required(void **state)
{
	struct config_lane l;
	struct scanner *sc;
	struct seen s = {0};

	plug();
	lane_config(&l, true);
	assert_int_equal(scanner_open(&sc, loop, &l, &scan_cb, &s), 0);
	assert_int_equal(s.up, 0);
	assert_int_equal(s.down, 1);
	assert_int_equal(s.err, -ENOTTY);
	tap(KEY_A);
	tap(KEY_ENTER);
	send_rec(0);
	run_until(&s.codes, 0, 700);
	assert_int_equal(s.codes, 0);
	assert_int_equal(s.up, 0);
	scanner_close(sc);
}

/* should: map Enter and keypad Enter to confirm, the reject and manual open keys
 * to theirs, ignore other keys, releases and repeats, and pass on each press's
 * own time. */
static void test_keypad_actions_and_times(void **state)
{
	struct config_lane l;
	struct keypad *k;
	struct seen s = {0};

	plug();
	lane_config(&l, false);
	assert_int_equal(keypad_open(&k, loop, &l, &keypad_cb, &s), 0);
	assert_non_null(k);
	rec_ms = 1000000;
	tap(KEY_KPENTER);
	rec_ms += 1500;
	tap(KEY_KP5); /* not an attendant key */
	ev(EV_KEY, KEY_KPMINUS, 1);
	ev(EV_KEY, KEY_KPMINUS, 2);
	ev(EV_KEY, KEY_KPMINUS, 0);
	rec_ms += 2;
	tap(KEY_KPASTERISK);
	tap(KEY_ENTER);
	send_rec(0);
	while (s.actions < 4) {
		int before = s.actions;

		run_until(&s.actions, before, 2000);
		assert_true(s.actions > before);
	}
	assert_int_equal(s.actions, 4);
	assert_int_equal(s.action[0], KEYPAD_CONFIRM);
	assert_int_equal(s.pressed[0], 1000000);
	assert_int_equal(s.action[1], KEYPAD_REJECT);
	assert_int_equal(s.pressed[1], 1001500);
	assert_int_equal(s.action[2], KEYPAD_MANUAL_OPEN);
	assert_int_equal(s.pressed[2], 1001502);
	assert_int_equal(s.action[3], KEYPAD_CONFIRM);
	keypad_close(k);
	rec_ms = 0;
}

/* should: open no keypad without a device, refuse a bad key name, and know the
 * actions of keys when a key is set to none. */
static void test_keypad_config(void **state)
{
	struct config_lane l;
	struct keypad *k;
	struct seen s = {0};

	lane_config(&l, false);
	l.keypad_device[0] = '\0';
	assert_int_equal(keypad_open(&k, loop, &l, &keypad_cb, &s), 0);
	assert_null(k);
	lane_config(&l, false);
	snprintf(l.keypad_reject, sizeof(l.keypad_reject), "nosuchkey");
	assert_int_equal(keypad_open(&k, loop, &l, &keypad_cb, &s), -EINVAL);
	assert_int_equal(keypad_action_of(KEY_KPMINUS, -1, KEY_KPASTERISK), KEYPAD_NONE);
	assert_int_equal(keypad_action_of(KEY_KPASTERISK, KEY_KPMINUS, -1), KEYPAD_NONE);
	assert_int_equal(keypad_action_of(KEY_F2, KEY_F2, -1), KEYPAD_REJECT);
	assert_string_equal(keypad_action_name(KEYPAD_MANUAL_OPEN), "manual_open");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_hid_shift_keypad_repeat, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hid_cyrillic_host_and_split_records, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_hid_garbage_rules, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hid_unplug_and_reconnect, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_grab_required, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_keypad_actions_and_times, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_keypad_config, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
