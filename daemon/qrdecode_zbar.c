/* qrdecode_zbar.c: the zbar engine.
 *
 * Tuned mode enables only ZBAR_QRCODE: the 1-D decoders cost time on every
 * scan line and read phantom barcodes out of stripes and textures. Position
 * tracking is off. The zbar_image is only a wrapper around the caller's
 * buffer, created per pass (cheap next to the scan itself).
 */
#include <errno.h>
#include <stdlib.h>
#include <zbar.h>

#include "qrdecode_engine.h"

struct qrdecode_zbar {
	bool tuned;
	zbar_image_scanner_t *scanner;
};

/* Cheap passes first, every pass bounded. zbar costs about 30 ns a pixel
 * here, so a full-size pass over a 1280x720 frame (about 30 ms) made the p99
 * four times the target. Instead all three steps scan only the region where a
 * code may be (qrroi.h): downscaled 3x3 (large codes; averaging beats sensor
 * noise), then 2x2, then full size through a 2x2 box filter for small codes
 * (unfiltered, zbar's edge detector trips over noise: 64 % against 97 % read
 * at 720p). A frame with no such region costs only the search (about 0.5 ms);
 * the region's own contrast stretch reads more than the whole frame's did
 * (2x2: 92 % against 87 % at 720p). The cap skips full-size passes over
 * regions of more than 180 k pixels (about 5 ms): such a region is texture,
 * or a code large enough for the downscaled steps. What it gives up: a code
 * outside the largest textured region is not read. */
static const struct qrdecode_step qrdecode_zbar_cascade[] = {
    {.scale = 3, .density = 1, .roi = true},
    {.scale = 2, .density = 1, .roi = true},
    {.scale = 1, .density = 1, .smooth = true, .roi = true},
};

static void *qrdecode_zbar_create(bool tuned)
{
	struct qrdecode_zbar *z = calloc(1, sizeof(*z));

	if (!z)
		return NULL;
	z->tuned = tuned;
	z->scanner = zbar_image_scanner_create();
	if (!z->scanner) {
		free(z);
		return NULL;
	}
	if (tuned) {
		zbar_image_scanner_set_config(z->scanner, ZBAR_NONE, ZBAR_CFG_ENABLE, 0);
		zbar_image_scanner_set_config(z->scanner, ZBAR_QRCODE, ZBAR_CFG_ENABLE, 1);
		zbar_image_scanner_set_config(z->scanner, ZBAR_NONE, ZBAR_CFG_POSITION, 0);
	}
	return z;
}

static void qrdecode_zbar_destroy(void *ctx)
{
	struct qrdecode_zbar *z = ctx;

	if (!z)
		return;
	zbar_image_scanner_destroy(z->scanner);
	free(z);
}

static int qrdecode_zbar_scan(void *ctx, const uint8_t *data, unsigned w, unsigned h,
			      unsigned density, char *out, size_t outlen)
{
	struct qrdecode_zbar *z = ctx;
	zbar_image_t *img = zbar_image_create();
	const zbar_symbol_t *sym;
	int r = 0;

	if (!img)
		return -ENOMEM;
	zbar_image_scanner_set_config(z->scanner, ZBAR_NONE, ZBAR_CFG_X_DENSITY, (int)density);
	zbar_image_scanner_set_config(z->scanner, ZBAR_NONE, ZBAR_CFG_Y_DENSITY, (int)density);
	zbar_image_set_format(img, zbar_fourcc('Y', '8', '0', '0'));
	zbar_image_set_size(img, w, h);
	zbar_image_set_data(img, data, (unsigned long)w * h, NULL);
	if (zbar_scan_image(z->scanner, img) > 0) {
		for (sym = zbar_image_first_symbol(img); sym; sym = zbar_symbol_next(sym)) {
			size_t len = zbar_symbol_get_data_length(sym);

			if (z->tuned && zbar_symbol_get_type(sym) != ZBAR_QRCODE)
				continue;
			if (len == 0)
				continue;
			r = qrdecode_engine_copy(zbar_symbol_get_data(sym), len, out, outlen);
			break;
		}
	}
	zbar_image_destroy(img);
	return r;
}

const struct qrdecode_engine_ops qrdecode_zbar_ops = {
    .name = "zbar",
    .cascade = qrdecode_zbar_cascade,
    .cascade_len = sizeof(qrdecode_zbar_cascade) / sizeof(qrdecode_zbar_cascade[0]),
    .roi_max_pixels = 180000,
    .create = qrdecode_zbar_create,
    .destroy = qrdecode_zbar_destroy,
    .scan = qrdecode_zbar_scan,
};
