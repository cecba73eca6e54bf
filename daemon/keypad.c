/* keypad.c: the attendant's USB keypad (see keypad.h).
 *
 * Key presses are recognised by evdev_keys_feed(), so a key repeat never
 * confirms twice and the host's layout and NumLock state do not matter: the
 * keypad's Enter is KEY_KPENTER whatever the desktop thinks of it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "evdev_dev.h"
#include "evdev_keys.h"
#include "keypad.h"

struct keypad {
	struct keypad_callbacks cb;
	void *userdata;
	int reject_key;
	int manual_open_key;
	struct evdev_keys keys;
	struct evdev_dev *dev;
};

enum keypad_action keypad_action_of(uint16_t key, int reject_key, int manual_open_key)
{
	if (key == KEY_ENTER || key == KEY_KPENTER)
		return KEYPAD_CONFIRM;
	if (reject_key >= 0 && key == reject_key)
		return KEYPAD_REJECT;
	if (manual_open_key >= 0 && key == manual_open_key)
		return KEYPAD_MANUAL_OPEN;
	return KEYPAD_NONE;
}

const char *keypad_action_name(enum keypad_action action)
{
	switch (action) {
	case KEYPAD_CONFIRM:
		return "confirm";
	case KEYPAD_REJECT:
		return "reject";
	case KEYPAD_MANUAL_OPEN:
		return "manual_open";
	case KEYPAD_NONE:
		break;
	}
	return "none";
}

static void keypad_event(const struct input_event *ie, uint64_t ms, void *userdata)
{
	struct keypad *k = userdata;
	struct evdev_keys_press press;
	enum keypad_action a;

	if (evdev_keys_feed(&k->keys, ie->type, ie->code, ie->value, &press) != EVDEV_KEYS_PRESS)
		return;
	a = keypad_action_of(press.key, k->reject_key, k->manual_open_key);
	if (a != KEYPAD_NONE && k->cb.action)
		k->cb.action(a, ms, k->userdata);
}

static void keypad_status(bool connected, int err, const char *device, void *userdata)
{
	struct keypad *k = userdata;

	evdev_keys_init(&k->keys);
	if (k->cb.status)
		k->cb.status(connected, err, device, k->userdata);
}

/* "none" is -1; anything else must be a key name. */
static int keypad_key(const char *name, int *out)
{
	int key;

	if (strcmp(name, "none") == 0) {
		*out = -1;
		return 0;
	}
	key = evdev_keys_parse_name(name);
	if (key < 0)
		return -EINVAL;
	*out = key;
	return 0;
}

void keypad_close(struct keypad *k)
{
	if (!k)
		return;
	evdev_dev_close(k->dev);
	free(k);
}

int keypad_open(struct keypad **out, sd_event *ev, const struct config_lane *lane,
		const struct keypad_callbacks *cb, void *userdata)
{
	static const struct evdev_dev_callbacks dev_cb = {
	    .event = keypad_event,
	    .status = keypad_status,
	};
	struct keypad *k;
	int r;

	*out = NULL;
	if (!lane->keypad_device[0])
		return 0;
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->cb = *cb;
	k->userdata = userdata;
	evdev_keys_init(&k->keys);
	r = keypad_key(lane->keypad_reject, &k->reject_key);
	if (r >= 0)
		r = keypad_key(lane->keypad_manual_open, &k->manual_open_key);
	if (r < 0)
		goto error;
	r = evdev_dev_open(&k->dev, ev, lane->keypad_device, lane->evdev_require_grab, &dev_cb, k);
	if (r < 0)
		goto error;
	*out = k;
	return 0;
error:
	keypad_close(k);
	return r;
}
