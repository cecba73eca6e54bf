/* test_scanner.c: the serial scanner source over ptys: codes, unplug, reconnect. */
#include <errno.h>
#include <fcntl.h>
#include <pty.h>
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

#include "scanner.h"

struct seen {
	int codes;
	char last[128];
	int rejected;
	char why[128];
	int up, down;
	bool connected;
	int err;
};

static void on_code(const char *code, size_t len, void *userdata)
{
	struct seen *s = userdata;

	s->codes++;
	snprintf(s->last, sizeof(s->last), "%.*s", (int)len, code);
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

	s->connected = connected;
	s->err = err;
	if (connected)
		s->up++;
	else
		s->down++;
}

static const struct scanner_callbacks callbacks = {
    .code = on_code,
    .rejected = on_rejected,
    .status = on_status,
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Runs the loop until *flag changes from before or ms pass; the number of
 * dispatches it took. */
static int run_until(sd_event *ev, const int *flag, int before, unsigned ms)
{
	uint64_t end = now_ms() + ms;
	int n = 0;

	while (now_ms() < end && (!flag || *flag == before)) {
		int r = sd_event_run(ev, 20 * 1000);

		assert_true(r >= 0);
		n += r > 0;
	}
	return n;
}

static void lane_for(struct config_lane *lane, const char *device)
{
	memset(lane, 0, sizeof(*lane));
	snprintf(lane->name, sizeof(lane->name), "main");
	lane->scanner = CONFIG_SCANNER_SERIAL;
	snprintf(lane->scanner_device, sizeof(lane->scanner_device), "%s", device);
	lane->scanner_baud = 9600;
	lane->scanner_eol = CONFIG_EOL_ANY;
	lane->scanner_max_len = 32;
}

static void make_pty(int *master, char *name, size_t len)
{
	int slave;

	assert_int_equal(openpty(master, &slave, NULL, NULL, NULL), 0);
	assert_int_equal(ttyname_r(slave, name, len), 0);
	/* The scanner opens the slave itself; ours would keep it alive after unplug. */
	close(slave);
}

static void put(int fd, const char *s)
{
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

/* Should return no scanner, and no error, for scanner = none. */
static void test_none(void **state)
{
	struct scanner *sc = (struct scanner *)&sc;
	struct config_lane lane;
	sd_event *ev = NULL;

	assert_int_equal(sd_event_new(&ev), 0);
	lane_for(&lane, "/dev/null");
	lane.scanner = CONFIG_SCANNER_NONE;
	assert_int_equal(scanner_open(&sc, ev, &lane, &callbacks, NULL), 0);
	assert_null(sc);
	scanner_close(NULL);
	sd_event_unref(ev);
}

/* Should deliver codes and rejections, then report the device gone once, without
 * spinning the loop while it stays gone. */
static void test_code_and_unplug(void **state)
{
	struct seen s = {0};
	struct config_lane lane;
	struct scanner *sc = NULL;
	sd_event *ev = NULL;
	char name[128];
	int master, n;

	make_pty(&master, name, sizeof(name));
	assert_int_equal(sd_event_new(&ev), 0);
	lane_for(&lane, name);
	assert_int_equal(scanner_open(&sc, ev, &lane, &callbacks, &s), 0);
	assert_non_null(sc);
	assert_string_equal(scanner_name(sc), "serial");
	assert_int_equal(s.up, 1);

	put(master, "CODE-0001\r\n");
	run_until(ev, &s.codes, 0, 2000);
	assert_int_equal(s.codes, 1);
	assert_string_equal(s.last, "CODE-0001");

	/* split across writes, then an over-long line, then a good one */
	put(master, "CODE-");
	run_until(ev, NULL, 0, 50);
	put(master, "0002\r");
	run_until(ev, &s.codes, 1, 2000);
	assert_string_equal(s.last, "CODE-0002");
	put(master, "0123456789012345678901234567890123456789\rNEXT\r");
	run_until(ev, &s.codes, 2, 2000);
	assert_int_equal(s.rejected, 1);
	assert_string_equal(s.why, "too long (40 bytes, at most 32)");
	assert_string_equal(s.last, "NEXT");

	close(master);
	run_until(ev, &s.down, 0, 2000);
	assert_int_equal(s.down, 1);
	assert_false(s.connected);
	assert_true(s.err < 0);

	/* device gone: a few retries at most, no busy loop */
	n = run_until(ev, NULL, 0, 300);
	assert_in_range(n, 0, 5);
	assert_int_equal(s.down, 1);

	scanner_close(sc);
	sd_event_unref(ev);
}

/* Should treat a missing device at start as unplugged and open it once it appears,
 * and reconnect to a new device behind the same path after an unplug. */
static void test_reconnect(void **state)
{
	char dir[] = "/tmp/test_scanner.XXXXXX", link[128], name[128];
	struct seen s = {0};
	struct config_lane lane;
	struct scanner *sc = NULL;
	sd_event *ev = NULL;
	int master, n;

	assert_non_null(mkdtemp(dir));
	snprintf(link, sizeof(link), "%s/scanner", dir);
	assert_int_equal(sd_event_new(&ev), 0);
	lane_for(&lane, link);

	assert_int_equal(scanner_open(&sc, ev, &lane, &callbacks, &s), 0);
	assert_non_null(sc);
	assert_int_equal(s.down, 1);
	assert_int_equal(s.err, -ENOENT);
	n = run_until(ev, NULL, 0, 300);
	assert_in_range(n, 0, 5);

	make_pty(&master, name, sizeof(name));
	assert_int_equal(symlink(name, link), 0);
	run_until(ev, &s.up, 0, 3000);
	assert_int_equal(s.up, 1);
	put(master, "FIRST\n");
	run_until(ev, &s.codes, 0, 2000);
	assert_string_equal(s.last, "FIRST");

	/* unplug: the link goes away and the device with it */
	unlink(link);
	put(master, "PARTIAL");
	run_until(ev, NULL, 0, 50);
	close(master);
	run_until(ev, &s.down, 1, 2000);
	assert_int_equal(s.down, 2);

	/* plug a new device in behind the same path */
	n = run_until(ev, NULL, 0, 300);
	assert_in_range(n, 0, 5);
	make_pty(&master, name, sizeof(name));
	assert_int_equal(symlink(name, link), 0);
	run_until(ev, &s.up, 1, 8000);
	assert_int_equal(s.up, 2);
	assert_true(s.connected);
	put(master, "SECOND\r");
	run_until(ev, &s.codes, 1, 2000);
	assert_int_equal(s.codes, 2);
	/* the partial line from before the unplug was dropped */
	assert_string_equal(s.last, "SECOND");
	assert_int_equal(s.rejected, 0);

	scanner_close(sc);
	close(master);
	unlink(link);
	rmdir(dir);
	sd_event_unref(ev);
}

/* Should refuse a serial lane without a device or with a bad speed. */
static void test_bad_config(void **state)
{
	struct config_lane lane;
	struct scanner *sc = NULL;
	sd_event *ev = NULL;

	assert_int_equal(sd_event_new(&ev), 0);
	lane_for(&lane, "");
	assert_int_equal(scanner_open(&sc, ev, &lane, &callbacks, NULL), -EINVAL);
	assert_null(sc);
	lane_for(&lane, "/dev/null");
	lane.scanner_baud = 1234;
	assert_int_equal(scanner_open(&sc, ev, &lane, &callbacks, NULL), -EINVAL);
	assert_null(sc);
	sd_event_unref(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_none),
	    cmocka_unit_test(test_code_and_unplug),
	    cmocka_unit_test(test_reconnect),
	    cmocka_unit_test(test_bad_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
