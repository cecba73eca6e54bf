/* config.c: the configuration table and the INI loader around it.
 *
 * One static table, config_table[], names every key once: its section, type,
 * bounds, default, the field it fills and its doc. Defaults, parsing, -D
 * overrides, validation and config_print_example() all walk that table, so a
 * key cannot exist in one of them and be missing from another. Defaults go
 * through the same parsers as the file; keys of struct lane_config take their
 * defaults from lane_config_defaults() instead (the lane owns them), and the
 * example formats whatever the defaults turned out to be, so the example always
 * loads back to the defaults.
 *
 * libinih does the INI syntax. Debian's build has no INI_HANDLER_LINENO and does
 * not call the handler for a section header, so the file is read into memory
 * and handed to ini_parse_stream() one physical line per reader call: the reader
 * counts lines (exact line numbers for every message), sees section headers as
 * they go by (lanes begin there, even when they have no keys), strips leading
 * blanks (no surprising continuation lines) and blanks out comment lines (any
 * length). inih calls the handler for a line before it asks the reader for the
 * next one, so section and key processing happen strictly in file order.
 *
 * [lanes] fills a template lane; each [lane.NAME] starts as a copy of it, which
 * is why [lanes] must come first. Indication values merge: signals a value does
 * not mention keep what they had (lane_config_defaults(), then [lanes], then
 * the lane's own key, then -D).
 */
#include <assert.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "evdev_keys.h"
#include "io.h"
#include "io_map.h"

#define MS_S 1000ull
#define MS_MIN (60 * MS_S)
#define MS_H (60 * MS_MIN)
#define MS_D (24 * MS_H)

#define CONFIG_FILE_MAX (1024 * 1024)
#define CONFIG_PATTERN_MIN_MS 50 /* lane_config_validate(): faster blinks waste wake-ups */
#define CONFIG_PATTERN_MAX_MS MS_H

enum config_type {
	CT_STRING,     /* min..max characters */
	CT_WORD,       /* min..max of a-z 0-9 _ - */
	CT_HTTPS_URL,  /* a string starting with https:// */
	CT_UINT,       /* uint32_t, min..max */
	CT_DURATION,   /* uint32_t milliseconds, written with a unit */
	CT_BOOL,       /* bool: yes/no/true/false/1/0 */
	CT_MODE,       /* mode_t, octal */
	CT_ENUM,       /* an enum, by its names[] */
	CT_BAUD,       /* uint32_t, one of config_bauds[] */
	CT_INDICATION, /* struct lane_indication: SIGNAL:PATTERN ... */
	CT_KEY,        /* a key name (evdev_keys_parse_name) or none, as a string */
};

struct config_entry {
	const char *section; /* "lane": a key of [lanes] and [lane.NAME] */
	const char *key;
	enum config_type type;
	uint64_t min, max;
	const char *def; /* NULL: required, or set by lane_config_defaults() */
	bool required;
	const char *example; /* the value config_print_example() shows for a required key */
	size_t offset;	     /* into struct config, or struct config_lane for "lane" */
	size_t size;
	const char *const *names;
	const char *doc;
};

static_assert(sizeof(enum config_scanner) == sizeof(int), "enum size");
static_assert(sizeof(enum config_eol) == sizeof(int), "enum size");
static_assert(sizeof(enum lane_control) == sizeof(int), "enum size");
static_assert(sizeof(enum lane_dir) == sizeof(int), "enum size");
static_assert(CONFIG_SCANNER_NONE == 0 && CONFIG_SCANNER_SERIAL == 1, "scanner names");
static_assert(CONFIG_SCANNER_CAMERA == 2 && CONFIG_SCANNER_HID == 3, "scanner names");
static_assert(CONFIG_EOL_CR == 0 && CONFIG_EOL_LF == 1 && CONFIG_EOL_ANY == 2, "eol names");
static_assert(CONFIG_DECODER_ZBAR == 0 && CONFIG_DECODER_ZXING == 1, "decoder names");
static_assert(sizeof(enum config_parity) == sizeof(int), "enum size");
static_assert(sizeof(enum config_dialect) == sizeof(int), "enum size");
static_assert(CONFIG_IO_SIGNALS == IO_SIGNAL_COUNT, "io.SIGNAL keys");
static_assert(CONFIG_DIALECT_PLAIN == 0 && CONFIG_DIALECT_IOBOARD == 3, "dialect names");
static_assert(LANE_CONTROL_PULSE == 0 && LANE_CONTROL_POTENTIAL == 1, "control names");
static_assert(LANE_DIR_A == 0 && LANE_DIR_B == 1, "direction names");

static const char *const scanner_names[] = {"none", "serial", "camera", "hid", NULL};
static const char *const eol_names[] = {"cr", "lf", "any", NULL};
static const char *const decoder_names[] = {"zbar", "zxing", NULL};
static const char *const control_names[] = {"pulse", "potential", NULL};
static const char *const dir_names[] = {"a", "b", NULL};
static const char *const parity_names[] = {"none", "even", "odd", NULL};
static const char *const dialect_names[] = {"plain", "waveshare", "r4d3b16", "ioboard", NULL};
static const char *const signal_names[] = {"green", "red", "yellow", "buzzer", NULL};
static const char *const global_sections[] = {"daemon",	   "store",  "control",
					      "gosuslugi", "passes", NULL};

static const uint32_t config_bauds[] = {1200,	1800,	2400,	4800,	9600,
					19200,	38400,	57600,	115200, 230400,
					460800, 500000, 576000, 921600, 0};

/* One entry per key, laid out by hand. */
/* clang-format off */
#define G(f) .offset = offsetof(struct config, f), .size = sizeof(((struct config *)0)->f)
#define L(f) .offset = offsetof(struct config_lane, f), .size = sizeof(((struct config_lane *)0)->f)
#define IND(state, name, what)                                                                   \
	{ .section = "lane", .key = "indicate." name, .type = CT_INDICATION,                      \
	  L(lane.indication[state]), .doc = "indication " what }
#define IOMAP(sig, name, what)                                                                   \
	{ .section = "lane", .key = "io." name, .type = CT_STRING, .min = 0, .def = "",           \
	  L(io_map[sig]), .doc = what }

