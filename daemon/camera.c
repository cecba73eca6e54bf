/* camera.c: the v4l2 and files frame sources behind one small ops table.
 *
 * Both sources share the reconnect machinery: try_open() either starts the
 * source or fails with a negative errno, and then a one-shot retry timer with a
 * backoff of 250 ms doubling to 5 s tries again; status() is called on changes
 * only, so a camera that stays away is reported once.
 *
 * files: the directory is listed (*.pgm, name order) at open; a timer at 1/fps
 * loads and delivers the next image. A missing directory, an empty one or an
 * unreadable image counts as the device being lost. Not looping, the source
 * calls end() after the last frame and stops.
 *
 * v4l2: the device is opened non-blocking, asked for GREY and else YUYV at the
 * configured size, four mmap buffers are queued and streaming starts; the fd
 * sits on the loop and each dequeued buffer is delivered (YUYV: the luma bytes
 * are gathered into a grey buffer) and queued again. Any error from DQBUF other
 * than EAGAIN, or EPOLLERR/EPOLLHUP (an unplugged USB camera), tears the
 * stream down and retries. The loop never waits on the camera.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/videodev2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "camera.h"

#define CAMERA_BACKOFF_MIN_MS 250
#define CAMERA_BACKOFF_MAX_MS 5000
#define CAMERA_V4L2_BUFFERS 4
#define CAMERA_PGM_MAX_SIDE 8192

struct camera;

struct camera_source {
	const char *name;
	int (*try_open)(struct camera *c);
	void (*stop)(struct camera *c);
};

struct camera {
	const struct camera_source *source;
	sd_event *ev;
	struct camera_callbacks cb;
	void *userdata;
	char what[PATH_MAX];
	unsigned fps, width, height;
	bool loop;
	sd_event_source *retry;
	unsigned backoff_ms;
	enum { CAMERA_UNKNOWN, CAMERA_UP, CAMERA_DOWN } reported;
	/* files */
	sd_event_source *tick;
	char **names;
	size_t count, next;
	/* v4l2 */
	int fd;
	sd_event_source *io;
	uint32_t pixfmt;
	size_t bytesperline;
	struct {
		void *p;
		size_t len;
	} bufs[CAMERA_V4L2_BUFFERS];
	unsigned nbufs;
	uint8_t *grey;
};

int camera_pgm_load(const char *path, uint8_t **data, unsigned *width, unsigned *height)
{
	unsigned v[3];
	FILE *f;
	uint8_t *p = NULL;
	int c, r = -EINVAL;

	f = fopen(path, "rbe");
	if (!f)
		return -errno;
	if (fgetc(f) != 'P' || fgetc(f) != '5')
		goto out;
	for (int i = 0; i < 3; i++) {
		/* whitespace and # comments between the header fields */
		do {
			c = fgetc(f);
			if (c == '#')
				while (c != '\n' && c != EOF)
					c = fgetc(f);
		} while (c == ' ' || c == '\t' || c == '\n' || c == '\r');
		if (c < '0' || c > '9')
			goto out;
		v[i] = 0;
		for (; c >= '0' && c <= '9'; c = fgetc(f)) {
			if (v[i] > 100000)
				goto out;
			v[i] = v[i] * 10 + (unsigned)(c - '0');
		}
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			goto out;
	}
	if (v[0] < 1 || v[1] < 1 || v[0] > CAMERA_PGM_MAX_SIDE || v[1] > CAMERA_PGM_MAX_SIDE ||
	    v[2] != 255)
		goto out;
	p = malloc((size_t)v[0] * v[1]);
	if (!p) {
		r = -ENOMEM;
		goto out;
	}
	if (fread(p, 1, (size_t)v[0] * v[1], f) != (size_t)v[0] * v[1]) {
		free(p);
		goto out;
	}
	*data = p;
	*width = v[0];
	*height = v[1];
	r = 0;
out:
	fclose(f);
	return r;
}

static void camera_report(struct camera *c, bool up, int err)
{
	if (c->reported == (up ? CAMERA_UP : CAMERA_DOWN))
		return;
	c->reported = up ? CAMERA_UP : CAMERA_DOWN;
	if (c->cb.status)
		c->cb.status(up, err, c->what, c->userdata);
}

static void camera_schedule(struct camera *c)
{
	uint64_t usec = (uint64_t)c->backoff_ms * 1000;

	if (c->backoff_ms < CAMERA_BACKOFF_MAX_MS)
		c->backoff_ms = c->backoff_ms * 2 > CAMERA_BACKOFF_MAX_MS ? CAMERA_BACKOFF_MAX_MS
									  : c->backoff_ms * 2;
	if (sd_event_source_set_time_relative(c->retry, usec) >= 0)
		(void)sd_event_source_set_enabled(c->retry, SD_EVENT_ONESHOT);
}

static void camera_lost(struct camera *c, int err)
{
	c->source->stop(c);
	camera_report(c, false, err);
	camera_schedule(c);
}

