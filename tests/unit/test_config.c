/* test_config.c: config_load() defaults, keys, overrides and every error form. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"

static char tmpdir[64];
static char path[128];
static char err[1024];
static struct config cfg;

static int setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_config.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(path, sizeof(path), "%s/t.conf", tmpdir);
	return 0;
}

static int teardown(void **state)
{
	unlink(path);
	rmdir(tmpdir);
	return 0;
}

static void write_file(const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int load(const char *text)
{
	write_file(text);
	return config_load(&cfg, path, NULL, 0, err, sizeof(err));
}

static int load_ov(const char *text, const char *const *ov, size_t n)
{
	char *dup[8];
	int r;

	assert_true(n <= 8);
	for (size_t i = 0; i < n; i++)
		assert_non_null(dup[i] = strdup(ov[i]));
	write_file(text);
	r = config_load(&cfg, path, dup, n, err, sizeof(err));
	for (size_t i = 0; i < n; i++)
		free(dup[i]);
	return r;
}

/* err must be "PATH" followed by tail */
static void assert_err(const char *tail)
{
	char want[1024];

	snprintf(want, sizeof(want), "%s%s", path, tail);
	assert_string_equal(err, want);
}

/* Should fill every key with its default when the file has only a lane. */
static void test_defaults(void **state)
{
	assert_int_equal(load("[lane.main]\nio = sim\n"), 0);
	assert_string_equal(cfg.path, path);
	assert_int_equal(cfg.reuse_window_ms, 600000);
	assert_int_equal(cfg.flush_ms, 50);
	assert_string_equal(cfg.store_path, "/var/lib/turnstiled/journal.db");
	assert_string_equal(cfg.control_socket, "/run/turnstiled/control.sock");
	assert_int_equal(cfg.control_mode, 0660);
	assert_string_equal(cfg.gosuslugi_base_url, "https://www.gosuslugi.ru");
	assert_string_equal(cfg.gosuslugi_ca_file, "");
	assert_false(cfg.membership_attendant);
	assert_false(cfg.ticket_attendant);
	assert_int_equal(cfg.lane_count, 1);

	struct config_lane *l = &cfg.lanes[0];
	struct lane_config def;

	lane_config_defaults(&def);
	assert_string_equal(l->name, "main");
	assert_int_equal(l->line, 1);
	assert_string_equal(l->io, "sim");
	assert_string_equal(l->zone, "");
	assert_int_equal(l->scanner, CONFIG_SCANNER_NONE);
	assert_int_equal(l->scanner_baud, 9600);
	assert_true(l->evdev_require_grab);
	assert_string_equal(l->keypad_device, "");
	assert_string_equal(l->keypad_reject, "kpminus");
	assert_string_equal(l->keypad_manual_open, "kpasterisk");
	assert_int_equal(l->scanner_eol, CONFIG_EOL_ANY);
	assert_int_equal(l->scanner_max_len, 512);
	assert_memory_equal(&l->lane, &def, sizeof(def));
}

