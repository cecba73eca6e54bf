/* qrroi.h: where in a camera frame a QR code may be, found cheaply.
 *
 * A QR code is a dense patch of edges running both ways. The frame is cut into
 * QRROI_CELL x QRROI_CELL cells; in each, the absolute differences between
 * neighbouring 2x2 averages (which halve sensor noise) are summed across and
 * down, and the smaller of the two sums is the cell's activity: barcode-like
 * stripes and single edges score low, because they vary one way only. A cell
 * is busy when its activity is well above the frame's median (the noise floor
 * of the background) and above an absolute floor; the largest 8-connected
 * group of busy cells that is not a long thin line (the edge of a stripe band
 * is busy both ways too), grown by a margin for the quiet zone, is the region.
 * One pass over the frame, about a tenth of what a decoder pass costs. Pure:
 * no I/O, no logging.
 */
#ifndef TS_QRROI_H
#define TS_QRROI_H

#include <stddef.h>
#include <stdint.h>

#define QRROI_CELL 16 /* pixels per side of a cell */

struct qrroi_rect {
	unsigned x, y, w, h;
};

struct qrroi;

/* NULL when out of memory. */
struct qrroi *qrroi_new(void);
/* Accepts NULL. */
void qrroi_free(struct qrroi *r);
/* 1 and the region in out; 0 when nothing in the frame looks like a code (or
 * the frame is smaller than 4 x 4 cells); -ENOMEM. */
int qrroi_find(struct qrroi *r, const uint8_t *data, unsigned w, unsigned h, size_t stride,
	       struct qrroi_rect *out);

#endif