static const struct config_entry config_table[] = {
	{ .section = "daemon", .key = "reuse_window", .type = CT_DURATION, .min = 0,
	  .max = 30 * MS_D, .def = "10min", G(reuse_window_ms),
	  .doc = "a code granted again on any lane within this is flagged as reused" },
	{ .section = "daemon", .key = "flush", .type = CT_DURATION, .min = 1, .max = MS_S,
	  .def = "50ms", G(flush_ms),
	  .doc = "journal rows other than grants are committed within this" },

	{ .section = "store", .key = "path", .type = CT_STRING, .min = 1, .def =
	  "/var/lib/turnstiled/journal.db", G(store_path), .doc = "the SQLite journal file" },
	{ .section = "store", .key = "retention_days", .type = CT_UINT, .min = 0, .max = 36500,
	  .def = "0", G(store_retention_days),
	  .doc = "journal rows older than this many days are purged (hourly, chain kept "
		 "verifiable by a checkpoint row); 0 keeps them forever" },
	{ .section = "store", .key = "holder_days", .type = CT_UINT, .min = 0, .max = 36500,
	  .def = "0", G(store_holder_days),
	  .doc = "the masked holder fields (gosuslugi.keep_holder) are dropped this many days "
		 "after the check (hourly); 0 keeps them as long as the check" },

	{ .section = "control", .key = "socket", .type = CT_STRING, .min = 1,
	  .def = "/run/turnstiled/control.sock", G(control_socket),
	  .doc = "the control socket (turnstilectl -s)" },
	{ .section = "control", .key = "mode", .type = CT_MODE, .min = 0, .max = 0777,
	  .def = "0660", G(control_mode), .doc = "permissions of the control socket, octal" },

	{ .section = "gosuslugi", .key = "base_url", .type = CT_HTTPS_URL, .min = 9,
	  .def = "https://www.gosuslugi.ru", G(gosuslugi_base_url),
	  .doc = "the certificate check API host, never taken from a QR code" },
	{ .section = "gosuslugi", .key = "ca_file", .type = CT_STRING, .min = 0, .def = "",
	  G(gosuslugi_ca_file),
	  .doc = "a CA bundle trusted instead of the system's; always verified" },
	{ .section = "gosuslugi", .key = "connect_timeout", .type = CT_DURATION, .min = 100,
	  .max = 60 * MS_S, .def = "3s", G(gosuslugi_connect_timeout_ms),
	  .doc = "how long connecting to the portal (TCP and TLS) may take" },
	{ .section = "gosuslugi", .key = "timeout", .type = CT_DURATION, .min = 500,
	  .max = 120 * MS_S, .def = "8s", G(gosuslugi_timeout_ms),
	  .doc = "how long one certificate request may take in all; then unavailable" },
	{ .section = "gosuslugi", .key = "allow_unrz_form", .type = CT_BOOL, .def = "no",
	  G(gosuslugi_allow_unrz_form),
	  .doc = "accept links .../vaccine/cert/verify/unrz/<16 digits> (never seen in a QR)" },
	{ .section = "gosuslugi", .key = "check_v4", .type = CT_BOOL, .def = "no",
	  G(gosuslugi_check_v4),
	  .doc = "register-number links ask /api/covid-cert/v4/cert/check instead of v3" },
	{ .section = "gosuslugi", .key = "v2_fallback", .type = CT_BOOL, .def = "no",
	  G(gosuslugi_v2_fallback),
	  .doc = "new-form links ask v2/cert/status when v3 says not found or fails" },
	{ .section = "gosuslugi", .key = "keep_holder", .type = CT_BOOL, .def = "no",
	  G(gosuslugi_keep_holder),
	  .doc = "journal the masked initials, birth date and passport fragment of a check" },

	{ .section = "passes", .key = "membership_attendant", .type = CT_BOOL, .def = "no",
	  G(membership_attendant), .doc = "a valid membership still waits for the attendant" },
	{ .section = "passes", .key = "ticket_attendant", .type = CT_BOOL, .def = "no",
	  G(ticket_attendant), .doc = "a valid ticket still waits for the attendant" },

	{ .section = "lane", .key = "io", .type = CT_WORD, .min = 1, .required = true,
	  .example = "sim", L(io), .doc = "the IO backend: sim, or modbus / gpio when built" },
	{ .section = "lane", .key = "zone", .type = CT_WORD, .min = 0, .def = "", L(zone),
	  .doc = "tickets with a zone open only lanes of that zone" },
	{ .section = "lane", .key = "scanner", .type = CT_ENUM, .names = scanner_names,
	  .def = "none", L(scanner),
	  .doc = "the code scanner: none (codes only from turnstilectl scan), serial, camera, "
		 "or hid (a USB keyboard-wedge scanner through evdev, grabbed exclusively)" },
	{ .section = "lane", .key = "scanner_device", .type = CT_STRING, .min = 0, .def = "",
	  L(scanner_device),
	  .doc = "the scanner's device; required with serial (/dev/serial/by-id/...) and hid "
		 "(/dev/input/by-id/...-event-kbd)" },
	{ .section = "lane", .key = "scanner_baud", .type = CT_BAUD, .def = "9600",
	  L(scanner_baud), .doc = "serial speed, 1200..921600" },
	{ .section = "lane", .key = "scanner_eol", .type = CT_ENUM, .names = eol_names,
	  .def = "any", L(scanner_eol),
	  .doc = "serial: what ends a code: cr, lf, or any (CR, LF, CRLF); hid: always Enter" },
	{ .section = "lane", .key = "scanner_max_len", .type = CT_UINT, .min = 16, .max = 4096,
	  .def = "512", L(scanner_max_len), .doc = "longer lines are rejected, never cut" },
	{ .section = "lane", .key = "evdev_require_grab", .type = CT_BOOL, .def = "yes",
	  L(evdev_require_grab),
	  .doc = "hid scanner and keypad: use a device only with an exclusive grab; no also "
		 "reads a FIFO of recorded input events (tests, replays), with a warning" },
	{ .section = "lane", .key = "keypad_device", .type = CT_STRING, .min = 0, .def = "",
	  L(keypad_device),
	  .doc = "the attendant's USB keypad (/dev/input/by-id/...-event-kbd): Enter confirms" },
	{ .section = "lane", .key = "keypad_reject", .type = CT_KEY, .min = 0, .def = "kpminus",
	  L(keypad_reject), .doc = "keypad: the key that rejects (a key name such as kpminus, "
		 "backspace, esc, f1..f12, kp0..kp9, a..z, or none)" },
	{ .section = "lane", .key = "keypad_manual_open", .type = CT_KEY, .min = 0,
	  .def = "kpasterisk", L(keypad_manual_open),
	  .doc = "keypad: the key that opens once in scan_direction, journaled with the reason "
		 "'keypad manual open key' (none: no such key)" },
	{ .section = "lane", .key = "camera_device", .type = CT_STRING, .min = 0, .def = "",
	  L(camera_device), .doc = "scanner = camera: the V4L2 device, e.g. /dev/video0" },
	{ .section = "lane", .key = "camera_dir", .type = CT_STRING, .min = 0, .def = "",
	  L(camera_dir), .doc = "scanner = camera without a device: a directory of PGM frames" },
	{ .section = "lane", .key = "camera_fps", .type = CT_UINT, .min = 1, .max = 60, .def = "10",
	  L(camera_fps), .doc = "frames per second read from camera_dir (and asked of the device)" },
	{ .section = "lane", .key = "camera_loop", .type = CT_BOOL, .def = "yes", L(camera_loop),
	  .doc = "camera_dir: start over after the last frame" },
	{ .section = "lane", .key = "camera_decoder", .type = CT_ENUM, .names = decoder_names,
#ifdef TS_HAVE_ZXING
	  .def = "zxing",
#else
	  .def = "zbar",
#endif
	  L(camera_decoder),
	  .doc = "the QR decoder: zxing (zxing-cpp; the default when built with it: faster "
		 "on the decode bench) or zbar" },
	{ .section = "lane", .key = "control", .type = CT_ENUM, .names = control_names,
	  L(lane.control),
	  .doc = "pulse: the open relay closes for `pulse`; potential: it holds until the pass" },
	{ .section = "lane", .key = "pulse", .type = CT_DURATION, .min = 100, .max = 500,
	  L(lane.pulse_ms), .doc = "how long the open relay closes in pulse mode" },
	{ .section = "lane", .key = "pass_window", .type = CT_DURATION, .min = MS_S,
	  .max = 120 * MS_S, L(lane.pass_window_ms),
	  .doc = "after opening, how long to wait for the person to pass" },
	{ .section = "lane", .key = "passing_max", .type = CT_DURATION, .min = 500,
	  .max = 30 * MS_S, L(lane.passing_max_ms),
	  .doc = "a pass sensor held longer than this ends the pass" },
	{ .section = "lane", .key = "attendant_timeout", .type = CT_DURATION, .min = MS_S,
	  .max = 10 * MS_MIN, L(lane.attendant_timeout_ms),
	  .doc = "no attendant decision within this rejects the check" },
	{ .section = "lane", .key = "attendant_min", .type = CT_DURATION, .min = 0,
	  .max = 5 * MS_S, L(lane.attendant_min_ms),
	  .doc = "an attendant key sooner than this after a check appeared is ignored" },
	{ .section = "lane", .key = "denied_time", .type = CT_DURATION, .min = 500,
	  .max = 60 * MS_S, L(lane.denied_ms), .doc = "how long a denial is shown" },
	{ .section = "lane", .key = "duplicate_window", .type = CT_DURATION, .min = 0,
	  .max = 60 * MS_S, L(lane.duplicate_ms),
	  .doc = "the same code again on this lane within this is the same scan (0: off)" },
	{ .section = "lane", .key = "verify_timeout", .type = CT_DURATION, .min = MS_S,
	  .max = 60 * MS_S, L(lane.verify_timeout_ms),
	  .doc = "a check not verified within this is denied as unavailable" },
	{ .section = "lane", .key = "scan_direction", .type = CT_ENUM, .names = dir_names,
	  L(lane.scan_dir), .doc = "the direction a granted check opens: a or b" },
	IND(LANE_IDLE, "idle", "while idle"),
	IND(LANE_VERIFYING, "verifying", "while a code is verified"),
	IND(LANE_AWAIT_ATTENDANT, "await_attendant", "while the attendant decides"),
	IND(LANE_OPEN, "open", "while open, waiting for the pass"),
	IND(LANE_PASSING, "passing", "while the person passes"),
	IND(LANE_DENIED, "denied", "while a denial is shown"),
	IND(LANE_FREE, "free", "in free passage"),
	IND(LANE_BLOCKED, "blocked", "while blocked"),
	IND(LANE_EMERGENCY, "emergency", "during a fire alarm"),
	IND(LANE_IO_FAULT, "io_fault", "while the IO device is lost"),
	{ .section = "lane", .key = "modbus", .type = CT_STRING, .min = 0, .def = "", L(modbus),
	  .doc = "io = modbus: the bus, rtu:DEVICE (e.g. /dev/ttyRS485-0) or tcp:HOST:PORT" },
	{ .section = "lane", .key = "modbus_baud", .type = CT_BAUD, .def = "9600",
	  L(modbus_baud), .doc = "io = modbus, RTU: serial speed" },
	{ .section = "lane", .key = "modbus_parity", .type = CT_ENUM, .names = parity_names,
	  .def = "none", L(modbus_parity), .doc = "io = modbus, RTU: parity: none, even or odd" },
	{ .section = "lane", .key = "modbus_stop", .type = CT_UINT, .min = 1, .max = 2,
	  .def = "1", L(modbus_stop), .doc = "io = modbus, RTU: stop bits, 1 or 2" },
	{ .section = "lane", .key = "modbus_rs485", .type = CT_BOOL, .def = "no",
	  L(modbus_rs485),
	  .doc = "io = modbus, RTU: put the UART in RS-485 mode (a warning where unsupported)" },
	{ .section = "lane", .key = "modbus_unit", .type = CT_UINT, .min = 1, .max = 247,
	  .def = "1", L(modbus_unit), .doc = "io = modbus: the board's unit id" },
	{ .section = "lane", .key = "modbus_dialect", .type = CT_ENUM, .names = dialect_names,
	  .def = "plain", L(modbus_dialect),
	  .doc = "io = modbus: the board: plain, waveshare, r4d3b16 or ioboard (hw/profiles/)" },
	{ .section = "lane", .key = "modbus_poll", .type = CT_DURATION, .min = 10, .max = MS_S,
	  .def = "50ms", L(modbus_poll_ms), .doc = "io = modbus: inputs are read this often" },
	{ .section = "lane", .key = "modbus_timeout", .type = CT_DURATION, .min = 20,
	  .max = 2 * MS_S, .def = "200ms", L(modbus_timeout_ms),
	  .doc = "io = modbus: a reply not complete within this is a failed transaction" },
	{ .section = "lane", .key = "modbus_watchdog", .type = CT_DURATION, .min = 0,
	  .max = 60 * MS_S, .def = "1s", L(modbus_watchdog_ms),
	  .doc = "io = modbus, boards with a host watchdog (ioboard): the board drops every "
		 "output when the daemon is silent this long; 0 = off" },
	{ .section = "lane", .key = "gpio_chip", .type = CT_STRING, .min = 1, .def = "gpiochip0",
	  L(gpio_chip), .doc = "io = gpio: the chip: name, path, label or number" },
	{ .section = "lane", .key = "gpio_debounce", .type = CT_DURATION, .min = 0, .max = 500,
	  .def = "10ms", L(gpio_debounce_ms),
	  .doc = "io = gpio: an input level must hold this long to count (0: off)" },
	IOMAP(IO_OPEN_A, "open_a", "where open_a is: none, out:N (io.SIGNAL keys: io_map.h)"),
	IOMAP(IO_OPEN_B, "open_b", "where open_b is"),
	IOMAP(IO_STOP, "stop", "where stop is"),
	IOMAP(IO_LED_GREEN, "led_green", "where led_green is"),
	IOMAP(IO_LED_RED, "led_red", "where led_red is"),
	IOMAP(IO_LED_YELLOW, "led_yellow", "where led_yellow is"),
	IOMAP(IO_BUZZER, "buzzer", "where buzzer is"),
	IOMAP(IO_ALARM, "alarm", "where alarm is"),
	IOMAP(IO_PASS_A, "pass_a", "where pass_a is: none, in:N or count:N"),
	IOMAP(IO_PASS_B, "pass_b", "where pass_b is"),
	IOMAP(IO_FIRE_ALARM, "fire_alarm", "where the fire loop is (modbus: required, or none)"),
	IOMAP(IO_CONFIRM, "confirm", "where the attendant's confirm key is"),
	IOMAP(IO_REJECT, "reject", "where the attendant's reject key is"),
	IOMAP(IO_MANUAL_OPEN, "manual_open", "where the manual open key is"),
	IOMAP(IO_TAMPER, "tamper", "where the tamper switch is"),
};
/* clang-format on */