/* Should parse every key of every type, durations with each unit. */
static void test_all_keys(void **state)
{
	assert_int_equal(
	    load("; comment\n# comment\n"
		 "[daemon]\nreuse_window = 30d\nflush = 1s\n"
		 "[store]\npath = /tmp/x.db ; inline comment\n"
		 "[control]\nsocket=/tmp/c.sock\nmode = 0600\n"
		 "[gosuslugi]\nbase_url = https://example.test:8443\nca_file = /tmp/ca.pem\n"
		 "[passes]\nmembership_attendant = true\nticket_attendant = 1\n"
		 "[lane.gate-2]\nio = sim\nzone = vip\nscanner = serial\n"
		 "scanner_device = /dev/ttyACM0\nscanner_baud = 115200\n"
		 "scanner_eol = cr\nscanner_max_len = 4096\ncontrol = potential\n"
		 "pulse = 500ms\npass_window = 2min\npassing_max = 30s\n"
		 "attendant_timeout = 10min\nattendant_min = 0\ndenied_time = 1s\n"
		 "duplicate_window = 1s\nverify_timeout = 60s\nscan_direction = b\n"),
	    0);
	assert_int_equal(cfg.reuse_window_ms, 30u * 86400000u);
	assert_int_equal(cfg.flush_ms, 1000);
	assert_string_equal(cfg.store_path, "/tmp/x.db");
	assert_string_equal(cfg.control_socket, "/tmp/c.sock");
	assert_int_equal(cfg.control_mode, 0600);
	assert_string_equal(cfg.gosuslugi_base_url, "https://example.test:8443");
	assert_string_equal(cfg.gosuslugi_ca_file, "/tmp/ca.pem");
	assert_true(cfg.membership_attendant);
	assert_true(cfg.ticket_attendant);

	struct config_lane *l = &cfg.lanes[0];

	assert_string_equal(l->name, "gate-2");
	assert_string_equal(l->zone, "vip");
	assert_int_equal(l->scanner, CONFIG_SCANNER_SERIAL);
	assert_string_equal(l->scanner_device, "/dev/ttyACM0");
	assert_int_equal(l->scanner_baud, 115200);
	assert_int_equal(l->scanner_eol, CONFIG_EOL_CR);
	assert_int_equal(l->scanner_max_len, 4096);
	assert_int_equal(l->lane.control, LANE_CONTROL_POTENTIAL);
	assert_int_equal(l->lane.pulse_ms, 500);
	assert_int_equal(l->lane.pass_window_ms, 120000);
	assert_int_equal(l->lane.passing_max_ms, 30000);
	assert_int_equal(l->lane.attendant_timeout_ms, 600000);
	assert_int_equal(l->lane.attendant_min_ms, 0);
	assert_int_equal(l->lane.denied_ms, 1000);
	assert_int_equal(l->lane.duplicate_ms, 1000);
	assert_int_equal(l->lane.verify_timeout_ms, 60000);
	assert_int_equal(l->lane.scan_dir, LANE_DIR_B);

	assert_int_equal(load("[daemon]\nreuse_window = 2h\n[lane.a]\nio=sim\n"), 0);
	assert_int_equal(cfg.reuse_window_ms, 7200000);
}

