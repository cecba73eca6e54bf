/* evdev_dev.c: an input device on the loop (see evdev_dev.h).
 *
 * Shaped like the serial scanner (scanner.c): the io source is removed at once
 * on an unplug (ENODEV from read(), EPOLLHUP/EPOLLERR, or the end of a FIFO),
 * and a one-shot timer, created up front so that arming it cannot fail for lack
 * of memory, retries the open with a doubling backoff. Bytes are collected into
 * whole struct input_event records, so a FIFO that delivers a record in pieces
 * decodes as if it had come whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "evdev_dev.h"

#define EVDEV_BACKOFF_MIN_MS 250
#define EVDEV_BACKOFF_MAX_MS 5000

struct evdev_dev {
	sd_event *ev;
	char device[PATH_MAX];
	bool require_grab;
	struct evdev_dev_callbacks cb;
	void *userdata;
	int fd;
	sd_event_source *io;
	sd_event_source *retry;
	unsigned backoff_ms;
	enum { EVDEV_UNKNOWN, EVDEV_UP, EVDEV_DOWN } reported;
	int reported_err;
	size_t have; /* bytes of a partial record in rec */
	unsigned char rec[sizeof(struct input_event)];
};

static void evdev_report(struct evdev_dev *d, bool up, int err)
{
	if (d->reported == (up ? EVDEV_UP : EVDEV_DOWN) && d->reported_err == err)
		return;
	d->reported = up ? EVDEV_UP : EVDEV_DOWN;
	d->reported_err = err;
	if (d->cb.status)
		d->cb.status(up, err, d->device, d->userdata);
}

static void evdev_schedule(struct evdev_dev *d)
{
	uint64_t usec = (uint64_t)d->backoff_ms * 1000;

	d->backoff_ms =
	    d->backoff_ms * 2 > EVDEV_BACKOFF_MAX_MS ? EVDEV_BACKOFF_MAX_MS : d->backoff_ms * 2;
	/* If the timer cannot be armed the device stays down; nothing else to do. */
	if (sd_event_source_set_time_relative(d->retry, usec) >= 0)
		(void)sd_event_source_set_enabled(d->retry, SD_EVENT_ONESHOT);
}

static void evdev_disconnect(struct evdev_dev *d, int err)
{
	d->io = sd_event_source_disable_unref(d->io);
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	d->have = 0;
	evdev_report(d, false, err);
	evdev_schedule(d);
}

static void evdev_deliver(struct evdev_dev *d, const struct input_event *ie)
{
	uint64_t ms =
	    (uint64_t)ie->input_event_sec * 1000u + (uint64_t)ie->input_event_usec / 1000u;

	if (d->cb.event)
		d->cb.event(ie, ms, d->userdata);
}

static void evdev_bytes(struct evdev_dev *d, const unsigned char *p, size_t n)
{
	while (n) {
		size_t take = sizeof(d->rec) - d->have;

		if (take > n)
			take = n;
		memcpy(d->rec + d->have, p, take);
		d->have += take;
		p += take;
		n -= take;
		if (d->have == sizeof(d->rec)) {
			struct input_event ie;

			memcpy(&ie, d->rec, sizeof(ie));
			d->have = 0;
			evdev_deliver(d, &ie);
		}
	}
}

static int evdev_io(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct evdev_dev *d = userdata;
	unsigned char buf[64 * sizeof(struct input_event)];

	/* Read what is there even on a hangup: the last key may be in it. */
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n > 0) {
			evdev_bytes(d, buf, (size_t)n);
			continue;
		}
		if (n == 0) {
			evdev_disconnect(d, -ENODEV);
			return 0;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			break;
		evdev_disconnect(d, -errno);
		return 0;
	}
	if (revents & (EPOLLHUP | EPOLLERR))
		evdev_disconnect(d, -ENODEV);
	return 0;
}

/* One open attempt: 0, or negative errno (the caller retries later). */
static int evdev_try_open(struct evdev_dev *d)
{
	int clk = CLOCK_MONOTONIC;
	int fd, r, refused = 0;

	fd = open(d->device, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* Exclusive: a scanned code must not also be typed into a login prompt. */
	if (ioctl(fd, EVIOCGRAB, 1) < 0)
		refused = -errno;
	else if (ioctl(fd, EVIOCSCLOCKID, &clk) < 0)
		refused = -errno;
	if (refused && d->require_grab) {
		close(fd);
		return refused;
	}
	r = sd_event_add_io(d->ev, &d->io, fd, EPOLLIN, evdev_io, d);
	if (r < 0) {
		close(fd);
		return r;
	}
	d->fd = fd;
	d->have = 0;
	d->backoff_ms = EVDEV_BACKOFF_MIN_MS;
	evdev_report(d, true, refused);
	return 0;
}

static int evdev_retry(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct evdev_dev *d = userdata;
	int r = evdev_try_open(d);

	if (r < 0) {
		evdev_report(d, false, r);
		evdev_schedule(d);
	}
	return 0;
}

void evdev_dev_close(struct evdev_dev *d)
{
	if (!d)
		return;
	sd_event_source_disable_unref(d->io);
	sd_event_source_disable_unref(d->retry);
	if (d->fd >= 0) {
		/* Closing drops the grab too; saying so keeps the intent visible. */
		(void)ioctl(d->fd, EVIOCGRAB, 0);
		close(d->fd);
	}
	sd_event_unref(d->ev);
	free(d);
}

int evdev_dev_open(struct evdev_dev **out, sd_event *ev, const char *device, bool require_grab,
		   const struct evdev_dev_callbacks *cb, void *userdata)
{
	struct evdev_dev *d;
	int r;

	*out = NULL;
	if (!device || !device[0] || strlen(device) >= PATH_MAX)
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->fd = -1;
	d->ev = sd_event_ref(ev);
	d->cb = *cb;
	d->userdata = userdata;
	d->require_grab = require_grab;
	d->backoff_ms = EVDEV_BACKOFF_MIN_MS;
	snprintf(d->device, sizeof(d->device), "%s", device);
	r = sd_event_add_time(ev, &d->retry, CLOCK_MONOTONIC, UINT64_MAX, 1000, evdev_retry, d);
	if (r < 0)
		goto error;
	r = sd_event_source_set_enabled(d->retry, SD_EVENT_OFF);
	if (r < 0)
		goto error;
	r = evdev_try_open(d);
	if (r < 0) {
		/* Not plugged in yet: the same as unplugged later. */
		evdev_report(d, false, r);
		evdev_schedule(d);
	}
	*out = d;
	return 0;
error:
	evdev_dev_close(d);
	return r;
}