#define CONFIG_ENTRIES (sizeof(config_table) / sizeof(config_table[0]))

/* Where each key was set: 0 not yet, > 0 a line, -1 a -D override. */
struct config_parse {
	struct config *cfg;
	const char *path;
	char *err;
	size_t errlen;
	bool failed;
	/* the file, and the reader's place in it */
	char *buf;
	size_t len, pos;
	int lineno;
	/* the current section */
	enum { SEC_NONE, SEC_GLOBAL, SEC_LANES, SEC_LANE } sec;
	char sec_name[INI_MAX_LINE];
	size_t lane;
	struct config_lane tmpl; /* [lanes] */
	int global_set[CONFIG_ENTRIES];
	int tmpl_set[CONFIG_ENTRIES];
	int lane_set[CONFIG_LANES_MAX][CONFIG_ENTRIES];
};

static void *entry_field(const struct config_entry *e, struct config *cfg, struct config_lane *lane)
{
	return strcmp(e->section, "lane") == 0 ? (char *)lane + e->offset : (char *)cfg + e->offset;
}

static int parse_uint(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (*s)
		return -EINVAL;
	*out = v;
	return 0;
}

static const struct {
	const char *unit;
	uint64_t ms;
} config_units[] = {{"d", MS_D}, {"h", MS_H}, {"min", MS_MIN}, {"s", MS_S}, {"ms", 1}};