/* Should give every error its exact "FILE:LINE: ..." text. */
static void test_errors(void **state)
{
	assert_int_equal(load("[daemon]\nflush = 50ms\nbogus = 1\n[lane.main]\nio=sim\n"), -EINVAL);
	assert_err(":3: unknown key 'bogus' in [daemon]");

	assert_int_equal(load("[lane.main]\nio = sim\npulse = 50ms\n"), -EINVAL);
	assert_err(":3: bad value for pulse: '50ms' (must be 100ms..500ms)");

	assert_int_equal(load("[lane.main]\nio = sim\npulse = 200\n"), -EINVAL);
	assert_err(":3: bad value for pulse: '200' (must be 100ms..500ms)");

	assert_int_equal(load("[lane.main]\nio = sim\nbogus = 1\n"), -EINVAL);
	assert_err(":3: unknown key 'bogus' in [lane.main]");

	assert_int_equal(load("\n[deamon]\nflush = 1s\n"), -EINVAL);
	assert_err(":2: unknown section [deamon]");

	assert_int_equal(load("[lane.main]\nio = sim\n\n[lane.main]\nio = sim\n"), -EINVAL);
	assert_err(":4: duplicate lane [lane.main] (first at line 1)");

	assert_int_equal(load("[store]\npath = /tmp/a\n[lane.main]\nzone = a\n"), -EINVAL);
	assert_err(":3: [lane.main]: missing key 'io'");

	assert_int_equal(load("[store]\npath = /tmp/a\n"), -EINVAL);
	assert_err(": no [lane.NAME] section");

	assert_int_equal(load("[lane.Main]\nio = sim\n"), -EINVAL);
	assert_err(":1: bad lane name 'Main' (must be 1..31 of a-z 0-9 _ -)");

	assert_int_equal(load("[lane.]\nio = sim\n"), -EINVAL);
	assert_err(":1: bad lane name '' (must be 1..31 of a-z 0-9 _ -)");

	assert_int_equal(load("[lane.main]\nio = sim\nio = sim\n"), -EINVAL);
	assert_err(":3: duplicate key 'io' in [lane.main] (first at line 2)");

	assert_int_equal(load("flush = 1s\n[lane.main]\nio = sim\n"), -EINVAL);
	assert_err(":1: key 'flush' outside any section");

	assert_int_equal(load("[lane.main]\nio = sim\njunk line\n"), -EINVAL);
	assert_err(":3: syntax error (expected [section] or key = value)");

	assert_int_equal(load("[lane.main\nio = sim\n"), -EINVAL);
	assert_err(":1: expected ']'");

	assert_int_equal(load("[lane.main]\nio = sim\nscanner = serial\n"), -EINVAL);
	assert_err(":1: [lane.main]: missing key 'scanner_device' (scanner = serial)");

	assert_int_equal(load("[lane.main]\nio = sim\nscanner = usb\n"), -EINVAL);
	assert_err(":3: bad value for scanner: 'usb' (must be none, serial, camera or hid)");

	/* hid scanner and keypad (evdev): a device, key names, two different keys */
	assert_int_equal(load("[lane.main]\nio = sim\nscanner = hid\n"), -EINVAL);
	assert_err(":1: [lane.main]: missing key 'scanner_device' (scanner = hid)");
	assert_int_equal(load("[lane.main]\nio = sim\nkeypad_reject = kpenter\n"), -EINVAL);
	assert_true(strstr(err, ":3: bad value for keypad_reject: 'kpenter' (must be a key name "
				"other than Enter"));
	assert_int_equal(load("[lane.main]\nio = sim\nkeypad_manual_open = shift\n"), -EINVAL);
	assert_true(strstr(err, ":3: bad value for keypad_manual_open: 'shift'"));
	assert_int_equal(load("[lane.main]\nio = sim\nkeypad_reject = kpasterisk\n"), -EINVAL);
	assert_err(":1: [lane.main]: keypad_reject and keypad_manual_open are the same key "
		   "'kpasterisk'");
	assert_int_equal(load("[lane.main]\nio = sim\nscanner = hid\nscanner_device = /dev/x\n"
			      "keypad_device = /dev/y\nkeypad_reject = F2\n"
			      "keypad_manual_open = none\nevdev_require_grab = no\n"),
			 0);
	assert_int_equal(cfg.lanes[0].scanner, CONFIG_SCANNER_HID);
	assert_string_equal(cfg.lanes[0].keypad_reject, "F2");
	assert_string_equal(cfg.lanes[0].keypad_manual_open, "none");
	assert_false(cfg.lanes[0].evdev_require_grab);

	assert_int_equal(load("[lane.main]\nio = sim\nscanner_eol = crlf\n"), -EINVAL);
	assert_err(":3: bad value for scanner_eol: 'crlf' (must be cr, lf or any)");

	assert_int_equal(load("[lane.main]\nio = sim\nscanner_baud = 9601\n"), -EINVAL);
	assert_err(":3: bad value for scanner_baud: '9601' (must be a serial speed: 1200, 1800, "
		   "2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 500000, "
		   "576000 or 921600)");

	assert_int_equal(load("[lane.main]\nio = sim\nscanner_max_len = 15\n"), -EINVAL);
	assert_err(":3: bad value for scanner_max_len: '15' (must be 16..4096)");

	assert_int_equal(load("[lane.main]\nio = Sim\n"), -EINVAL);
	assert_err(":2: bad value for io: 'Sim' (must be 1..15 of a-z 0-9 _ -)");

	assert_int_equal(load("[passes]\nticket_attendant = maybe\n"), -EINVAL);
	assert_err(":2: bad value for ticket_attendant: 'maybe' (must be yes or no)");

	assert_int_equal(load("[control]\nmode = 0888\n"), -EINVAL);
	assert_err(":2: bad value for mode: '0888' (must be an octal mode 0000..0777)");

	assert_int_equal(load("[gosuslugi]\nbase_url = http://www.gosuslugi.ru\n"), -EINVAL);
	assert_err(":2: bad value for base_url: 'http://www.gosuslugi.ru' (must start with "
		   "https:// and be at most 255 characters)");

	assert_int_equal(load("[daemon]\nreuse_window = 31d\n"), -EINVAL);
	assert_err(":2: bad value for reuse_window: '31d' (must be 0..30d)");

	assert_int_equal(load("[daemon]\nflush = 0\n"), -EINVAL);
	assert_err(":2: bad value for flush: '0' (must be 1ms..1s)");

	assert_int_equal(load("[daemon]\nflush = 5 ms\n"), -EINVAL);
	assert_err(":2: bad value for flush: '5 ms' (must be 1ms..1s)");

	assert_int_equal(load("[daemon]\nflush = 99999999999999999999999ms\n"), -EINVAL);
	assert_err(":2: bad value for flush: '99999999999999999999999ms' (must be 1ms..1s)");

	/* a string that does not fit its field */
	char big[190];

	memset(big, 'x', sizeof(big));
	memcpy(big, "[lane.main]\nio = ", 17);
	memcpy(big + sizeof(big) - 2, "\n", 2);
	assert_int_equal(load(big), -EINVAL);
	assert_true(strstr(err, ":2: bad value for io: 'xxx") != NULL);
	assert_true(strstr(err, "(must be 1..15 of a-z 0-9 _ -)") != NULL);

	/* lane_config_validate() runs and reports at the lane header */
	assert_int_equal(load("[lane.main]\nio = sim\nattendant_timeout = 1s\n"
			      "attendant_min = 2s\n"),
			 -EINVAL);
	snprintf(big, sizeof(big), "%s:1: [lane.main]: ", path);
	assert_memory_equal(err, big, strlen(big));

	assert_int_equal(load("[lane.main]\nio = sim\n[lanes]\npulse = 300ms\n"), -EINVAL);
	assert_err(":3: [lanes] must come before the first [lane.NAME]");
}