static int camera_start(struct camera *c)
{
	int r = c->source->try_open(c);

	if (r < 0) {
		c->source->stop(c);
		camera_report(c, false, r);
		camera_schedule(c);
		return r;
	}
	c->backoff_ms = CAMERA_BACKOFF_MIN_MS;
	camera_report(c, true, 0);
	return 0;
}

static int camera_retry(sd_event_source *src, uint64_t usec, void *userdata)
{
	(void)camera_start(userdata);
	return 0;
}

/* files */

static void files_free_names(struct camera *c)
{
	for (size_t i = 0; i < c->count; i++)
		free(c->names[i]);
	free(c->names);
	c->names = NULL;
	c->count = c->next = 0;
}

static void files_stop(struct camera *c)
{
	c->tick = sd_event_source_disable_unref(c->tick);
	files_free_names(c);
}

static int files_tick(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct camera *c = userdata;
	char path[PATH_MAX * 2];
	struct camera_frame f;
	uint8_t *data;
	int r;

	if (c->next >= c->count) {
		if (!c->loop) {
			files_stop(c);
			if (c->cb.end)
				c->cb.end(c->userdata);
			return 0;
		}
		c->next = 0;
	}
	snprintf(path, sizeof(path), "%s/%s", c->what, c->names[c->next++]);
	r = camera_pgm_load(path, &data, &f.width, &f.height);
	if (r < 0) {
		camera_lost(c, r);
		return 0;
	}
	f.data = data;
	f.stride = f.width;
	(void)sd_event_source_set_time(c->tick, usec + 1000000 / c->fps);
	if (c->cb.frame)
		c->cb.frame(&f, c->userdata);
	free(data);
	return 0;
}

static int files_filter(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] != '.' && n > 4 && strcmp(d->d_name + n - 4, ".pgm") == 0;
}

static int files_open(struct camera *c)
{
	struct dirent **list;
	int n, r;

	n = scandir(c->what, &list, files_filter, alphasort);
	if (n < 0)
		return -errno;
	c->names = calloc(n ? (size_t)n : 1, sizeof(*c->names));
	for (int i = 0; i < n; i++) {
		if (c->names && (c->names[i] = strdup(list[i]->d_name)))
			c->count++;
		free(list[i]);
	}
	free(list);
	if (!c->names || c->count != (size_t)n)
		return -ENOMEM;
	if (n == 0)
		return -ENOENT;
	r = sd_event_add_time_relative(c->ev, &c->tick, CLOCK_MONOTONIC, 0, 1000, files_tick, c);
	if (r < 0)
		return r;
	return sd_event_source_set_enabled(c->tick, SD_EVENT_ON);
}

/* v4l2 */

static int v4l2_ioctl(int fd, unsigned long req, void *arg)
{
	int r;

	do
		r = ioctl(fd, req, arg);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : 0;
}

static void v4l2_stop(struct camera *c)
{
	c->io = sd_event_source_disable_unref(c->io);
	if (c->fd >= 0) {
		enum v4l2_buf_type type = V4L2_BUF_TYPE_VIDEO_CAPTURE;

		(void)v4l2_ioctl(c->fd, VIDIOC_STREAMOFF, &type);
	}
	for (unsigned i = 0; i < c->nbufs; i++)
		munmap(c->bufs[i].p, c->bufs[i].len);
	c->nbufs = 0;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->grey);
	c->grey = NULL;
}

static int v4l2_io(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct camera *c = userdata;
	struct v4l2_buffer b = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE, .memory = V4L2_MEMORY_MMAP};
	struct camera_frame f = {.width = c->width, .height = c->height};
	int r;

	if (revents & (EPOLLERR | EPOLLHUP)) {
		camera_lost(c, -ENODEV);
		return 0;
	}
	r = v4l2_ioctl(fd, VIDIOC_DQBUF, &b);
	if (r == -EAGAIN)
		return 0;
	if (r < 0 || b.index >= c->nbufs) {
		camera_lost(c, r < 0 ? r : -EIO);
		return 0;
	}
	if (c->pixfmt == V4L2_PIX_FMT_GREY) {
		f.data = c->bufs[b.index].p;
		f.stride = c->bytesperline;
	} else {
		const uint8_t *s = c->bufs[b.index].p;

		for (unsigned y = 0; y < c->height; y++)
			for (unsigned x = 0; x < c->width; x++)
				c->grey[(size_t)y * c->width + x] = s[y * c->bytesperline + 2 * x];
		f.data = c->grey;
		f.stride = c->width;
	}
	if (b.bytesused >= f.stride * (c->height - 1) + c->width && c->cb.frame)
		c->cb.frame(&f, c->userdata);
	r = v4l2_ioctl(fd, VIDIOC_QBUF, &b);
	if (r < 0)
		camera_lost(c, r);
	return 0;
}