/* "250ms", "8s", "10min", "2h", "30d"; a bare "0" too. */
static int parse_duration(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	const char *p = s;

	if (strcmp(s, "0") == 0) {
		*out = 0;
		return 0;
	}
	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	for (size_t i = 0; i < sizeof(config_units) / sizeof(config_units[0]); i++) {
		if (strcmp(p, config_units[i].unit) != 0)
			continue;
		if (v > UINT64_MAX / config_units[i].ms)
			return -ERANGE;
		*out = v * config_units[i].ms;
		return 0;
	}
	return -EINVAL;
}

static void format_duration(uint64_t ms, char *buf, size_t len)
{
	if (ms == 0) {
		snprintf(buf, len, "0");
		return;
	}
	for (size_t i = 0; i < sizeof(config_units) / sizeof(config_units[0]); i++) {
		if (ms % config_units[i].ms == 0) {
			snprintf(buf, len, "%llu%s", (unsigned long long)(ms / config_units[i].ms),
				 config_units[i].unit);
			return;
		}
	}
}

static int name_index(const char *const *names, const char *s)
{
	for (int i = 0; names[i]; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	return -1;
}

/* "a, b or c" */
static void format_names(const char *const *names, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; names[i] && used < len; i++) {
		const char *sep = i == 0 ? "" : names[i + 1] ? ", " : " or ";
		int n = snprintf(buf + used, len - used, "%s%s", sep, names[i]);

		if (n < 0)
			break;
		used += (size_t)n;
	}
}

/* "blink/500ms" etc. into p; -EINVAL with why. */
static int parse_pattern(const char *s, struct lane_pattern *p, char *why, size_t whylen)
{
	char tmp[INI_MAX_LINE], *part[5];
	size_t n = 0;
	uint64_t d[3] = {0, 0, 0};
	char lo[16], hi[16];

	if (strlen(s) >= sizeof(tmp) || !*s || s[0] == '/' || s[strlen(s) - 1] == '/' ||
	    strstr(s, "//"))
		goto bad;
	strcpy(tmp, s);
	for (char *save = NULL, *t = strtok_r(tmp, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
		if (n == 5)
			goto bad;
		part[n++] = t;
	}
	if (n == 0)
		goto bad;
	for (size_t i = 1; i < n; i++) {
		if (parse_duration(part[i], &d[i - 1]) < 0 || d[i - 1] > CONFIG_PATTERN_MAX_MS)
			goto bad;
		/* blink/ON/OFF/0: an uneven blink that lasts as long as the state */
		if (d[i - 1] < CONFIG_PATTERN_MIN_MS && !(n == 4 && i == 3 && d[i - 1] == 0))
			goto bad;
	}
	if (strcmp(part[0], "off") == 0 && n == 1) {
		*p = (struct lane_pattern){0, 0, 0};
	} else if (strcmp(part[0], "on") == 0 && n <= 2) {
		/* on_ms only says "on" when off_ms is 0; for_ms ends it. */
		*p = (struct lane_pattern){.on_ms = 1, .off_ms = 0, .for_ms = (uint32_t)d[0]};
	} else if (strcmp(part[0], "blink") == 0 && n >= 2 && n <= 4) {
		/* blink/DUR, blink/DUR/FOR, or blink/ON/OFF/FOR (as the example prints
		 * an uneven blink) */
		if (n == 4)
			*p = (struct lane_pattern){(uint32_t)d[0], (uint32_t)d[1], (uint32_t)d[2]};
		else
			*p = (struct lane_pattern){(uint32_t)d[0], (uint32_t)d[0], (uint32_t)d[1]};
	} else {
		goto bad;
	}
	return 0;
bad:
	format_duration(CONFIG_PATTERN_MIN_MS, lo, sizeof(lo));
	format_duration(CONFIG_PATTERN_MAX_MS, hi, sizeof(hi));
	snprintf(
	    why, whylen,
	    "bad pattern '%s': must be on, off, on/DUR, blink/DUR or blink/DUR/FOR, DUR %s..%s", s,
	    lo, hi);
	return -EINVAL;
}

static void format_pattern(const struct lane_pattern *p, char *buf, size_t len)
{
	char a[16], b[16], c[16];

	format_duration(p->on_ms, a, sizeof(a));
	format_duration(p->off_ms, b, sizeof(b));
	format_duration(p->for_ms, c, sizeof(c));
	if (p->on_ms == 0)
		snprintf(buf, len, "off");
	else if (p->off_ms == 0)
		snprintf(buf, len, p->for_ms ? "on/%s" : "on", c);
	else if (p->on_ms != p->off_ms)
		snprintf(buf, len, "blink/%s/%s/%s", a, b, p->for_ms ? c : "0");
	else if (p->for_ms)
		snprintf(buf, len, "blink/%s/%s", a, c);
	else
		snprintf(buf, len, "blink/%s", a);
}

static int parse_indication(const char *s, struct lane_indication *ind, char *why, size_t whylen)
{
	struct lane_indication tmp = *ind;
	bool seen[LANE_IND_COUNT] = {false};
	char copy[INI_MAX_LINE * 2], names[64];
	size_t n = 0;

	if (strlen(s) >= sizeof(copy)) {
		snprintf(why, whylen, "too long");
		return -EINVAL;
	}
	strcpy(copy, s);
	for (char *save = NULL, *t = strtok_r(copy, " \t", &save); t;
	     t = strtok_r(NULL, " \t", &save), n++) {
		char *colon = strchr(t, ':');
		int sig;

		if (!colon) {
			snprintf(why, whylen, "expected SIGNAL:PATTERN, got '%s'", t);
			return -EINVAL;
		}
		*colon = '\0';
		sig = name_index(signal_names, t);
		if (sig < 0) {
			format_names(signal_names, names, sizeof(names));
			snprintf(why, whylen, "unknown signal '%s': must be %s", t, names);
			return -EINVAL;
		}
		if (seen[sig]) {
			snprintf(why, whylen, "%s given twice", t);
			return -EINVAL;
		}
		seen[sig] = true;
		if (parse_pattern(colon + 1, &tmp.ind[sig], why, whylen) < 0)
			return -EINVAL;
	}
	if (n == 0) {
		snprintf(why, whylen, "expected SIGNAL:PATTERN ...");
		return -EINVAL;
	}
	*ind = tmp;
	return 0;
}

static void format_indication(const struct lane_indication *ind, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; i < LANE_IND_COUNT && used < len; i++) {
		char pat[64];
		int n;

		format_pattern(&ind->ind[i], pat, sizeof(pat));
		n = snprintf(buf + used, len - used, "%s%s:%s", i ? " " : "", signal_names[i], pat);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

static bool is_word(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' ||
		      *s == '-'))
			return false;
	return true;
}