/* Should report a file that cannot be read with -errno. */
static void test_missing_file(void **state)
{
	char missing[160];

	snprintf(missing, sizeof(missing), "%s/nope.conf", tmpdir);
	assert_int_equal(config_load(&cfg, missing, NULL, 0, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "nope.conf: cannot read: No such file or directory"));
}

/* Should keep lines exact across comments, blank lines, CRLF and indentation. */
static void test_line_numbers(void **state)
{
	assert_int_equal(
	    load("; a\r\n\r\n  [lane.x]\r\n   io = sim\r\n\t; long comment "
		 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n"
		 "   pulse = 1h\r\n"),
	    -EINVAL);
	assert_err(":6: bad value for pulse: '1h' (must be 100ms..500ms)");
	assert_int_equal(load("[lane.x]\nio = sim\n"), 0);
	assert_int_equal(cfg.lanes[0].line, 1);
}

/* Should apply [lanes] keys to every lane, below each lane's own keys. */
static void test_lanes_defaults(void **state)
{
	assert_int_equal(load("[lanes]\nio = sim\npulse = 300ms\nzone = hall\n"
			      "indicate.idle = green:on\n"
			      "[lane.a]\n[lane.b]\npulse = 400ms\nindicate.idle = red:blink/1s\n"),
			 0);
	assert_int_equal(cfg.lane_count, 2);
	assert_string_equal(cfg.lanes[0].io, "sim");
	assert_int_equal(cfg.lanes[0].lane.pulse_ms, 300);
	assert_int_equal(cfg.lanes[1].lane.pulse_ms, 400);
	assert_string_equal(cfg.lanes[1].zone, "hall");
	assert_int_equal(cfg.lanes[1].line, 7);
	/* merged: green from [lanes], red from the lane */
	assert_int_equal(cfg.lanes[1].lane.indication[LANE_IDLE].ind[LANE_IND_GREEN].on_ms, 1);
	assert_int_equal(cfg.lanes[1].lane.indication[LANE_IDLE].ind[LANE_IND_RED].on_ms, 1000);
	assert_int_equal(cfg.lanes[1].lane.indication[LANE_IDLE].ind[LANE_IND_RED].off_ms, 1000);
}

