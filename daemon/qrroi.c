/* qrroi.c: the busiest textured region of a frame (see qrroi.h).
 *
 * The thresholds were set on make_frames.py's set (seed 7). The busy factor
 * over the median must let low-contrast codes under sensor noise through: at
 * 720p zbar read 91 codes of 100 with 5/2, 98 with 7/4, 99 with 3/2. The
 * absolute floor keeps clean, flat scenes (a median near zero) from turning
 * faint shading into a region, yet passes large low-contrast codes, which
 * have few edges per cell (a floor of 1500 lost 7 of them at 720p). The
 * margin covers the quiet zone zbar needs around the finder patterns.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "qrroi.h"

#define QRROI_BUSY_NUM 3   /* busy: activity > median * 3 / 2 ... */
#define QRROI_BUSY_DEN 2
#define QRROI_FLOOR 600    /* ... and > this (64 diffs of 2x2 sums, ~2.5 grey levels each) */
#define QRROI_MIN_CELLS 6  /* groups with fewer busy cells are specks, not codes */
#define QRROI_MARGIN 2     /* cells added on each side */
#define QRROI_MAX_ASPECT 3 /* groups longer than this many times their width are edges */

struct qrroi {
	size_t cap;		       /* cells the arrays below hold */
	uint32_t *across, *down, *sorted, *stack; /* one block of 4 * cap */
	uint32_t *sums;		       /* one row of 2x2 sums, and the previous one */
	size_t sums_cap;
};

struct qrroi *qrroi_new(void)
{
	return calloc(1, sizeof(struct qrroi));
}

void qrroi_free(struct qrroi *r)
{
	if (!r)
		return;
	free(r->across);
	free(r->sums);
	free(r);
}

static int qrroi_reserve(struct qrroi *r, size_t cells, size_t sums)
{
	if (cells > r->cap) {
		uint32_t *a = realloc(r->across, 4 * cells * sizeof(*a));

		if (!a)
			return -ENOMEM;
		r->across = a;
		r->down = a + cells;
		r->sorted = a + 2 * cells;
		r->stack = a + 3 * cells;
		r->cap = cells;
	}
	if (sums > r->sums_cap) {
		uint32_t *s = realloc(r->sums, 2 * sums * sizeof(*s));

		if (!s)
			return -ENOMEM;
		r->sums = s;
		r->sums_cap = sums;
	}
	return 0;
}

static int qrroi_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static uint32_t qrroi_absdiff(uint32_t a, uint32_t b)
{
	return a > b ? a - b : b - a;
}

/* Sums the differences of neighbouring 2x2 averages into across/down per cell. */
static void qrroi_activity(struct qrroi *r, const uint8_t *data, size_t stride, unsigned gw,
			   unsigned gh)
{
	const unsigned half = QRROI_CELL / 2, bw = gw * half;
	uint32_t *cur = r->sums, *prev = r->sums + r->sums_cap;

	memset(r->across, 0, (size_t)gw * gh * sizeof(*r->across));
	memset(r->down, 0, (size_t)gw * gh * sizeof(*r->down));
	for (unsigned by = 0; by < gh * half; by++) {
		const uint8_t *p = data + (size_t)2 * by * stride, *p2 = p + stride;
		uint32_t *across = r->across + (size_t)(by / half) * gw;
		uint32_t *down = r->down + (size_t)(by / half) * gw;
		uint32_t *t;

		for (unsigned bx = 0; bx < bw; bx++)
			cur[bx] = (uint32_t)p[2 * bx] + p[2 * bx + 1] + p2[2 * bx] + p2[2 * bx + 1];
		/* each cell takes the differences with the row and column before its
		 * own 2x2 averages too, so that an edge on a cell border is seen */
		for (unsigned bx = 1; bx < bw; bx++)
			across[bx / half] += qrroi_absdiff(cur[bx], cur[bx - 1]);
		for (unsigned bx = 0; by > 0 && bx < bw; bx++)
			down[bx / half] += qrroi_absdiff(cur[bx], prev[bx]);
		t = cur;
		cur = prev;
		prev = t;
	}
}

