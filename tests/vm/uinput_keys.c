/* uinput_keys.c: a USB keyboard made of software, for the evdev tests in the VM.
 *
 * Creates a keyboard through /dev/uinput, prints the /dev/input/eventN the
 * kernel gave it, then obeys one command per line on stdin:
 *   type TEXT   types TEXT as a US keyboard-wedge scanner does (Shift around
 *               capitals and shifted symbols), then Enter, a key every 2 ms
 *               (a scanner's pace: a full-speed burst would overrun the
 *               evdev reader's buffer on a slow guest, which is SYN_DROPPED's
 *               case, not this one)
 *   burst TEXT  the same as type, at full speed (to overrun a reader)
 *   key NAME    taps one key: enter, kpenter, kpminus, kpasterisk, kp0..kp9, a..z
 *   hold NAME   presses NAME, sends 5 auto-repeats, releases it
 *   grab        tries EVIOCGRAB on its own event device and prints "grab busy"
 *               (someone else holds the device exclusively) or "grab free"
 *   quit        destroys the device (an unplug) and exits; so does end of input
 * Each command answers "done" once its events are written, so a shell script
 * can wait for it.
 *
 * Test tool only: it writes what the kernel would get from a real keyboard
 * (EV_MSC/MSC_SCAN, EV_KEY, EV_SYN), nothing more.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/uinput.h>

static int ufd = -1;
static char event_path[300];

static void emit(uint16_t type, uint16_t code, int32_t value)
{
	struct input_event ie = {.type = type, .code = code, .value = value};

	if (write(ufd, &ie, sizeof(ie)) != (ssize_t)sizeof(ie)) {
		perror("uinput_keys: write");
		exit(1);
	}
}

static void press(uint16_t key, int32_t value)
{
	emit(EV_MSC, MSC_SCAN, 0x70000 + key);
	emit(EV_KEY, key, value);
	emit(EV_SYN, SYN_REPORT, 0);
}

static void tap(uint16_t key, int shift)
{
	if (shift)
		press(KEY_LEFTSHIFT, 1);
	press(key, 1);
	press(key, 0);
	if (shift)
		press(KEY_LEFTSHIFT, 0);
}

/* The US key of an ASCII character, and whether it needs Shift; 0 if none. */
static uint16_t key_of(char c, int *shift)
{
	static const char row_q[] = "qwertyuiop", row_a[] = "asdfghjkl", row_z[] = "zxcvbnm";
	static const char digits[] = "1234567890";
	const char *p;
	char lower = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;

	*shift = c >= 'A' && c <= 'Z';
	if ((p = strchr(row_q, lower)) && lower)
		return (uint16_t)(KEY_Q + (p - row_q));
	if ((p = strchr(row_a, lower)) && lower)
		return (uint16_t)(KEY_A + (p - row_a));
	if ((p = strchr(row_z, lower)) && lower)
		return (uint16_t)(KEY_Z + (p - row_z));
	if ((p = strchr(digits, c)) && c)
		return (uint16_t)(KEY_1 + (p - digits));
	switch (c) {
	case '-':
		return KEY_MINUS;
	case '.':
		return KEY_DOT;
	case '/':
		return KEY_SLASH;
	case ':':
		*shift = 1;
		return KEY_SEMICOLON;
	}
	return 0;
}

static uint16_t key_named(const char *name)
{
	int shift;

	if (!strcmp(name, "enter"))
		return KEY_ENTER;
	if (!strcmp(name, "kpenter"))
		return KEY_KPENTER;
	if (!strcmp(name, "kpminus"))
		return KEY_KPMINUS;
	if (!strcmp(name, "kpasterisk"))
		return KEY_KPASTERISK;
	if (!strncmp(name, "kp", 2) && name[2] >= '0' && name[2] <= '9' && !name[3]) {
		/* The keypad's key codes follow its rows, not the digits. */
		static const uint16_t kp[] = {KEY_KP0, KEY_KP1, KEY_KP2, KEY_KP3, KEY_KP4,
					      KEY_KP5, KEY_KP6, KEY_KP7, KEY_KP8, KEY_KP9};

		return kp[name[2] - '0'];
	}
	if (name[0] >= 'a' && name[0] <= 'z' && !name[1])
		return key_of(name[0], &shift);
	return 0;
}