/* Should parse SIGNAL:PATTERN lists and keep unmentioned signals. */
static void test_indication(void **state)
{
	struct lane_config def;
	const struct lane_indication *ind;

	lane_config_defaults(&def);
	assert_int_equal(load("[lane.main]\nio = sim\n"
			      "indicate.denied = red:blink/250ms/2s   buzzer:on/300ms\n"
			      "indicate.open = green:off yellow:on\n"
			      "indicate.io_fault = red:blink/100ms/900ms/0\n"),
			 0);
	ind = &cfg.lanes[0].lane.indication[LANE_DENIED];
	assert_int_equal(ind->ind[LANE_IND_RED].on_ms, 250);
	assert_int_equal(ind->ind[LANE_IND_RED].off_ms, 250);
	assert_int_equal(ind->ind[LANE_IND_RED].for_ms, 2000);
	assert_int_equal(ind->ind[LANE_IND_BUZZER].on_ms, 1);
	assert_int_equal(ind->ind[LANE_IND_BUZZER].off_ms, 0);
	assert_int_equal(ind->ind[LANE_IND_BUZZER].for_ms, 300);
	assert_memory_equal(&ind->ind[LANE_IND_GREEN],
			    &def.indication[LANE_DENIED].ind[LANE_IND_GREEN],
			    sizeof(struct lane_pattern));
	ind = &cfg.lanes[0].lane.indication[LANE_OPEN];
	assert_int_equal(ind->ind[LANE_IND_GREEN].on_ms, 0);
	assert_int_equal(ind->ind[LANE_IND_YELLOW].on_ms, 1);
	ind = &cfg.lanes[0].lane.indication[LANE_IO_FAULT];
	assert_int_equal(ind->ind[LANE_IND_RED].on_ms, 100);
	assert_int_equal(ind->ind[LANE_IND_RED].off_ms, 900);
	assert_int_equal(ind->ind[LANE_IND_RED].for_ms, 0);

	assert_int_equal(load("[lane.main]\nio = sim\nindicate.idle = blue:on\n"), -EINVAL);
	assert_err(":3: bad value for indicate.idle: 'blue:on' (unknown signal 'blue': must be "
		   "green, red, yellow or buzzer)");
	assert_int_equal(load("[lane.main]\nio = sim\nindicate.idle = green:flash\n"), -EINVAL);
	assert_err(":3: bad value for indicate.idle: 'green:flash' (bad pattern 'flash': must be "
		   "on, off, on/DUR, blink/DUR or blink/DUR/FOR, DUR 50ms..1h)");
	assert_int_equal(load("[lane.main]\nio = sim\nindicate.idle = green:blink/10ms\n"),
			 -EINVAL);
	assert_int_equal(load("[lane.main]\nio = sim\nindicate.idle = green:on/\n"), -EINVAL);
	assert_int_equal(load("[lane.main]\nio = sim\nindicate.idle = green\n"), -EINVAL);
	assert_err(":3: bad value for indicate.idle: 'green' (expected SIGNAL:PATTERN, got "
		   "'green')");
	assert_int_equal(load("[lane.main]\nio = sim\nindicate.idle = green:on green:off\n"),
			 -EINVAL);
	assert_err(":3: bad value for indicate.idle: 'green:on green:off' (green given twice)");
	assert_int_equal(load("[lane.main]\nio = sim\nindicate.idle =\n"), -EINVAL);
	assert_err(":3: bad value for indicate.idle: '' (expected SIGNAL:PATTERN ...)");
	assert_int_equal(load("[lane.main]\nio = sim\nindicate.sleeping = green:on\n"), -EINVAL);
	assert_err(":3: unknown key 'indicate.sleeping' in [lane.main]");
}

/* Should apply -D overrides after the file, validated the same way. */
static void test_overrides(void **state)
{
	const char *file = "[store]\npath = /tmp/a.db\n[lane.main]\nio = sim\n[lane.b]\nio = sim\n";
	const char *ok[] = {"store.path=/tmp/b.db", "lane.main.pulse = 400ms", "lanes.zone=z1",
			    "passes.ticket_attendant=yes", "lane.b.indicate.idle=green:on"};

	assert_int_equal(load_ov(file, ok, 5), 0);
	assert_string_equal(cfg.store_path, "/tmp/b.db");
	assert_int_equal(cfg.lanes[0].lane.pulse_ms, 400);
	assert_int_equal(cfg.lanes[1].lane.pulse_ms, 200);
	assert_string_equal(cfg.lanes[0].zone, "z1");
	assert_string_equal(cfg.lanes[1].zone, "z1");
	assert_true(cfg.ticket_attendant);
	assert_int_equal(cfg.lanes[1].lane.indication[LANE_IDLE].ind[LANE_IND_GREEN].on_ms, 1);

	const char *bad1[] = {"lane.main.pulse=50ms"};
	assert_int_equal(load_ov(file, bad1, 1), -EINVAL);
	assert_string_equal(err, "-D lane.main.pulse=50ms: bad value for pulse: '50ms' (must be "
				 "100ms..500ms)");
	const char *bad2[] = {"store.nope=1"};
	assert_int_equal(load_ov(file, bad2, 1), -EINVAL);
	assert_string_equal(err, "-D store.nope=1: unknown key 'nope' in [store]");
	const char *bad3[] = {"lane.c.io=sim"};
	assert_int_equal(load_ov(file, bad3, 1), -EINVAL);
	assert_string_equal(err, "-D lane.c.io=sim: no lane 'c'");
	const char *bad4[] = {"storepath"};
	assert_int_equal(load_ov(file, bad4, 1), -EINVAL);
	assert_string_equal(err, "-D storepath: expected section.key=value");
	const char *bad5[] = {"nosuch.key=1"};
	assert_int_equal(load_ov(file, bad5, 1), -EINVAL);
	assert_string_equal(err, "-D nosuch.key=1: unknown section [nosuch]");
	/* an override that breaks a lane is caught by the lane checks */
	const char *bad6[] = {"lane.b.scanner=serial"};
	assert_int_equal(load_ov(file, bad6, 1), -EINVAL);
	assert_err(":5: [lane.b]: missing key 'scanner_device' (scanner = serial)");
	/* an override can supply a required key */
	const char *ok2[] = {"lane.main.io=sim"};
	assert_int_equal(load_ov("[lane.main]\nzone = a\n", ok2, 1), 0);
}