int qrroi_find(struct qrroi *r, const uint8_t *data, unsigned w, unsigned h, size_t stride,
	       struct qrroi_rect *out)
{
	unsigned gw = w / QRROI_CELL, gh = h / QRROI_CELL;
	size_t n = (size_t)gw * gh, best = 0;
	unsigned bx0 = 0, by0 = 0, bx1 = 0, by1 = 0;
	uint32_t thresh;

	if (gw < 4 || gh < 4)
		return 0;
	if (qrroi_reserve(r, n, (size_t)gw * QRROI_CELL / 2) < 0)
		return -ENOMEM;
	qrroi_activity(r, data, stride, gw, gh);
	/* across becomes the activity, then the busy flag (1 busy and not yet visited) */
	for (size_t i = 0; i < n; i++)
		r->sorted[i] = r->across[i] = r->across[i] < r->down[i] ? r->across[i] : r->down[i];
	qsort(r->sorted, n, sizeof(*r->sorted), qrroi_cmp);
	thresh = r->sorted[n / 2] * QRROI_BUSY_NUM / QRROI_BUSY_DEN;
	if (thresh < QRROI_FLOOR)
		thresh = QRROI_FLOOR;
	/* busy, then dilated by a cell (down holds the busy map): a code with
	 * large modules has quiet cells inside, which must not split it */
	for (size_t i = 0; i < n; i++)
		r->down[i] = r->across[i] > thresh;
	for (size_t i = 0; i < n; i++) {
		unsigned cx = (unsigned)(i % gw), cy = (unsigned)(i / gw);

		r->across[i] = 0;
		for (unsigned y = cy ? cy - 1 : 0; y <= cy + 1 && y < gh; y++)
			for (unsigned x = cx ? cx - 1 : 0; x <= cx + 1 && x < gw; x++)
				r->across[i] |= r->down[(size_t)y * gw + x];
	}
	for (size_t i = 0; i < n; i++) {
		unsigned x0 = gw, y0 = gh, x1 = 0, y1 = 0;
		size_t sp = 0, count = 0;

		if (!r->across[i])
			continue;
		r->across[i] = 0;
		r->stack[sp++] = (uint32_t)i;
		while (sp) {
			uint32_t c = r->stack[--sp];
			unsigned cx = c % gw, cy = c / gw;

			count += r->down[c]; /* busy before the dilation */
			x0 = cx < x0 ? cx : x0;
			x1 = cx > x1 ? cx : x1;
			y0 = cy < y0 ? cy : y0;
			y1 = cy > y1 ? cy : y1;
			for (int dy = -1; dy <= 1; dy++)
				for (int dx = -1; dx <= 1; dx++) {
					int nx = (int)cx + dx, ny = (int)cy + dy;
					size_t k;

					if (nx < 0 || ny < 0 || nx >= (int)gw || ny >= (int)gh)
						continue;
					k = (size_t)ny * gw + (size_t)nx;
					if (r->across[k]) {
						r->across[k] = 0;
						r->stack[sp++] = (uint32_t)k;
					}
				}
		}
		/* a long thin group is an edge (of a stripe band, a shelf), not a code */
		if (x1 - x0 + 1 > QRROI_MAX_ASPECT * (y1 - y0 + 1) ||
		    y1 - y0 + 1 > QRROI_MAX_ASPECT * (x1 - x0 + 1))
			continue;
		if (count > best) {
			best = count;
			bx0 = x0;
			by0 = y0;
			bx1 = x1;
			by1 = y1;
		}
	}
	if (best < QRROI_MIN_CELLS)
		return 0;
	bx0 = bx0 > QRROI_MARGIN ? bx0 - QRROI_MARGIN : 0;
	by0 = by0 > QRROI_MARGIN ? by0 - QRROI_MARGIN : 0;
	bx1 = bx1 + QRROI_MARGIN < gw ? bx1 + QRROI_MARGIN : gw - 1;
	by1 = by1 + QRROI_MARGIN < gh ? by1 + QRROI_MARGIN : gh - 1;
	out->x = bx0 * QRROI_CELL;
	out->y = by0 * QRROI_CELL;
	/* the last cell row/column reaches the frame's edge, remainder included */
	out->w = (bx1 + 1 == gw ? w : (bx1 + 1) * QRROI_CELL) - out->x;
	out->h = (by1 + 1 == gh ? h : (by1 + 1) * QRROI_CELL) - out->y;
	return 1;
}
