/* evdev_keys.c: the fixed US key table and the Shift state (see evdev_keys.h).
 *
 * The table is indexed by KEY_* code; each entry is the unshifted and the
 * shifted character. Keypad keys have the same character both ways: a scanner
 * that sends keypad digits means digits.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <linux/input-event-codes.h>

#include "evdev_keys.h"

static const char evdev_us[KEY_KPDOT + 1 > KEY_KPSLASH + 1 ? KEY_KPDOT + 1 : KEY_KPSLASH + 1][2] = {
	[KEY_1] = {'1', '!'},	  [KEY_2] = {'2', '@'},	     [KEY_3] = {'3', '#'},
	[KEY_4] = {'4', '$'},	  [KEY_5] = {'5', '%'},	     [KEY_6] = {'6', '^'},
	[KEY_7] = {'7', '&'},	  [KEY_8] = {'8', '*'},	     [KEY_9] = {'9', '('},
	[KEY_0] = {'0', ')'},	  [KEY_MINUS] = {'-', '_'},  [KEY_EQUAL] = {'=', '+'},
	[KEY_Q] = {'q', 'Q'},	  [KEY_W] = {'w', 'W'},	     [KEY_E] = {'e', 'E'},
	[KEY_R] = {'r', 'R'},	  [KEY_T] = {'t', 'T'},	     [KEY_Y] = {'y', 'Y'},
	[KEY_U] = {'u', 'U'},	  [KEY_I] = {'i', 'I'},	     [KEY_O] = {'o', 'O'},
	[KEY_P] = {'p', 'P'},	  [KEY_LEFTBRACE] = {'[', '{'}, [KEY_RIGHTBRACE] = {']', '}'},
	[KEY_A] = {'a', 'A'},	  [KEY_S] = {'s', 'S'},	     [KEY_D] = {'d', 'D'},
	[KEY_F] = {'f', 'F'},	  [KEY_G] = {'g', 'G'},	     [KEY_H] = {'h', 'H'},
	[KEY_J] = {'j', 'J'},	  [KEY_K] = {'k', 'K'},	     [KEY_L] = {'l', 'L'},
	[KEY_SEMICOLON] = {';', ':'}, [KEY_APOSTROPHE] = {'\'', '"'}, [KEY_GRAVE] = {'`', '~'},
	[KEY_BACKSLASH] = {'\\', '|'}, [KEY_Z] = {'z', 'Z'},  [KEY_X] = {'x', 'X'},
	[KEY_C] = {'c', 'C'},	  [KEY_V] = {'v', 'V'},	     [KEY_B] = {'b', 'B'},
	[KEY_N] = {'n', 'N'},	  [KEY_M] = {'m', 'M'},	     [KEY_COMMA] = {',', '<'},
	[KEY_DOT] = {'.', '>'},	  [KEY_SLASH] = {'/', '?'},  [KEY_SPACE] = {' ', ' '},
	[KEY_ENTER] = {'\r', '\r'}, [KEY_KPENTER] = {'\r', '\r'},
	[KEY_KP0] = {'0', '0'},	  [KEY_KP1] = {'1', '1'},    [KEY_KP2] = {'2', '2'},
	[KEY_KP3] = {'3', '3'},	  [KEY_KP4] = {'4', '4'},    [KEY_KP5] = {'5', '5'},
	[KEY_KP6] = {'6', '6'},	  [KEY_KP7] = {'7', '7'},    [KEY_KP8] = {'8', '8'},
	[KEY_KP9] = {'9', '9'},	  [KEY_KPMINUS] = {'-', '-'}, [KEY_KPPLUS] = {'+', '+'},
	[KEY_KPASTERISK] = {'*', '*'}, [KEY_KPSLASH] = {'/', '/'}, [KEY_KPDOT] = {'.', '.'},
};

void evdev_keys_init(struct evdev_keys *k)
{
	memset(k, 0, sizeof(*k));
}

char evdev_keys_char(uint16_t key, bool shift)
{
	if (key >= sizeof(evdev_us) / sizeof(evdev_us[0]))
		return 0;
	return evdev_us[key][shift ? 1 : 0];
}

enum evdev_keys_result evdev_keys_feed(struct evdev_keys *k, uint16_t type, uint16_t code,
				       int32_t value, struct evdev_keys_press *out)
{
	if (type == EV_SYN && code == SYN_DROPPED) {
		k->shift_left = k->shift_right = false;
		return EVDEV_KEYS_DROPPED;
	}
	if (type != EV_KEY)
		return EVDEV_KEYS_NONE;
	if (code == KEY_LEFTSHIFT || code == KEY_RIGHTSHIFT) {
		/* Repeat (2) of a held Shift keeps it down. */
		bool down = value != 0;

		if (code == KEY_LEFTSHIFT)
			k->shift_left = down;
		else
			k->shift_right = down;
		return EVDEV_KEYS_NONE;
	}
	if (value != 1)
		return EVDEV_KEYS_NONE;
	out->key = code;
	out->ch = evdev_keys_char(code, k->shift_left || k->shift_right);
	return EVDEV_KEYS_PRESS;
}

int evdev_keys_parse_name(const char *name)
{
	static const struct {
		const char *name;
		int key;
	} named[] = {
		{"enter", KEY_ENTER},	  {"kpenter", KEY_KPENTER},	  {"esc", KEY_ESC},
		{"backspace", KEY_BACKSPACE}, {"space", KEY_SPACE},	  {"tab", KEY_TAB},
		{"delete", KEY_DELETE},	  {"kpplus", KEY_KPPLUS},	  {"kpminus", KEY_KPMINUS},
		{"kpasterisk", KEY_KPASTERISK}, {"kpslash", KEY_KPSLASH}, {"kpdot", KEY_KPDOT},
		{"kp0", KEY_KP0},	  {"kp1", KEY_KP1},		  {"kp2", KEY_KP2},
		{"kp3", KEY_KP3},	  {"kp4", KEY_KP4},		  {"kp5", KEY_KP5},
		{"kp6", KEY_KP6},	  {"kp7", KEY_KP7},		  {"kp8", KEY_KP8},
		{"kp9", KEY_KP9},
	};
	static const int fkeys[] = {KEY_F1, KEY_F2, KEY_F3, KEY_F4,  KEY_F5,  KEY_F6,
				    KEY_F7, KEY_F8, KEY_F9, KEY_F10, KEY_F11, KEY_F12};
	unsigned n;
	char extra;

	if (!name || !name[0])
		return -EINVAL;
	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
		if (strcasecmp(named[i].name, name) == 0)
			return named[i].key;
	if ((name[0] == 'f' || name[0] == 'F') && sscanf(name + 1, "%u%c", &n, &extra) == 1 &&
	    n >= 1 && n <= 12)
		return fkeys[n - 1];
	if (!name[1] && ((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= '0' && name[0] <= '9'))) {
		/* Only the main block: letters and top-row digits. */
		for (int key = KEY_1; key <= KEY_M; key++)
			if (evdev_us[key][0] == name[0])
				return key;
	}
	return -EINVAL;
}