/* Parses value into field; on error why says what the value must be. */
static int entry_parse(const struct config_entry *e, void *field, const char *value, char *why,
		       size_t whylen)
{
	char lo[32], hi[32], names[160];
	uint64_t v;
	size_t len = strlen(value);
	int i;

	switch (e->type) {
	case CT_STRING:
	case CT_WORD:
	case CT_HTTPS_URL:
		if (len < e->min || len >= e->size || (e->type == CT_WORD && !is_word(value)) ||
		    (e->type == CT_HTTPS_URL && strncmp(value, "https://", 8) != 0)) {
			if (e->type == CT_WORD)
				snprintf(why, whylen, "must be %llu..%zu of a-z 0-9 _ -",
					 (unsigned long long)e->min, e->size - 1);
			else if (e->type == CT_HTTPS_URL)
				snprintf(why, whylen,
					 "must start with https:// and be at most %zu "
					 "characters",
					 e->size - 1);
			else
				snprintf(why, whylen, "must be %llu..%zu characters",
					 (unsigned long long)e->min, e->size - 1);
			return -EINVAL;
		}
		memcpy(field, value, len + 1);
		return 0;
	case CT_UINT:
		if (parse_uint(value, &v) < 0 || v < e->min || v > e->max) {
			snprintf(why, whylen, "must be %llu..%llu", (unsigned long long)e->min,
				 (unsigned long long)e->max);
			return -EINVAL;
		}
		*(uint32_t *)field = (uint32_t)v;
		return 0;
	case CT_DURATION:
		if (parse_duration(value, &v) < 0 || v < e->min || v > e->max) {
			format_duration(e->min, lo, sizeof(lo));
			format_duration(e->max, hi, sizeof(hi));
			snprintf(why, whylen, "must be %s..%s", lo, hi);
			return -EINVAL;
		}
		*(uint32_t *)field = (uint32_t)v;
		return 0;
	case CT_BOOL:
		if (!strcmp(value, "yes") || !strcmp(value, "true") || !strcmp(value, "1")) {
			*(bool *)field = true;
		} else if (!strcmp(value, "no") || !strcmp(value, "false") || !strcmp(value, "0")) {
			*(bool *)field = false;
		} else {
			snprintf(why, whylen, "must be yes or no");
			return -EINVAL;
		}
		return 0;
	case CT_MODE:
		v = 0;
		for (const char *p = value; *p; p++) {
			if (*p < '0' || *p > '7' || v > e->max) {
				v = UINT64_MAX;
				break;
			}
			v = v * 8 + (uint64_t)(*p - '0');
		}
		if (!*value || len > 4 || v > e->max) {
			snprintf(why, whylen, "must be an octal mode 0000..%04llo",
				 (unsigned long long)e->max);
			return -EINVAL;
		}
		*(mode_t *)field = (mode_t)v;
		return 0;
	case CT_ENUM:
		i = name_index(e->names, value);
		if (i < 0) {
			format_names(e->names, names, sizeof(names));
			snprintf(why, whylen, "must be %s", names);
			return -EINVAL;
		}
		memcpy(field, &i, sizeof(i));
		return 0;
	case CT_BAUD:
		if (parse_uint(value, &v) == 0)
			for (size_t k = 0; config_bauds[k]; k++)
				if (config_bauds[k] == v) {
					*(uint32_t *)field = (uint32_t)v;
					return 0;
				}
		snprintf(why, whylen,
			 "must be a serial speed: 1200, 1800, 2400, 4800, 9600, "
			 "19200, 38400, 57600, 115200, 230400, 460800, 500000, 576000 or 921600");
		return -EINVAL;
	case CT_INDICATION:
		return parse_indication(value, field, why, whylen);
	case CT_KEY:
		if (len >= e->size || (strcmp(value, "none") != 0 && evdev_keys_parse_name(value) < 0) ||
		    strcasecmp(value, "enter") == 0 || strcasecmp(value, "kpenter") == 0) {
			snprintf(why, whylen, "must be a key name other than Enter (kpminus, kpplus, "
					      "kpasterisk, kpslash, kpdot, kp0..kp9, backspace, esc, "
					      "delete, space, tab, f1..f12, a..z, 0..9) or none");
			return -EINVAL;
		}
		memcpy(field, value, len + 1);
		return 0;
	}
	snprintf(why, whylen, "unknown type");
	return -EINVAL;
}

static void entry_format(const struct config_entry *e, const void *field, char *buf, size_t len)
{
	int i;

	switch (e->type) {
	case CT_STRING:
	case CT_WORD:
	case CT_HTTPS_URL:
	case CT_KEY:
		snprintf(buf, len, "%s", (const char *)field);
		return;
	case CT_UINT:
	case CT_BAUD:
		snprintf(buf, len, "%u", *(const uint32_t *)field);
		return;
	case CT_DURATION:
		format_duration(*(const uint32_t *)field, buf, len);
		return;
	case CT_BOOL:
		snprintf(buf, len, "%s", *(const bool *)field ? "yes" : "no");
		return;
	case CT_MODE:
		snprintf(buf, len, "%04o", (unsigned)*(const mode_t *)field);
		return;
	case CT_ENUM:
		memcpy(&i, field, sizeof(i));
		snprintf(buf, len, "%s", e->names[i]);
		return;
	case CT_INDICATION:
		format_indication(field, buf, len);
		return;
	}
}

/* Table defaults for cfg's globals, or (lane != NULL) for a lane. */
static int config_apply_defaults(struct config *cfg, struct config_lane *lane)
{
	char why[256];

	if (lane) {
		memset(lane, 0, sizeof(*lane));
		lane_config_defaults(&lane->lane);
	}
	for (size_t i = 0; i < CONFIG_ENTRIES; i++) {
		const struct config_entry *e = &config_table[i];

		if (!e->def || (strcmp(e->section, "lane") == 0) != (lane != NULL))
			continue;
		if (entry_parse(e, entry_field(e, cfg, lane), e->def, why, sizeof(why)) < 0)
			return -EINVAL;
	}
	return 0;
}

