/* config.h: turnstiled's configuration, an INI file read with libinih.
 *
 * One table (config.c) of {section, key, type, bounds, default, field, doc}
 * drives parsing, validation, defaults and the documented example
 * (config_print_example). Every key is validated and bounded at load; an unknown
 * section or key, a bad value, or a lane missing a required key is an error
 * "FILE:LINE: ..." (for -D overrides: "-D section.key=value: ..."). Lanes are
 * sections [lane.NAME]; keys shared by every lane may also be given in [lanes]
 * as defaults. Durations take a unit: 250ms, 8s, 10min, 2h, 30d.
 */
#ifndef TS_CONFIG_H
#define TS_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "lane.h"

#define CONFIG_LANES_MAX 16
#define CONFIG_NAME_MAX 32

enum config_decoder { CONFIG_DECODER_ZBAR, CONFIG_DECODER_ZXING };
enum config_scanner {
	CONFIG_SCANNER_NONE,
	CONFIG_SCANNER_SERIAL,
	CONFIG_SCANNER_CAMERA,
	CONFIG_SCANNER_HID,
};
enum config_eol { CONFIG_EOL_CR, CONFIG_EOL_LF, CONFIG_EOL_ANY }; /* ANY: CR, LF or CRLF */
enum config_parity { CONFIG_PARITY_NONE, CONFIG_PARITY_EVEN, CONFIG_PARITY_ODD };
/* Modbus board dialects (io_modbus.c, hw/profiles/modbus-*.md) */
enum config_dialect {
	CONFIG_DIALECT_PLAIN,
	CONFIG_DIALECT_WAVESHARE,
	CONFIG_DIALECT_R4D3B16,
	CONFIG_DIALECT_IOBOARD,
};
#define CONFIG_IO_SIGNALS 15 /* IO_SIGNAL_COUNT; io.h includes this file */
#define CONFIG_IO_MAP_MAX 32

struct config_lane {
	char name[CONFIG_NAME_MAX];
	int line;                 /* line of the [lane.NAME] header, for messages */
	char io[16];              /* IO backend name: "sim" */
	char zone[CONFIG_NAME_MAX]; /* tickets with a zone only open lanes of that zone */
	enum config_scanner scanner;
	char scanner_device[PATH_MAX];
	uint32_t scanner_baud;    /* 1200..921600, a termios speed */
	enum config_eol scanner_eol;
	uint32_t scanner_max_len; /* 16..4096 bytes */
	char camera_device[PATH_MAX]; /* scanner = camera: a V4L2 device, or */
	char camera_dir[PATH_MAX];    /* a directory of PGM frames played at camera_fps */
	uint32_t camera_fps;          /* 1..60 */
	bool camera_loop;             /* camera_dir: start over after the last frame */
	enum config_decoder camera_decoder; /* the QR engine: zbar, or zxing if built */
	/* evdev devices: the hid scanner (scanner_device) and the keypad (keypad.h) */
	bool evdev_require_grab;      /* no: a FIFO of input events may stand in (tests) */
	char keypad_device[PATH_MAX]; /* the attendant's USB keypad; empty: none */
	char keypad_reject[16];       /* key names (evdev_keys_parse_name) or "none" */
	char keypad_manual_open[16];
	struct lane_config lane;  /* control, pulse, windows, indication */
	/* io = modbus: the bus and the board (io_modbus.c) */
	char modbus[PATH_MAX];    /* rtu:DEVICE or tcp:HOST:PORT */
	uint32_t modbus_baud;
	enum config_parity modbus_parity;
	uint32_t modbus_stop;     /* 1 or 2 */
	uint32_t modbus_unit;     /* 1..247 */
	enum config_dialect modbus_dialect;
	uint32_t modbus_poll_ms;
	uint32_t modbus_timeout_ms;
	uint32_t modbus_watchdog_ms; /* 0: off */
	bool modbus_rs485;
	/* io = gpio (io_gpio.c) */
	char gpio_chip[64];       /* gpiochip0, /dev/gpiochip0, a label or a number */
	uint32_t gpio_debounce_ms;
	/* io.SIGNAL: where each signal is, io_map.h syntax; empty: not given */
	char io_map[CONFIG_IO_SIGNALS][CONFIG_IO_MAP_MAX];
};

struct config {
	char path[PATH_MAX];
	/* [daemon] */
	uint32_t reuse_window_ms;   /* reuse flag: same code granted on any lane within this */
	uint32_t flush_ms;          /* non-grant journal rows are committed within this */
	/* [store] */
	char store_path[PATH_MAX];
	uint32_t store_retention_days; /* journal rows older than this are purged; 0: kept */
	uint32_t store_holder_days;     /* masked holder fields dropped after this; 0: kept */
	/* [control] */
	char control_socket[PATH_MAX];
	mode_t control_mode;        /* octal, default 0660 */
	/* [gosuslugi] */
	char gosuslugi_base_url[256];
	char gosuslugi_ca_file[PATH_MAX];
	uint32_t gosuslugi_connect_timeout_ms; /* TCP + TLS handshake */
	uint32_t gosuslugi_timeout_ms;     /* the whole request */
	bool gosuslugi_allow_unrz_form;    /* accept the fourth, page-code-only link form */
	bool gosuslugi_check_v4;           /* form B asks v4/cert/check instead of v3 */
	bool gosuslugi_v2_fallback;        /* form A asks v2/cert/status when v3 does not know */
	bool gosuslugi_keep_holder;        /* journal the masked holder fields */
	/* [passes] */
	bool membership_attendant;
	bool ticket_attendant;
	/* lanes */
	size_t lane_count;
	struct config_lane lanes[CONFIG_LANES_MAX];
};

/* Loads path, then applies overrides ("section.key=value", as given to -D).
 * 0, or -EINVAL with a one-line message in err ("FILE:LINE: ..."); -errno when
 * the file cannot be read (message says so). */
int config_load(struct config *cfg, const char *path, char *const *overrides,
		size_t override_count, char *err, size_t errlen);

/* Writes a complete example configuration with every key, its default and doc. */
void config_print_example(FILE *out);
/* How many keys the table knows (each appears once in the example). */
size_t config_key_count(void);

#endif
