/* scanner.c: scanner sources behind one ops table, and the serial source.
 *
 * scanner_open() maps the lane's `scanner` key to a source name and finds the
 * source in scanner_sources[]; each source owns its device and turns bytes into
 * calls of the lane's callbacks. The framing is scanline.c's, so every source
 * that delivers bytes frames codes the same way.
 *
 * Serial: the device is opened non-blocking and raw. Unplugging shows up as
 * read() == 0, EIO/ENXIO/ENODEV, or EPOLLHUP/EPOLLERR; then the io source is
 * removed at once (a pty whose other side is gone reports EPOLLHUP forever, so
 * keeping the source would spin the loop), the partial line is dropped, and a
 * one-shot timer retries the open with a backoff of 250 ms doubling to 5 s. A
 * device missing at start is handled the same way. Status is reported on
 * changes only, so a scanner that stays unplugged is reported once.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "scanline.h"
#include "scanner_camera.h"
#include "scanner_hid.h"
#include "scanner.h"

#define SCANNER_BACKOFF_MIN_MS 250
#define SCANNER_BACKOFF_MAX_MS 5000

struct scanner_source {
	const char *name;
	int (*open)(void **ctx, sd_event *ev, const struct config_lane *lane,
		    const struct scanner_callbacks *cb, void *userdata);
	void (*close)(void *ctx);
};

struct scanner {
	const struct scanner_source *source;
	void *ctx;
};

struct serial {
	sd_event *ev;
	char device[PATH_MAX];
	speed_t speed;
	struct scanner_callbacks cb;
	void *userdata;
	int fd;
	sd_event_source *io;
	sd_event_source *retry;
	unsigned backoff_ms;
	enum { SERIAL_UNKNOWN, SERIAL_UP, SERIAL_DOWN } reported;
	struct scanline line;
};

static int serial_speed(uint32_t baud, speed_t *out)
{
	static const struct {
		uint32_t baud;
		speed_t speed;
	} speeds[] = {
	    {1200, B1200},     {1800, B1800},	  {2400, B2400},     {4800, B4800},
	    {9600, B9600},     {19200, B19200},	  {38400, B38400},   {57600, B57600},
	    {115200, B115200}, {230400, B230400}, {460800, B460800}, {500000, B500000},
	    {576000, B576000}, {921600, B921600},
	};

	for (size_t i = 0; i < sizeof(speeds) / sizeof(speeds[0]); i++) {
		if (speeds[i].baud == baud) {
			*out = speeds[i].speed;
			return 0;
		}
	}
	return -EINVAL;
}

static void serial_report(struct serial *s, bool up, int err)
{
	if (s->reported == (up ? SERIAL_UP : SERIAL_DOWN))
		return;
	s->reported = up ? SERIAL_UP : SERIAL_DOWN;
	if (s->cb.status)
		s->cb.status(up, err, s->device, s->userdata);
}

static void serial_line(const struct scanline_event *ev, void *userdata)
{
	struct serial *s = userdata;
	char why[96];

	if (ev->kind == SCANLINE_CODE) {
		if (s->cb.code)
			s->cb.code(ev->code, ev->len, s->userdata);
		return;
	}
	if (ev->kind == SCANLINE_TOO_LONG)
		snprintf(why, sizeof(why), "too long (%s%zu bytes, at most %zu)",
			 ev->len == SIZE_MAX ? "over " : "", ev->len, s->line.max_len);
	else
		snprintf(why, sizeof(why), "not printable ASCII (%zu bytes)", ev->len);
	if (s->cb.rejected)
		s->cb.rejected(why, s->userdata);
}

static void serial_schedule(struct serial *s)
{
	uint64_t usec = (uint64_t)s->backoff_ms * 1000;

	if (s->backoff_ms < SCANNER_BACKOFF_MAX_MS)
		s->backoff_ms = s->backoff_ms * 2 > SCANNER_BACKOFF_MAX_MS ? SCANNER_BACKOFF_MAX_MS
									   : s->backoff_ms * 2;
	/* If the timer cannot be armed the scanner stays down; nothing else to do. */
	if (sd_event_source_set_time_relative(s->retry, usec) >= 0)
		(void)sd_event_source_set_enabled(s->retry, SD_EVENT_ONESHOT);
}

static void serial_disconnect(struct serial *s, int err)
{
	s->io = sd_event_source_disable_unref(s->io);
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	scanline_reset(&s->line);
	serial_report(s, false, err);
	serial_schedule(s);
}

static int serial_io(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct serial *s = userdata;
	char buf[512];

	/* Read what is there even on a hangup: the last code may be in it. */
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n > 0) {
			scanline_feed(&s->line, buf, (size_t)n, serial_line, s);
			continue;
		}
		if (n == 0) {
			serial_disconnect(s, -ENODEV);
			return 0;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			break;
		serial_disconnect(s, -errno);
		return 0;
	}
	if (revents & (EPOLLHUP | EPOLLERR))
		serial_disconnect(s, -ENODEV);
	return 0;
}

