/* qrdecode_engine.h: the decoding libraries behind qrdecode.c (internal).
 *
 * An engine reads one QR code out of one contiguous 8-bit grey image; the
 * cascade around it (downscaling, smoothing, contrast stretch, stopping at the
 * first read) is qrdecode.c's and the same for every engine. Each engine brings
 * its own tuned cascade, since the libraries differ in what they need: zbar
 * wants strong edges and a few hundred rows, zxing-cpp binarizes locally and
 * copes with smaller images. Engines do not log.
 */
#ifndef TS_QRDECODE_ENGINE_H
#define TS_QRDECODE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct qrdecode_step {
	unsigned scale;	  /* 1..4: the frame downscaled scale x scale (box average) */
	unsigned density; /* 1..4: zbar scans every density-th line; zxing-cpp tries
			   * harder (every line, more binarizations) at 1 only */
	bool smooth;	  /* scale 1: a 2x2 box filter (against sensor noise) */
	bool roi;	  /* only the region qrroi.c finds; skipped when it finds none */
};

struct qrdecode_engine_ops {
	const char *name;
	const struct qrdecode_step *cascade; /* the tuned cascade */
	size_t cascade_len;
	/* The cost cap: a region step that would scan more pixels is skipped
	 * (a region that large is texture, or a code big enough for a coarser step). */
	size_t roi_max_pixels;
	/* Not tuned: the library as it comes (every symbology); tuned: QR codes
	 * only. NULL when out of memory. */
	void *(*create)(bool tuned);
	void (*destroy)(void *ctx);
	/* One pass over a w x h image (stride w). As qrdecode_frame(): > 0 payload
	 * length, 0 nothing read, -E2BIG cut, -ENOMEM. */
	int (*scan)(void *ctx, const uint8_t *data, unsigned w, unsigned h, unsigned density,
		    char *out, size_t outlen);
};

extern const struct qrdecode_engine_ops qrdecode_zbar_ops;
#ifdef TS_HAVE_ZXING
extern const struct qrdecode_engine_ops qrdecode_zxing_ops;
#endif

/* Copies a payload of len bytes into out as qrdecode_frame() reports it. */
int qrdecode_engine_copy(const char *data, size_t len, char *out, size_t outlen);

#endif
