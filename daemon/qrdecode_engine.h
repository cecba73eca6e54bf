/* qrdecode_engine.h: the decoding libraries behind qrdecode.c (internal).
 *
 * An engine reads one QR code out of one contiguous 8-bit grey image; the
 * cascade around it (downscaling, smoothing, contrast stretch, stopping at the
 * first read) is qrdecode.c's and the same for every engine. Each engine brings
 * its own tuned cascade, since the libraries differ in what they need: zbar
 * wants strong edges and a few hundred rows, zxing-cpp binarizes locally and
 * copes with smaller images. Engines do not log.
 *
 * Neither library is linked into the daemon (issue 2: an idle daemon without
 * a camera maps none of them): qrdecode.c loads an engine when a decoder is
 * first created with it.
 */
#ifndef TS_QRDECODE_ENGINE_H
#define TS_QRDECODE_ENGINE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

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

/* zbar: in the daemon, its library loaded by zbar_lazy.c. */
extern const struct qrdecode_engine_ops qrdecode_zbar_ops;
/* zxing-cpp: the only symbol of the module TS_ZXING_MODULE, which qrdecode.c
 * loads from the executable's directory. */
extern const struct qrdecode_engine_ops qrdecode_zxing_ops;

/* Copies a payload of len bytes into out as qrdecode_frame() reports it.
 * Inline: the zxing module takes nothing from the executable. */
static inline int qrdecode_engine_copy(const char *data, size_t len, char *out, size_t outlen)
{
	if (len >= outlen) {
		memcpy(out, data, outlen - 1);
		out[outlen - 1] = '\0';
		return -E2BIG;
	}
	memcpy(out, data, len);
	out[len] = '\0';
	return (int)len;
}

#endif
