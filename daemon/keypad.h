/* keypad.h: the attendant's USB keypad, read through evdev (evdev_dev.h).
 *
 * Three keys matter: Enter (main or keypad Enter) confirms, the lane's
 * keypad_reject key rejects, its keypad_manual_open key asks for one manual
 * passage. Every other key, a key repeat (a held key) and a release do nothing.
 * Each action carries the time the key went down (CLOCK_MONOTONIC ms, from the
 * kernel's event stamp), so the caller can bind it to the check that was on
 * screen then rather than to whatever is pending when the event is read.
 * Never logs.
 */
#ifndef TS_KEYPAD_H
#define TS_KEYPAD_H

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "config.h"

enum keypad_action { KEYPAD_NONE, KEYPAD_CONFIRM, KEYPAD_REJECT, KEYPAD_MANUAL_OPEN };

struct keypad_callbacks {
	void (*action)(enum keypad_action action, uint64_t pressed_ms, void *userdata);
	/* As struct evdev_dev_callbacks' status. */
	void (*status)(bool connected, int err, const char *device, void *userdata);
};

struct keypad;

/* 0 and *out NULL when lane->keypad_device is empty; -EINVAL for a bad key name,
 * -ENOMEM. A keypad that is not plugged in is retried, not an error. */
int keypad_open(struct keypad **out, sd_event *ev, const struct config_lane *lane,
		const struct keypad_callbacks *cb, void *userdata);
/* Accepts NULL. */
void keypad_close(struct keypad *k);

/* The action of KEY_* code key, given the lane's reject and manual open keys
 * (-1: none). Pure. */
enum keypad_action keypad_action_of(uint16_t key, int reject_key, int manual_open_key);
/* "confirm", "reject", "manual_open", "none". */
const char *keypad_action_name(enum keypad_action action);

#endif
