/* test_qrroi.c: the code-region search on synthetic scenes: patches of random
 * modules (what a QR code looks like to it), barcode-like stripes, noise. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "qrroi.h"

struct scene {
	unsigned w, h;
	uint8_t *p;
	unsigned seed;
};

static unsigned next_rand(struct scene *s)
{
	s->seed = s->seed * 1103515245u + 12345u;
	return s->seed / 65536 % 32768;
}

/* A grey scene with uneven light and sensor noise of +-amp. */
static struct scene scene_new(unsigned w, unsigned h, unsigned amp)
{
	struct scene s = {w, h, malloc((size_t)w * h), 1};

	assert_non_null(s.p);
	for (unsigned y = 0; y < h; y++)
		for (unsigned x = 0; x < w; x++) {
			int v = 100 + (int)(x * 40 / w) + (int)(y * 20 / h);

			if (amp)
				v += (int)(next_rand(&s) % (2 * amp + 1)) - (int)amp;
			s.p[(size_t)y * w + x] = (uint8_t)v;
		}
	return s;
}

/* n x n random modules of px pixels, dark/light, top-left at (x0, y0). */
static void patch(struct scene *s, unsigned x0, unsigned y0, unsigned n, unsigned px,
		  uint8_t dark, uint8_t light)
{
	for (unsigned my = 0; my < n; my++)
		for (unsigned mx = 0; mx < n; mx++) {
			uint8_t v = next_rand(s) % 2 ? dark : light;

			for (unsigned y = 0; y < px; y++)
				for (unsigned x = 0; x < px; x++) {
					unsigned fx = x0 + mx * px + x, fy = y0 + my * px + y;

					if (fx < s->w && fy < s->h)
						s->p[(size_t)fy * s->w + fx] = v;
				}
		}
}

static int find(const struct scene *s, struct qrroi_rect *r)
{
	struct qrroi *q = qrroi_new();
	int ret;

	assert_non_null(q);
	ret = qrroi_find(q, s->p, s->w, s->h, s->w, r);
	qrroi_free(q);
	return ret;
}

static void assert_inside(const struct qrroi_rect *r, unsigned x0, unsigned y0, unsigned x1,
			  unsigned y1, const struct scene *s)
{
	/* the region holds the patch with room for a quiet zone, within the frame */
	assert_true(r->x + 8 <= x0);
	assert_true(r->y + 8 <= y0);
	assert_true(r->x + r->w >= x1 + 8);
	assert_true(r->y + r->h >= y1 + 8);
	assert_true(r->x + r->w <= s->w);
	assert_true(r->y + r->h <= s->h);
}

static void test_finds_a_code_like_patch(void **state)
{
	struct scene s = scene_new(1280, 720, 9);
	struct qrroi_rect r;

	patch(&s, 500, 300, 37, 4, 30, 220); /* 148 px: a small code, 20 % of the height */
	assert_int_equal(find(&s, &r), 1);
	assert_inside(&r, 500, 300, 648, 448, &s);
	/* and not much more: the point is to scan a small part of the frame */
	assert_true((size_t)r.w * r.h < (size_t)1280 * 720 / 8);
	free(s.p);
}

static void test_low_contrast_and_large_modules(void **state)
{
	struct scene s = scene_new(640, 480, 4);
	struct qrroi_rect r;

	patch(&s, 100, 60, 29, 10, 105, 160); /* 290 px, low contrast */
	assert_int_equal(find(&s, &r), 1);
	assert_inside(&r, 100, 60, 390, 350, &s);
	free(s.p);
}

static void test_stripes_and_noise_are_no_region(void **state)
{
	struct scene s = scene_new(1280, 720, 9);
	struct qrroi_rect r;

	/* vertical bars of random width vary across only: not a code */
	for (unsigned x = 200, dark = 1; x < 1000; dark = !dark) {
		unsigned bw = 3 * (1 + next_rand(&s) % 4);

		for (unsigned y = 200; y < 500; y++)
			memset(s.p + (size_t)y * s.w + x, dark ? 30 : 220, bw);
		x += bw;
	}
	assert_int_equal(find(&s, &r), 0);
	free(s.p);
	/* a clean flat scene with faint shading */
	s = scene_new(640, 480, 0);
	assert_int_equal(find(&s, &r), 0);
	free(s.p);
}

static void test_largest_group_wins(void **state)
{
	struct scene s = scene_new(1280, 720, 4);
	struct qrroi_rect r;

	patch(&s, 60, 60, 10, 4, 30, 220);    /* 40 px speck of texture */
	patch(&s, 700, 200, 33, 8, 30, 220);  /* 264 px code */
	assert_int_equal(find(&s, &r), 1);
	assert_inside(&r, 700, 200, 964, 464, &s);
	assert_true(r.x > 200);
	free(s.p);
}

static void test_edges_and_tiny_frames(void **state)
{
	struct scene s = scene_new(650, 490, 4); /* not a multiple of the cell size */
	struct qrroi_rect r;

	/* a patch in the bottom-right corner: the region reaches the frame's edge */
	patch(&s, 450, 290, 25, 8, 30, 220);
	assert_int_equal(find(&s, &r), 1);
	assert_int_equal(r.x + r.w, 650);
	assert_int_equal(r.y + r.h, 490);
	assert_true(r.x + 8 <= 450 && r.y + 8 <= 290);
	free(s.p);
	/* fewer than 4 x 4 cells: nothing to look for */
	s = scene_new(60, 200, 4);
	patch(&s, 0, 0, 15, 4, 30, 220);
	assert_int_equal(find(&s, &r), 0);
	free(s.p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_finds_a_code_like_patch),
	    cmocka_unit_test(test_low_contrast_and_large_modules),
	    cmocka_unit_test(test_stripes_and_noise_are_no_region),
	    cmocka_unit_test(test_largest_group_wins),
	    cmocka_unit_test(test_edges_and_tiny_frames),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
