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

enum config_scanner { CONFIG_SCANNER_NONE, CONFIG_SCANNER_SERIAL };
enum config_eol { CONFIG_EOL_CR, CONFIG_EOL_LF, CONFIG_EOL_ANY }; /* ANY: CR, LF or CRLF */

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
	struct lane_config lane;  /* control, pulse, windows, indication */
};

struct config {
	char path[PATH_MAX];
	/* [daemon] */
	uint32_t reuse_window_ms;   /* reuse flag: same code granted on any lane within this */
	uint32_t flush_ms;          /* non-grant journal rows are committed within this */
	/* [store] */
	char store_path[PATH_MAX];
	/* [control] */
	char control_socket[PATH_MAX];
	mode_t control_mode;        /* octal, default 0660 */
	/* [gosuslugi] */
	char gosuslugi_base_url[256];
	char gosuslugi_ca_file[PATH_MAX];
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

#endif
