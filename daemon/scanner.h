/* scanner.h: the code scanner of a lane, one source behind a const ops table.
 *
 * The source is chosen by the lane's `scanner` key and looked up by name
 * ("serial", "hid", "camera"). Codes, rejected lines and the device's
 * comings and goings reach the caller through callbacks on the sd-event loop;
 * the scanner itself never logs. A device that is missing or unplugged is not
 * an error: the source reports it and keeps trying to reopen it.
 *
 * The callbacks must not call scanner_close() on the scanner that calls them.
 */
#ifndef TS_SCANNER_H
#define TS_SCANNER_H

#include <stdbool.h>
#include <stddef.h>
#include <systemd/sd-event.h>

#include "config.h"

struct scanner;

struct scanner_callbacks {
	/* A complete code: printable ASCII, len bytes, NUL-terminated. */
	void (*code)(const char *code, size_t len, void *userdata);
	/* A line that is not a code: why says so ("too long (600 bytes, at most 512)"). */
	void (*rejected)(const char *why, void *userdata);
	/* The device opened (connected, err 0) or was lost or could not be opened
	 * (err: negative errno). Reported on changes only, not on each retry. */
	void (*status)(bool connected, int err, const char *device, void *userdata);
};

/* 0 and *out NULL when lane->scanner is none; -EINVAL for a bad config, -ENOMEM. */
int scanner_open(struct scanner **out, sd_event *ev, const struct config_lane *lane,
		 const struct scanner_callbacks *cb, void *userdata);
/* Accepts NULL. */
void scanner_close(struct scanner *s);
/* The source's name ("serial"). */
const char *scanner_name(const struct scanner *s);

#endif
