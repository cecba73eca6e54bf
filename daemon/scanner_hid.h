/* scanner_hid.h: the "hid" scanner source (scanner.c's ops table): a USB
 * keyboard-wedge scanner read through evdev (evdev_dev.h) and decoded with the
 * fixed US key table (evdev_keys.h), framed like the serial source. */
#ifndef TS_SCANNER_HID_H
#define TS_SCANNER_HID_H

#include "scanner.h"

int scanner_hid_open(void **ctx, sd_event *ev, const struct config_lane *lane,
		     const struct scanner_callbacks *cb, void *userdata);
void scanner_hid_close(void *ctx);

#endif