/* Should print an example that documents every key and loads back to the defaults. */
static void test_example(void **state)
{
	FILE *f = fopen(path, "w");
	struct config def;
	char line[512];
	size_t keys = 0, docs = 0;

	assert_non_null(f);
	config_print_example(f);
	fclose(f);
	assert_int_equal(config_load(&cfg, path, NULL, 0, err, sizeof(err)), 0);
	assert_int_equal(cfg.lane_count, 1);
	assert_string_equal(cfg.lanes[0].name, "main");

	/* same as the defaults */
	static struct config min;
	write_file("[lane.main]\nio = sim\n");
	assert_int_equal(config_load(&min, path, NULL, 0, err, sizeof(err)), 0);
	def = min;
	f = fopen(path, "w");
	config_print_example(f);
	fclose(f);
	assert_int_equal(config_load(&cfg, path, NULL, 0, err, sizeof(err)), 0);
	cfg.lanes[0].line = def.lanes[0].line; /* the only difference: where the header is */
	assert_memory_equal(&cfg.lanes[0], &def.lanes[0], sizeof(def.lanes[0]));
	assert_int_equal(cfg.reuse_window_ms, def.reuse_window_ms);
	assert_string_equal(cfg.store_path, def.store_path);
	assert_int_equal(cfg.control_mode, def.control_mode);

	f = fopen(path, "r");
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == ';' && strstr(line, "(default "))
			docs++;
		else if (line[0] != ';' && line[0] != '[' && strchr(line, '='))
			keys++;
	}
	fclose(f);
	/* Every key of the table once, each documented with its default but io, which is
	 * "(required)". */
	assert_int_equal(keys, config_key_count());
	assert_int_equal(docs, config_key_count() - 1);
}

/* Should load the shipped demo configuration as is. */
static void test_demo_profile(void **state)
{
	char demo[4096];
	const char *slash = strrchr(__FILE__, '/');

	snprintf(demo, sizeof(demo), "%.*s/../../hw/profiles/sim-demo.conf",
		 slash ? (int)(slash - __FILE__) : 1, slash ? __FILE__ : ".");
	assert_int_equal(config_load(&cfg, demo, NULL, 0, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(cfg.lane_count, 1);
	assert_string_equal(cfg.lanes[0].name, "main");
	assert_string_equal(cfg.lanes[0].io, "sim");
	assert_int_equal(cfg.lanes[0].scanner, CONFIG_SCANNER_NONE);
	assert_int_equal(cfg.lanes[0].lane.control, LANE_CONTROL_PULSE);
	assert_string_equal(cfg.store_path, "/tmp/turnstiled-demo/journal.db");
	assert_string_equal(cfg.control_socket, "/tmp/turnstiled-demo/control.sock");
	assert_false(cfg.membership_attendant);
	assert_true(cfg.ticket_attendant);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),	 cmocka_unit_test(test_all_keys),
	    cmocka_unit_test(test_errors),	 cmocka_unit_test(test_missing_file),
	    cmocka_unit_test(test_line_numbers), cmocka_unit_test(test_lanes_defaults),
	    cmocka_unit_test(test_indication),	 cmocka_unit_test(test_overrides),
	    cmocka_unit_test(test_example),	 cmocka_unit_test(test_demo_profile),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