static const struct config_entry *entry_find(const char *section, const char *key)
{
	for (size_t i = 0; i < CONFIG_ENTRIES; i++)
		if (strcmp(config_table[i].section, section) == 0 &&
		    strcmp(config_table[i].key, key) == 0)
			return &config_table[i];
	return NULL;
}

static void fail(struct config_parse *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The first error wins; later ones are consequences. */
static void fail(struct config_parse *p, const char *fmt, ...)
{
	va_list ap;

	if (p->failed)
		return;
	p->failed = true;
	va_start(ap, fmt);
	vsnprintf(p->err, p->errlen, fmt, ap);
	va_end(ap);
}

static int *set_slot(struct config_parse *p, size_t idx)
{
	switch (p->sec) {
	case SEC_LANES:
		return &p->tmpl_set[idx];
	case SEC_LANE:
		return &p->lane_set[p->lane][idx];
	default:
		return &p->global_set[idx];
	}
}

static bool lane_name_ok(const char *name)
{
	size_t n = strlen(name);

	return n >= 1 && n < CONFIG_NAME_MAX && is_word(name);
}

static int section_begin(struct config_parse *p, const char *name)
{
	struct config *cfg = p->cfg;

	snprintf(p->sec_name, sizeof(p->sec_name), "%s", name);
	if (name_index(global_sections, name) >= 0) {
		p->sec = SEC_GLOBAL;
		return 0;
	}
	if (strcmp(name, "lanes") == 0) {
		if (cfg->lane_count) {
			fail(p, "%s:%d: [lanes] must come before the first [lane.NAME]", p->path,
			     p->lineno);
			return -EINVAL;
		}
		p->sec = SEC_LANES;
		return 0;
	}
	if (strncmp(name, "lane.", 5) == 0) {
		const char *lname = name + 5;
		struct config_lane *l;

		if (!lane_name_ok(lname)) {
			fail(p, "%s:%d: bad lane name '%s' (must be 1..%d of a-z 0-9 _ -)", p->path,
			     p->lineno, lname, CONFIG_NAME_MAX - 1);
			return -EINVAL;
		}
		for (size_t i = 0; i < cfg->lane_count; i++) {
			if (strcmp(cfg->lanes[i].name, lname) == 0) {
				fail(p, "%s:%d: duplicate lane [lane.%s] (first at line %d)",
				     p->path, p->lineno, lname, cfg->lanes[i].line);
				return -EINVAL;
			}
		}
		if (cfg->lane_count == CONFIG_LANES_MAX) {
			fail(p, "%s:%d: too many lanes (at most %d)", p->path, p->lineno,
			     CONFIG_LANES_MAX);
			return -EINVAL;
		}
		l = &cfg->lanes[cfg->lane_count];
		*l = p->tmpl;
		snprintf(l->name, sizeof(l->name), "%s", lname);
		l->line = p->lineno;
		p->lane = cfg->lane_count++;
		p->sec = SEC_LANE;
		return 0;
	}
	fail(p, "%s:%d: unknown section [%s]", p->path, p->lineno, name);
	return -EINVAL;
}

/* A header line as inih will see it: "[name]", then nothing or a comment. */
static int section_line(struct config_parse *p, char *line)
{
	char *end = strchr(line, ']'), *rest, name[INI_MAX_LINE];

	if (!end) {
		fail(p, "%s:%d: expected ']'", p->path, p->lineno);
		return -EINVAL;
	}
	for (rest = end + 1; *rest == ' ' || *rest == '\t'; rest++)
		;
	if (*rest && *rest != ';' && *rest != '#') {
		fail(p, "%s:%d: unexpected text after ']'", p->path, p->lineno);
		return -EINVAL;
	}
	memcpy(name, line + 1, (size_t)(end - line - 1));
	name[end - line - 1] = '\0';
	return section_begin(p, name);
}

static char *config_reader(char *str, int num, void *stream)
{
	struct config_parse *p = stream;
	const char *line, *nl;
	size_t n;

	if (p->failed || p->pos >= p->len)
		return NULL;
	line = p->buf + p->pos;
	nl = memchr(line, '\n', p->len - p->pos);
	n = nl ? (size_t)(nl - line) : p->len - p->pos;
	p->pos += n + (nl ? 1 : 0);
	p->lineno++;
	if (memchr(line, '\0', n)) {
		fail(p, "%s:%d: NUL byte in the line", p->path, p->lineno);
		return NULL;
	}
	if (n && line[n - 1] == '\r')
		n--;
	/* Leading blanks would make inih take the line as a continuation. */
	while (n && (*line == ' ' || *line == '\t')) {
		line++;
		n--;
	}
	if (n && (*line == ';' || *line == '#'))
		n = 0;
	if (n >= (size_t)num) {
		fail(p, "%s:%d: line too long (at most %d characters)", p->path, p->lineno,
		     num - 1);
		return NULL;
	}
	memcpy(str, line, n);
	str[n] = '\0';
	if (n && str[0] == '[' && section_line(p, str) < 0)
		return NULL;
	return str;
}

/* Applies one key of the current section. where: "FILE:LINE" or "-D ...". */
static int apply_key(struct config_parse *p, const char *where, int line, const char *key,
		     const char *value)
{
	const char *section = p->sec == SEC_GLOBAL ? p->sec_name : "lane";
	const struct config_entry *e = entry_find(section, key);
	struct config_lane *lane = NULL;
	char why[512];
	int *slot;

	if (!e) {
		fail(p, "%s: unknown key '%s' in [%s]", where, key, p->sec_name);
		return -EINVAL;
	}
	slot = set_slot(p, (size_t)(e - config_table));
	if (*slot > 0 && line > 0) {
		fail(p, "%s: duplicate key '%s' in [%s] (first at line %d)", where, key,
		     p->sec_name, *slot);
		return -EINVAL;
	}
	if (p->sec == SEC_LANES)
		lane = &p->tmpl;
	else if (p->sec == SEC_LANE)
		lane = &p->cfg->lanes[p->lane];
	if (entry_parse(e, entry_field(e, p->cfg, lane), value, why, sizeof(why)) < 0) {
		fail(p, "%s: bad value for %s: '%s' (%s)", where, key, value, why);
		return -EINVAL;
	}
	*slot = line;
	return 0;
}

static int config_handler(void *user, const char *section, const char *name, const char *value)
{
	struct config_parse *p = user;
	char where[PATH_MAX + 32];

	if (p->failed)
		return 0;
	snprintf(where, sizeof(where), "%s:%d", p->path, p->lineno);
	if (p->sec == SEC_NONE) {
		fail(p, "%s: key '%s' outside any section", where, name);
		return 0;
	}
	if (strcmp(section, p->sec_name) != 0) {
		fail(p, "%s: syntax error", where);
		return 0;
	}
	return apply_key(p, where, p->lineno, name, value) == 0;
}

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	return s;
}

