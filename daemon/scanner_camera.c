/* scanner_camera.c: the "camera" scanner source: frames -> QR decoder -> codes.
 *
 * The camera (camera.c) delivers frames on the loop; each is offered to the
 * decoder worker (qrdecode.c), which takes it only when idle, so at most one
 * frame is in flight and the loop never waits. Decoded payloads come back
 * through the worker's pipe and are held to the same rules as a serial line
 * (printable ASCII, at most scanner_max_len) before they reach the lane, which
 * applies its duplicate suppression and classification as for any scanner: a
 * code held under the camera is seen in every frame and must be one scan.
 * The camera's comings and goings are passed to the status callback. Opening
 * the source loads the decoder's library (qrdecode.h), so only a daemon with a
 * camera lane maps it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "camera.h"
#include "log.h"
#include "qrdecode.h"
#include "scanner_camera.h"

#define STR_(x) #x
#define STR(x) STR_(x)

struct scanner_camera {
	struct camera *cam;
	struct qrdecode_worker *worker;
	sd_event_source *io;
	struct scanner_callbacks cb;
	void *userdata;
	size_t max_len;
};

static void scanner_camera_frame(const struct camera_frame *f, void *userdata)
{
	struct scanner_camera *s = userdata;
	struct qrdecode_frame qf = {
	    .data = f->data, .width = f->width, .height = f->height, .stride = f->stride};

	/* -EBUSY: the decoder is still on an older frame; this one is dropped. */
	(void)qrdecode_worker_submit(s->worker, &qf);
}

static void scanner_camera_status(bool up, int err, const char *what, void *userdata)
{
	struct scanner_camera *s = userdata;

	if (s->cb.status)
		s->cb.status(up, err, what, s->userdata);
}

static int scanner_camera_io(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct scanner_camera *s = userdata;
	char buf[QRDECODE_MAX_LEN + 1], why[96];
	int n;

	while ((n = qrdecode_worker_result(s->worker, buf, sizeof(buf))) > 0 || n == -E2BIG) {
		bool printable = true;

		if (n == -E2BIG) {
			if (s->cb.rejected)
				s->cb.rejected(
				    "QR code too long (over " STR(QRDECODE_MAX_LEN) " bytes)",
				    s->userdata);
			continue;
		}

		for (int i = 0; i < n; i++)
			if (buf[i] < 0x20 || buf[i] > 0x7e)
				printable = false;
		if ((size_t)n > s->max_len)
			snprintf(why, sizeof(why), "QR code too long (%d bytes, at most %zu)", n,
				 s->max_len);
		else if (!printable)
			snprintf(why, sizeof(why), "QR code not printable ASCII (%d bytes)", n);
		if ((size_t)n > s->max_len || !printable) {
			if (s->cb.rejected)
				s->cb.rejected(why, s->userdata);
			continue;
		}
		if (s->cb.code)
			s->cb.code(buf, (size_t)n, s->userdata);
	}
	return 0;
}

void scanner_camera_close(void *ctx)
{
	struct scanner_camera *s = ctx;

	if (!s)
		return;
	camera_close(s->cam);
	sd_event_source_disable_unref(s->io);
	qrdecode_worker_free(s->worker);
	free(s);
}

int scanner_camera_open(void **ctx, sd_event *ev, const struct config_lane *lane,
			const struct scanner_callbacks *cb, void *userdata)
{
	static const struct camera_callbacks cam_cb = {
	    .frame = scanner_camera_frame,
	    .status = scanner_camera_status,
	};
	struct camera_config cc = {.device = lane->camera_device,
				   .dir = lane->camera_dir,
				   .fps = lane->camera_fps,
				   .loop = lane->camera_loop};
	const char *engine = lane->camera_decoder == CONFIG_DECODER_ZXING ? "zxing" : "zbar";
	const char *why;
	struct scanner_camera *s;
	int r;

	if (!lane->camera_device[0] == !lane->camera_dir[0])
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->cb = *cb;
	s->userdata = userdata;
	s->max_len = lane->scanner_max_len;
	/* The decoder's library is loaded here, for camera lanes only. When it
	 * cannot be, the lane is not set up and the daemon does not start: the
	 * reason is said here, since the caller's error (ELIBACC) cannot name it. */
	r = qrdecode_engine_load(engine, &why);
	if (r < 0) {
		log_warnx("lane %s: camera_decoder = %s cannot be loaded: %s", lane->name, engine,
			  why);
		goto error;
	}
	r = qrdecode_worker_new(&s->worker, engine, QRDECODE_TUNED);
	if (r < 0)
		goto error;
	r = sd_event_add_io(ev, &s->io, qrdecode_worker_fd(s->worker), EPOLLIN, scanner_camera_io,
			    s);
	if (r < 0)
		goto error;
	r = camera_open(&s->cam, ev, &cc, &cam_cb, s);
	if (r < 0)
		goto error;
	*ctx = s;
	return 0;
error:
	scanner_camera_close(s);
	return r;
}
