/* evdev_keys.h: Linux input events -> keys and characters, without the host.
 *
 * A USB keyboard-wedge scanner and a USB keypad both send key codes (EV_KEY),
 * not characters. What character a key code means is normally decided by the
 * host's keyboard layout; a lane PC with a Russian layout would turn a scanned
 * "QR" into "ЙК". This decoder ignores the host entirely: a fixed US table plus
 * the state of the two Shift keys. Enter and keypad Enter give '\r' (the end of
 * a code, framed by scanline.c like the serial source's bytes); keypad digits
 * give digits whatever NumLock says. Key repeat (value 2) never yields anything,
 * so a held key cannot type a code twice or confirm twice. SYN_DROPPED (the
 * kernel lost events) forgets the Shift state; the caller should then drop the
 * partial line.
 *
 * Pure: no I/O; the caller reads struct input_event from the device.
 */
#ifndef TS_EVDEV_KEYS_H
#define TS_EVDEV_KEYS_H

#include <stdbool.h>
#include <stdint.h>

struct evdev_keys {
	bool shift_left;
	bool shift_right;
};

struct evdev_keys_press {
	uint16_t key; /* KEY_* code of the key pressed */
	char ch;      /* its character in the US table (with Shift), '\r' for Enter, or 0 */
};

enum evdev_keys_result {
	EVDEV_KEYS_NONE = 0,  /* nothing to report (release, repeat, modifier, sync) */
	EVDEV_KEYS_PRESS = 1, /* a key went down: *out filled */
	EVDEV_KEYS_DROPPED = 2, /* the kernel dropped events: discard any partial code */
};

void evdev_keys_init(struct evdev_keys *k);
/* One input event (type, code, value as in struct input_event). */
enum evdev_keys_result evdev_keys_feed(struct evdev_keys *k, uint16_t type, uint16_t code,
				       int32_t value, struct evdev_keys_press *out);
/* The character of key in the US table, shifted or not; 0 if it has none. */
char evdev_keys_char(uint16_t key, bool shift);
/* A key name for configuration ("enter", "kpenter", "esc", "backspace", "a".."z",
 * "0".."9", "kp0".."kp9", "kpplus", "kpminus", "kpasterisk", "kpslash", "kpdot",
 * "f1".."f12", "space", "tab", "delete"): the KEY_* code, or -EINVAL. */
int evdev_keys_parse_name(const char *name);

#endif
