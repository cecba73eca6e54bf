/* scanner_hid.c: keyboard-wedge scanners (see scanner_hid.h).
 *
 * A wedge scanner "types" its code: one key press per character, Shift around
 * capitals, Enter at the end. Each press becomes one byte for scanline.c, the
 * same framer as the serial source, so the length cap and the garbage rules are
 * the serial scanner's: Enter (main or keypad) ends the code; a key with no
 * character in the US table (Tab, Esc, F-keys, arrows) becomes a DEL byte, which
 * makes the whole line "not printable ASCII" and rejected rather than silently
 * shortened; modifier and lock keys (Ctrl, Alt, Meta, Caps/Num/Scroll Lock) are
 * ignored, since some scanners send them around a code. When the kernel
 * dropped events (SYN_DROPPED: the reader fell behind), keys of the code in
 * progress are missing, so the line is spoiled up to the next Enter and then
 * rejected: its tail must not be taken for a code of its own. An unplug
 * forgets the partial line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evdev_dev.h"
#include "evdev_keys.h"
#include "scanline.h"
#include "scanner_hid.h"

#define HID_GARBAGE 0x7f /* stands for a key without a character */

struct scanner_hid {
	struct scanner_callbacks cb;
	void *userdata;
	struct evdev_dev *dev;
	struct evdev_keys keys;
	struct scanline line;
	bool dropped; /* the line in progress lost events */
};

static bool hid_ignored_key(uint16_t key)
{
	switch (key) {
	case KEY_LEFTCTRL:
	case KEY_RIGHTCTRL:
	case KEY_LEFTALT:
	case KEY_RIGHTALT:
	case KEY_LEFTMETA:
	case KEY_RIGHTMETA:
	case KEY_CAPSLOCK:
	case KEY_NUMLOCK:
	case KEY_SCROLLLOCK:
		return true;
	default:
		return false;
	}
}

static void hid_line(const struct scanline_event *ev, void *userdata)
{
	struct scanner_hid *h = userdata;
	char why[96];

	if (ev->kind == SCANLINE_CODE) {
		if (h->cb.code)
			h->cb.code(ev->code, ev->len, h->userdata);
		return;
	}
	if (h->dropped)
		snprintf(why, sizeof(why), "keys lost by the kernel (SYN_DROPPED) in this code");
	else if (ev->kind == SCANLINE_TOO_LONG)
		snprintf(why, sizeof(why), "too long (%s%zu keys, at most %zu)",
			 ev->len == SIZE_MAX ? "over " : "", ev->len, h->line.max_len);
	else
		snprintf(why, sizeof(why), "keys without a character (%zu keys)", ev->len);
	if (h->cb.rejected)
		h->cb.rejected(why, h->userdata);
}

static void hid_event(const struct input_event *ie, uint64_t ms, void *userdata)
{
	struct scanner_hid *h = userdata;
	struct evdev_keys_press press;
	char byte;

	switch (evdev_keys_feed(&h->keys, ie->type, ie->code, ie->value, &press)) {
	case EVDEV_KEYS_DROPPED:
		byte = (char)HID_GARBAGE;
		h->dropped = true;
		scanline_feed(&h->line, &byte, 1, hid_line, h);
		return;
	case EVDEV_KEYS_PRESS:
		if (hid_ignored_key(press.key))
			return;
		byte = press.ch ? press.ch : (char)HID_GARBAGE;
		scanline_feed(&h->line, &byte, 1, hid_line, h);
		if (press.ch == '\r')
			h->dropped = false;
		return;
	case EVDEV_KEYS_NONE:
		return;
	}
}

static void hid_status(bool connected, int err, const char *device, void *userdata)
{
	struct scanner_hid *h = userdata;

	/* A code cut by an unplug is never completed by the next device's keys. */
	scanline_reset(&h->line);
	h->dropped = false;
	evdev_keys_init(&h->keys);
	if (h->cb.status)
		h->cb.status(connected, err, device, h->userdata);
}

void scanner_hid_close(void *ctx)
{
	struct scanner_hid *h = ctx;

	if (!h)
		return;
	evdev_dev_close(h->dev);
	free(h);
}

int scanner_hid_open(void **ctx, sd_event *ev, const struct config_lane *lane,
		     const struct scanner_callbacks *cb, void *userdata)
{
	static const struct evdev_dev_callbacks dev_cb = {
	    .event = hid_event,
	    .status = hid_status,
	};
	struct scanner_hid *h;
	int r;

	if (!lane->scanner_device[0])
		return -EINVAL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->cb = *cb;
	h->userdata = userdata;
	evdev_keys_init(&h->keys);
	/* Enter is '\r' in the key table: it, and only it, ends a code. */
	r = scanline_init(&h->line, SCANLINE_EOL_CR, lane->scanner_max_len);
	if (r < 0)
		goto error;
	r = evdev_dev_open(&h->dev, ev, lane->scanner_device, lane->evdev_require_grab, &dev_cb, h);
	if (r < 0)
		goto error;
	*ctx = h;
	return 0;
error:
	scanner_hid_close(h);
	return r;
}
