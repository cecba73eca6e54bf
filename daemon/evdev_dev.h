/* evdev_dev.h: one Linux input device (evdev) on the event loop, grabbed,
 * read event by event, and reopened after an unplug.
 *
 * The layer under the "hid" scanner source and the attendant's USB keypad. It
 * opens the device non-blocking, takes it exclusively (EVIOCGRAB: the keys no
 * longer reach a console or a desktop on the lane PC), asks for CLOCK_MONOTONIC
 * event times, and hands every struct input_event to a callback with its time
 * in milliseconds. A device that is missing, unplugged, or grabbed by another
 * program is retried with a backoff of 250 ms doubling to 5 s; status is
 * reported on changes only. Never logs.
 *
 * require_grab false lets a FIFO of recorded struct input_event stand in for
 * the device (tests, replays): a device that refuses the grab or the clock is
 * then read as is and reported connected with the error of the refusal, and
 * the stream's own times are taken as CLOCK_MONOTONIC. The end of such a stream
 * (read() == 0) counts as an unplug.
 */
#ifndef TS_EVDEV_DEV_H
#define TS_EVDEV_DEV_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/input.h>
#include <systemd/sd-event.h>

struct evdev_dev;

struct evdev_dev_callbacks {
	/* One event; ms: its time on CLOCK_MONOTONIC. */
	void (*event)(const struct input_event *ev, uint64_t ms, void *userdata);
	/* connected: the device is open (err 0: grabbed; err < 0: read without a
	 * grab, require_grab being off). !connected: lost or cannot be opened. */
	void (*status)(bool connected, int err, const char *device, void *userdata);
};

/* 0, -EINVAL (empty device path), -ENOMEM; a missing device is not an error. */
int evdev_dev_open(struct evdev_dev **out, sd_event *ev, const char *device, bool require_grab,
		   const struct evdev_dev_callbacks *cb, void *userdata);
/* Releases the grab and closes. Accepts NULL. */
void evdev_dev_close(struct evdev_dev *d);

#endif