static int apply_override(struct config_parse *p, const char *ov)
{
	char buf[PATH_MAX + 256], where[PATH_MAX + 300], *eq, *lhs, *value, *dot;

	snprintf(where, sizeof(where), "-D %s", ov);
	if (strlen(ov) >= sizeof(buf)) {
		fail(p, "%s: too long", where);
		return -EINVAL;
	}
	strcpy(buf, ov);
	eq = strchr(buf, '=');
	dot = strchr(buf, '.');
	if (!eq || !dot || dot > eq) {
		fail(p, "%s: expected section.key=value", where);
		return -EINVAL;
	}
	*eq = '\0';
	lhs = trim(buf);
	value = trim(eq + 1);
	dot = strchr(lhs, '.');
	*dot = '\0';
	if (strcmp(lhs, "lane") == 0) {
		char *key = strchr(dot + 1, '.');

		if (!key) {
			fail(p, "%s: expected lane.NAME.key=value", where);
			return -EINVAL;
		}
		*key++ = '\0';
		for (size_t i = 0; i < p->cfg->lane_count; i++) {
			if (strcmp(p->cfg->lanes[i].name, dot + 1) != 0)
				continue;
			p->sec = SEC_LANE;
			p->lane = i;
			snprintf(p->sec_name, sizeof(p->sec_name), "lane.%s", dot + 1);
			return apply_key(p, where, -1, key, value);
		}
		fail(p, "%s: no lane '%s'", where, dot + 1);
		return -EINVAL;
	}
	if (strcmp(lhs, "lanes") == 0) {
		/* After the file, [lanes] means: every lane. */
		for (size_t i = 0; i < p->cfg->lane_count; i++) {
			p->sec = SEC_LANE;
			p->lane = i;
			snprintf(p->sec_name, sizeof(p->sec_name), "lanes");
			if (apply_key(p, where, -1, dot + 1, value) < 0)
				return -EINVAL;
		}
		return 0;
	}
	if (name_index(global_sections, lhs) < 0) {
		fail(p, "%s: unknown section [%s]", where, lhs);
		return -EINVAL;
	}
	p->sec = SEC_GLOBAL;
	snprintf(p->sec_name, sizeof(p->sec_name), "%s", lhs);
	return apply_key(p, where, -1, dot + 1, value);
}

/* io.SIGNAL values, at the key's line; io = modbus needs a bus, open_a and fire_alarm. */
static int check_io_map(struct config_parse *p, size_t i)
{
	struct config_lane *l = &p->cfg->lanes[i];
	bool modbus = strcmp(l->io, "modbus") == 0, gpio = strcmp(l->io, "gpio") == 0;

	for (int s = 0; s < IO_SIGNAL_COUNT; s++) {
		const struct config_entry *e = entry_find("lane", "io.open_a") + s;
		int line = p->lane_set[i][e - config_table];
		const char *why = "";
		struct io_map m;

		if (io_map_parse(l->io_map[s], io_is_output((enum io_signal)s), &m, &why) < 0) {
			if (line > 0)
				fail(p, "%s:%d: bad value for %s: '%s' (%s)", p->path, line, e->key,
				     l->io_map[s], why);
			else
				fail(p, "%s:%d: [lane.%s]: bad value for %s: '%s' (%s)", p->path,
				     l->line, l->name, e->key, l->io_map[s], why);
			return -EINVAL;
		}
		if (modbus && (m.active_low || m.bias || m.name[0])) {
			fail(p, "%s:%d: [lane.%s]: %s: line names, :low, :pullup, :pulldown are "
			     "for GPIO", p->path, line > 0 ? line : l->line, l->name, e->key);
			return -EINVAL;
		}
		if (gpio && m.kind == IO_MAP_COUNT) {
			fail(p, "%s:%d: [lane.%s]: %s: count:N is for Modbus boards; GPIO inputs "
			     "are edge events: use in:N", p->path, line > 0 ? line : l->line,
			     l->name, e->key);
			return -EINVAL;
		}
		if ((modbus || gpio) && m.kind == IO_MAP_UNSET &&
		    (s == IO_OPEN_A || s == IO_FIRE_ALARM)) {
			fail(p, "%s:%d: [lane.%s]: missing key '%s' (io = %s)%s", p->path,
			     l->line, l->name, e->key, l->io,
			     s == IO_FIRE_ALARM ? "; 'none' if there is no fire loop" : "");
			return -EINVAL;
		}
	}
	if (modbus && strncmp(l->modbus, "rtu:/", 5) != 0 && strncmp(l->modbus, "tcp:", 4) != 0) {
		fail(p, "%s:%d: [lane.%s]: io = modbus needs modbus = rtu:/DEVICE or tcp:HOST:PORT",
		     p->path, l->line, l->name);
		return -EINVAL;
	}
	/* The worker's longest silence while the link is up: a poll, then a failed one. */
	if (modbus && l->modbus_dialect == CONFIG_DIALECT_IOBOARD && l->modbus_watchdog_ms &&
	    l->modbus_watchdog_ms < 2 * (l->modbus_poll_ms + l->modbus_timeout_ms)) {
		fail(p, "%s:%d: [lane.%s]: modbus_watchdog must be 0 or at least 2 x (modbus_poll "
		     "+ modbus_timeout) = %u ms", p->path, l->line, l->name,
		     (unsigned)(2 * (l->modbus_poll_ms + l->modbus_timeout_ms)));
		return -EINVAL;
	}
	/* One worker owns a bus; sharing an RS-485 line between lanes is not done yet. */
	for (size_t j = 0; modbus && j < i; j++) {
		if (strcmp(p->cfg->lanes[j].io, "modbus") == 0 &&
		    strcmp(p->cfg->lanes[j].modbus, l->modbus) == 0) {
			fail(p, "%s:%d: [lane.%s]: bus %s is already lane %s's (one lane per bus)",
			     p->path, l->line, l->name, l->modbus, p->cfg->lanes[j].name);
			return -EINVAL;
		}
	}
	return 0;
}