/* One open attempt: 0, or negative errno (the caller retries later). */
static int serial_try_open(struct serial *s)
{
	struct termios tio;
	int fd, r;

	fd = open(s->device, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* Not a tty (a FIFO in tests), or a pty that refuses a setting: read it as is. */
	if (tcgetattr(fd, &tio) == 0) {
		cfmakeraw(&tio);
		tio.c_cflag |= CLOCAL | CREAD;
		tio.c_cc[VMIN] = 1;
		tio.c_cc[VTIME] = 0;
		cfsetispeed(&tio, s->speed);
		cfsetospeed(&tio, s->speed);
		(void)tcsetattr(fd, TCSANOW, &tio);
	}
	r = sd_event_add_io(s->ev, &s->io, fd, EPOLLIN, serial_io, s);
	if (r < 0) {
		close(fd);
		return r;
	}
	s->fd = fd;
	s->backoff_ms = SCANNER_BACKOFF_MIN_MS;
	scanline_reset(&s->line);
	serial_report(s, true, 0);
	return 0;
}

static int serial_retry(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct serial *s = userdata;
	int r = serial_try_open(s);

	if (r < 0) {
		serial_report(s, false, r);
		serial_schedule(s);
	}
	return 0;
}

static void serial_close(void *ctx)
{
	struct serial *s = ctx;

	if (!s)
		return;
	sd_event_source_disable_unref(s->io);
	sd_event_source_disable_unref(s->retry);
	if (s->fd >= 0)
		close(s->fd);
	sd_event_unref(s->ev);
	free(s);
}

static int serial_open(void **ctx, sd_event *ev, const struct config_lane *lane,
		       const struct scanner_callbacks *cb, void *userdata)
{
	enum scanline_eol eol = lane->scanner_eol == CONFIG_EOL_CR   ? SCANLINE_EOL_CR
				: lane->scanner_eol == CONFIG_EOL_LF ? SCANLINE_EOL_LF
								     : SCANLINE_EOL_ANY;
	struct serial *s;
	int r;

	if (!lane->scanner_device[0])
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fd = -1;
	s->ev = sd_event_ref(ev);
	s->cb = *cb;
	s->userdata = userdata;
	s->backoff_ms = SCANNER_BACKOFF_MIN_MS;
	snprintf(s->device, sizeof(s->device), "%s", lane->scanner_device);
	r = serial_speed(lane->scanner_baud, &s->speed);
	if (r < 0)
		goto error;
	r = scanline_init(&s->line, eol, lane->scanner_max_len);
	if (r < 0)
		goto error;
	/* The retry timer exists from the start so that arming it later cannot fail
	 * for lack of memory; it is off until a disconnect. */
	r = sd_event_add_time(ev, &s->retry, CLOCK_MONOTONIC, UINT64_MAX, 1000, serial_retry, s);
	if (r < 0)
		goto error;
	r = sd_event_source_set_enabled(s->retry, SD_EVENT_OFF);
	if (r < 0)
		goto error;
	r = serial_try_open(s);
	if (r < 0) {
		/* Not plugged in yet: the same as unplugged later. */
		serial_report(s, false, r);
		serial_schedule(s);
	}
	*ctx = s;
	return 0;
error:
	serial_close(s);
	return r;
}

static const struct scanner_source scanner_sources[] = {
    {.name = "serial", .open = serial_open, .close = serial_close},
    {.name = "hid", .open = scanner_hid_open, .close = scanner_hid_close},
#ifdef TS_HAVE_CAMERA
    {.name = "camera", .open = scanner_camera_open, .close = scanner_camera_close},
#endif
};

static const struct scanner_source *scanner_source_find(const char *name)
{
	for (size_t i = 0; i < sizeof(scanner_sources) / sizeof(scanner_sources[0]); i++)
		if (strcmp(scanner_sources[i].name, name) == 0)
			return &scanner_sources[i];
	return NULL;
}

int scanner_open(struct scanner **out, sd_event *ev, const struct config_lane *lane,
		 const struct scanner_callbacks *cb, void *userdata)
{
	const struct scanner_source *source;
	struct scanner *s;
	int r;

	*out = NULL;
	switch (lane->scanner) {
	case CONFIG_SCANNER_NONE:
		return 0;
	case CONFIG_SCANNER_SERIAL:
		source = scanner_source_find("serial");
		break;
	case CONFIG_SCANNER_CAMERA:
		source = scanner_source_find("camera");
		break;
	case CONFIG_SCANNER_HID:
		source = scanner_source_find("hid");
		break;
	default:
		source = NULL;
		break;
	}
	if (!source)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->source = source;
	r = source->open(&s->ctx, ev, lane, cb, userdata);
	if (r < 0) {
		free(s);
		return r;
	}
	*out = s;
	return 0;
}

void scanner_close(struct scanner *s)
{
	if (!s)
		return;
	s->source->close(s->ctx);
	free(s);
}

const char *scanner_name(const struct scanner *s)
{
	return s->source->name;
}