static int v4l2_open(struct camera *c)
{
	struct v4l2_capability cap;
	struct v4l2_format fmt = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE};
	struct v4l2_requestbuffers req = {.count = CAMERA_V4L2_BUFFERS,
					  .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
					  .memory = V4L2_MEMORY_MMAP};
	enum v4l2_buf_type type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	int r;

	c->fd = open(c->what, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (c->fd < 0)
		return -errno;
	r = v4l2_ioctl(c->fd, VIDIOC_QUERYCAP, &cap);
	if (r < 0)
		return r;
	if (!(cap.capabilities & V4L2_CAP_VIDEO_CAPTURE) ||
	    !(cap.capabilities & V4L2_CAP_STREAMING))
		return -ENODEV;
	fmt.fmt.pix.width = c->width;
	fmt.fmt.pix.height = c->height;
	fmt.fmt.pix.field = V4L2_FIELD_NONE;
	fmt.fmt.pix.pixelformat = V4L2_PIX_FMT_GREY;
	r = v4l2_ioctl(c->fd, VIDIOC_S_FMT, &fmt);
	if (r < 0 || fmt.fmt.pix.pixelformat != V4L2_PIX_FMT_GREY) {
		fmt.fmt.pix.pixelformat = V4L2_PIX_FMT_YUYV;
		r = v4l2_ioctl(c->fd, VIDIOC_S_FMT, &fmt);
		if (r < 0)
			return r;
		if (fmt.fmt.pix.pixelformat != V4L2_PIX_FMT_YUYV)
			return -EPROTONOSUPPORT;
	}
	c->pixfmt = fmt.fmt.pix.pixelformat;
	c->width = fmt.fmt.pix.width;
	c->height = fmt.fmt.pix.height;
	c->bytesperline = fmt.fmt.pix.bytesperline;
	if (c->width < 8 || c->height < 8 ||
	    c->bytesperline < c->width * (c->pixfmt == V4L2_PIX_FMT_YUYV ? 2 : 1))
		return -EPROTO;
	if (c->pixfmt == V4L2_PIX_FMT_YUYV) {
		c->grey = malloc((size_t)c->width * c->height);
		if (!c->grey)
			return -ENOMEM;
	}
	r = v4l2_ioctl(c->fd, VIDIOC_REQBUFS, &req);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < req.count && i < CAMERA_V4L2_BUFFERS; i++) {
		struct v4l2_buffer b = {
		    .type = V4L2_BUF_TYPE_VIDEO_CAPTURE, .memory = V4L2_MEMORY_MMAP, .index = i};

		r = v4l2_ioctl(c->fd, VIDIOC_QUERYBUF, &b);
		if (r < 0)
			return r;
		c->bufs[i].p =
		    mmap(NULL, b.length, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, b.m.offset);
		if (c->bufs[i].p == MAP_FAILED)
			return -errno;
		c->bufs[i].len = b.length;
		c->nbufs++;
		r = v4l2_ioctl(c->fd, VIDIOC_QBUF, &b);
		if (r < 0)
			return r;
	}
	if (c->nbufs == 0)
		return -ENOMEM;
	r = v4l2_ioctl(c->fd, VIDIOC_STREAMON, &type);
	if (r < 0)
		return r;
	return sd_event_add_io(c->ev, &c->io, c->fd, EPOLLIN, v4l2_io, c);
}

static const struct camera_source camera_sources[] = {
    {.name = "v4l2", .try_open = v4l2_open, .stop = v4l2_stop},
    {.name = "files", .try_open = files_open, .stop = files_stop},
};

void camera_close(struct camera *c)
{
	if (!c)
		return;
	if (c->source)
		c->source->stop(c);
	sd_event_source_disable_unref(c->retry);
	sd_event_unref(c->ev);
	free(c);
}

int camera_open(struct camera **out, sd_event *ev, const struct camera_config *cfg,
		const struct camera_callbacks *cb, void *userdata)
{
	const char *what = cfg->device && cfg->device[0] ? cfg->device : cfg->dir;
	struct camera *c;
	int r;

	*out = NULL;
	if (!what || !what[0] || strlen(what) >= PATH_MAX || cfg->fps < 1 || cfg->fps > 120)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fd = -1;
	c->ev = sd_event_ref(ev);
	c->cb = *cb;
	c->userdata = userdata;
	c->fps = cfg->fps;
	c->loop = cfg->loop;
	c->width = cfg->width ? cfg->width : 1280;
	c->height = cfg->height ? cfg->height : 720;
	c->backoff_ms = CAMERA_BACKOFF_MIN_MS;
	snprintf(c->what, sizeof(c->what), "%s", what);
	c->source = &camera_sources[cfg->device && cfg->device[0] ? 0 : 1];
	r = sd_event_add_time(ev, &c->retry, CLOCK_MONOTONIC, UINT64_MAX, 1000, camera_retry, c);
	if (r < 0)
		goto error;
	r = sd_event_source_set_enabled(c->retry, SD_EVENT_OFF);
	if (r < 0)
		goto error;
	(void)camera_start(c);
	*out = c;
	return 0;
error:
	camera_close(c);
	return r;
}

const char *camera_source_name(const struct camera *c)
{
	return c->source->name;
}