static void create(const char *name)
{
	struct uinput_setup setup = {
	    .id = {.bustype = BUS_USB, .vendor = 0x1234, .product = 0x5678}};
	char sysname[64], dir[128];
	struct dirent *de;
	DIR *d;

	ufd = open("/dev/uinput", O_WRONLY | O_CLOEXEC);
	if (ufd < 0) {
		perror("uinput_keys: /dev/uinput");
		exit(1);
	}
	ioctl(ufd, UI_SET_EVBIT, EV_KEY);
	ioctl(ufd, UI_SET_EVBIT, EV_MSC);
	ioctl(ufd, UI_SET_MSCBIT, MSC_SCAN);
	for (int k = KEY_ESC; k <= KEY_KPDOT; k++)
		ioctl(ufd, UI_SET_KEYBIT, k);
	ioctl(ufd, UI_SET_KEYBIT, KEY_KPENTER);
	snprintf(setup.name, sizeof(setup.name), "%s", name);
	if (ioctl(ufd, UI_DEV_SETUP, &setup) < 0 || ioctl(ufd, UI_DEV_CREATE) < 0 ||
	    ioctl(ufd, UI_GET_SYSNAME(sizeof(sysname)), sysname) < 0) {
		perror("uinput_keys: create");
		exit(1);
	}
	snprintf(dir, sizeof(dir), "/sys/devices/virtual/input/%s", sysname);
	/* evdev binds the new input device to an eventN node; wait for it. */
	for (int tries = 0; tries < 200 && !event_path[0]; tries++) {
		d = opendir(dir);
		while (d && (de = readdir(d)))
			if (!strncmp(de->d_name, "event", 5))
				snprintf(event_path, sizeof(event_path), "/dev/input/%s",
					 de->d_name);
		if (d)
			closedir(d);
		if (!event_path[0] || access(event_path, R_OK) < 0) {
			event_path[0] = '\0';
			usleep(10000);
		}
	}
	if (!event_path[0]) {
		fprintf(stderr, "uinput_keys: no event node under %s\n", dir);
		exit(1);
	}
}

static void grab_probe(void)
{
	int fd = open(event_path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		printf("grab error %s\n", strerror(errno));
		return;
	}
	if (ioctl(fd, EVIOCGRAB, 1) == 0)
		printf("grab free\n");
	else
		printf(errno == EBUSY ? "grab busy\n" : "grab error %s\n", strerror(errno));
	close(fd);
}

int main(int argc, char **argv)
{
	char line[1024];

	setvbuf(stdout, NULL, _IOLBF, 0);
	create(argc > 1 ? argv[1] : "uinput-keys");
	printf("%s\n", event_path);
	while (fgets(line, sizeof(line), stdin)) {
		char *arg = strchr(line, ' ');

		line[strcspn(line, "\n")] = '\0';
		if (arg)
			*arg++ = '\0';
		if (!strcmp(line, "quit"))
			break;
		if ((!strcmp(line, "type") || !strcmp(line, "burst")) && arg) {
			for (const char *p = arg; *p; p++) {
				int shift;
				uint16_t key = key_of(*p, &shift);

				if (!key) {
					fprintf(stderr, "uinput_keys: cannot type '%c'\n", *p);
					return 1;
				}
				tap(key, shift);
				if (line[0] == 't')
					usleep(2000);
			}
			tap(KEY_ENTER, 0);
		} else if ((!strcmp(line, "key") || !strcmp(line, "hold")) && arg &&
			   key_named(arg)) {
			uint16_t key = key_named(arg);

			if (!strcmp(line, "key")) {
				tap(key, 0);
			} else {
				press(key, 1);
				for (int i = 0; i < 5; i++)
					press(key, 2);
				press(key, 0);
			}
		} else if (!strcmp(line, "grab")) {
			grab_probe();
		} else {
			fprintf(stderr, "uinput_keys: bad command '%s'\n", line);
			return 1;
		}
		printf("done\n");
	}
	ioctl(ufd, UI_DEV_DESTROY);
	close(ufd);
	return 0;
}