/* Required keys and the lane's own validation, reported at the lane header. */
static int check_lanes(struct config_parse *p)
{
	for (size_t i = 0; i < p->cfg->lane_count; i++) {
		struct config_lane *l = &p->cfg->lanes[i];
		const char *why = NULL;

		for (size_t k = 0; k < CONFIG_ENTRIES; k++) {
			if (!config_table[k].required || p->lane_set[i][k] || p->tmpl_set[k])
				continue;
			fail(p, "%s:%d: [lane.%s]: missing key '%s'", p->path, l->line, l->name,
			     config_table[k].key);
			return -EINVAL;
		}
		if ((l->scanner == CONFIG_SCANNER_SERIAL || l->scanner == CONFIG_SCANNER_HID) &&
		    !l->scanner_device[0]) {
			fail(p, "%s:%d: [lane.%s]: missing key 'scanner_device' (scanner = %s)",
			     p->path, l->line, l->name, scanner_names[l->scanner]);
			return -EINVAL;
		}
		if (strcmp(l->keypad_reject, "none") != 0 &&
		    evdev_keys_parse_name(l->keypad_reject) ==
			    evdev_keys_parse_name(l->keypad_manual_open)) {
			fail(p, "%s:%d: [lane.%s]: keypad_reject and keypad_manual_open are the same "
			     "key '%s'", p->path, l->line, l->name, l->keypad_reject);
			return -EINVAL;
		}
		if (l->scanner == CONFIG_SCANNER_CAMERA &&
		    !l->camera_device[0] == !l->camera_dir[0]) {
			fail(p, "%s:%d: [lane.%s]: scanner = camera needs exactly one of "
			     "'camera_device' and 'camera_dir'", p->path, l->line, l->name);
			return -EINVAL;
		}
#ifndef TS_HAVE_ZXING
		if (l->scanner == CONFIG_SCANNER_CAMERA && l->camera_decoder == CONFIG_DECODER_ZXING) {
			fail(p, "%s:%d: [lane.%s]: camera_decoder = zxing: built without zxing-cpp",
			     p->path, l->line, l->name);
			return -EINVAL;
		}
#endif
		if (check_io_map(p, i) < 0)
			return -EINVAL;
		if (lane_config_validate(&l->lane, &why) < 0) {
			fail(p, "%s:%d: [lane.%s]: %s", p->path, l->line, l->name,
			     why ? why : "invalid");
			return -EINVAL;
		}
	}
	return 0;
}

static int read_file(struct config_parse *p)
{
	FILE *f = fopen(p->path, "re");
	size_t cap = 4096;
	int r = 0;

	if (!f) {
		r = -errno;
		snprintf(p->err, p->errlen, "%s: cannot read: %s", p->path, strerror(errno));
		return r;
	}
	p->buf = malloc(cap);
	for (;;) {
		size_t got;

		if (!p->buf) {
			r = -ENOMEM;
			snprintf(p->err, p->errlen, "%s: out of memory", p->path);
			break;
		}
		got = fread(p->buf + p->len, 1, cap - p->len, f);
		p->len += got;
		if (ferror(f)) {
			r = -EIO;
			snprintf(p->err, p->errlen, "%s: cannot read: %s", p->path, strerror(EIO));
			break;
		}
		if (feof(f))
			break;
		if (cap >= CONFIG_FILE_MAX) {
			r = -EFBIG;
			snprintf(p->err, p->errlen, "%s: larger than %d bytes", p->path,
				 CONFIG_FILE_MAX);
			break;
		}
		cap *= 2;
		char *nb = realloc(p->buf, cap);

		if (!nb)
			free(p->buf);
		p->buf = nb;
	}
	fclose(f);
	/* inih would skip a UTF-8 BOM; the reader hands it lines, so skip it here. */
	if (r == 0 && p->len >= 3 && memcmp(p->buf, "\xEF\xBB\xBF", 3) == 0)
		p->pos = 3;
	return r;
}

int config_load(struct config *cfg, const char *path, char *const *overrides, size_t override_count,
		char *err, size_t errlen)
{
	struct config_parse *p;
	int r;

	if (errlen)
		err[0] = '\0';
	memset(cfg, 0, sizeof(*cfg));
	p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	p->cfg = cfg;
	p->path = path;
	p->err = err;
	p->errlen = errlen;
	if (strlen(path) >= sizeof(cfg->path)) {
		snprintf(err, errlen, "%s: path too long", path);
		r = -ENAMETOOLONG;
		goto out;
	}
	strcpy(cfg->path, path);
	if (config_apply_defaults(cfg, NULL) < 0 || config_apply_defaults(cfg, &p->tmpl) < 0) {
		snprintf(err, errlen, "%s: internal error: a default does not parse", path);
		r = -EINVAL;
		goto out;
	}
	r = read_file(p);
	if (r < 0)
		goto out;

	r = ini_parse_stream(config_reader, p, config_handler, p);
	if (r != 0 && !p->failed)
		fail(p, "%s:%d: syntax error (expected [section] or key = value)", path, r);
	if (!p->failed && cfg->lane_count == 0)
		fail(p, "%s: no [lane.NAME] section", path);
	for (size_t i = 0; i < override_count && !p->failed; i++)
		apply_override(p, overrides[i]);
	if (!p->failed)
		check_lanes(p);
	r = p->failed ? -EINVAL : 0;
out:
	free(p->buf);
	free(p);
	return r;
}

static void print_entries(FILE *out, const char *section, const struct config *cfg,
			  const struct config_lane *lane)
{
	int said_indication = 0;

	for (size_t i = 0; i < CONFIG_ENTRIES; i++) {
		const struct config_entry *e = &config_table[i];
		char val[512];

		if (strcmp(e->section, section) != 0)
			continue;
		if (e->type == CT_INDICATION && !said_indication++)
			fprintf(
			    out,
			    "; Indication keys: indicate.STATE = SIGNAL:PATTERN ..., SIGNAL is\n"
			    "; green, red, yellow or buzzer; PATTERN is on, off, on/DUR (on for\n"
			    "; DUR, then off), blink/DUR (DUR on, DUR off), blink/DUR/FOR (blink\n"
			    "; for FOR, then off) or blink/ON/OFF/FOR (FOR 0: no end). Signals\n"
			    "; a value does not mention keep their default.\n");
		if (e->required) {
			fprintf(out, "; %s (required)\n%s = %s\n", e->doc, e->key, e->example);
			continue;
		}
		entry_format(e, entry_field(e, (struct config *)cfg, (struct config_lane *)lane),
			     val, sizeof(val));
		fprintf(out, "; %s (default %s)\n%s =%s%s\n", e->doc, val[0] ? val : "empty",
			e->key, val[0] ? " " : "", val);
	}
}

size_t config_key_count(void)
{
	return CONFIG_ENTRIES;
}

void config_print_example(FILE *out)
{
	struct config *cfg = calloc(1, sizeof(*cfg));
	struct config_lane *lane = calloc(1, sizeof(*lane));

	if (!cfg || !lane)
		goto out;
	config_apply_defaults(cfg, NULL);
	config_apply_defaults(cfg, lane);
	fprintf(out,
		"; turnstiled configuration: every key with its default.\n"
		"; Durations take a unit: 250ms, 8s, 10min, 2h, 30d. Booleans: yes or no.\n"
		"; Override a key with -D section.key=value (lane keys: lane.NAME.key=value).\n");
	for (size_t s = 0; global_sections[s]; s++) {
		fprintf(out, "\n[%s]\n", global_sections[s]);
		print_entries(out, global_sections[s], cfg, lane);
	}
	fprintf(out,
		"\n; Keys given in a [lanes] section are defaults for every lane; [lanes]\n"
		"; must come before the first [lane.NAME]. For example:\n"
		";[lanes]\n;control = potential\n"
		"\n; One section per lane (at most %d), NAME is 1..%d of a-z 0-9 _ -.\n"
		"[lane.main]\n",
		CONFIG_LANES_MAX, CONFIG_NAME_MAX - 1);
	print_entries(out, "lane", cfg, lane);
out:
	free(cfg);
	free(lane);
}
