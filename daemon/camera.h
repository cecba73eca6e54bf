/* camera.h: frame sources, 8-bit grey frames delivered on the sd-event loop.
 *
 * One interface, two sources, picked by the config: "v4l2" captures from a
 * video device (GREY or YUYV, the luma plane taken as grey) and "files" plays
 * a directory of PGM images in name order at a given rate, once or in a loop
 * (tests, and replaying recorded footage). The source calls frame() with a
 * frame valid only during the call; the caller copies what it keeps. A device
 * that cannot be opened or disappears is reported through status() (on changes
 * only) and reopened with a backoff of 250 ms doubling to 5 s. The module does
 * not log.
 */
#ifndef TS_CAMERA_H
#define TS_CAMERA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

struct camera_frame {
	const uint8_t *data; /* 8-bit grey */
	unsigned width, height;
	size_t stride;
};

struct camera_callbacks {
	void (*frame)(const struct camera_frame *f, void *userdata);
	/* Opened (up, err 0), or lost / could not be opened (err: negative errno). */
	void (*status)(bool up, int err, const char *what, void *userdata);
	/* The files source played its last frame and does not loop. */
	void (*end)(void *userdata);
};

struct camera_config {
	const char *device;	/* v4l2 when set */
	const char *dir;	/* files otherwise */
	unsigned fps;		/* 1..120 */
	bool loop;		/* files: start over after the last frame */
	unsigned width, height; /* v4l2: the size asked for */
};

struct camera;

/* 0; -EINVAL for a bad config, -ENOMEM. A device or directory that is missing
 * is not an error here: it is reported through status() and retried. */
int camera_open(struct camera **out, sd_event *ev, const struct camera_config *cfg,
		const struct camera_callbacks *cb, void *userdata);
/* Accepts NULL. */
void camera_close(struct camera *c);
/* "v4l2" or "files". */
const char *camera_source_name(const struct camera *c);

/* Reads a binary PGM (P5, maxval 255) into a malloc'ed buffer (stride = width).
 * 0, -ENOENT etc. from open, -EINVAL for anything that is not such a PGM, -ENOMEM. */
int camera_pgm_load(const char *path, uint8_t **data, unsigned *width, unsigned *height);

#endif
