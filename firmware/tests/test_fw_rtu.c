/* RTU framer: frame boundaries by silence, T1.5 gaps, overflow, timing per baud. */
#include "fw_test.h"

struct capture {
	unsigned frames;
	unsigned drops;
	int last_drop;
	uint16_t len;
	uint8_t buf[MB_ADU_MAX];
};

static void cap_adu(void *ctx, const uint8_t *adu, uint16_t len)
{
	struct capture *c = ctx;

	c->frames++;
	c->len = len;
	memcpy(c->buf, adu, len);
}

static void cap_drop(void *ctx, int reason)
{
	struct capture *c = ctx;

	c->drops++;
	c->last_drop = reason;
}

/* Feed n bytes back to back from t (stamps at each stop bit); returns the last stamp. */
static uint32_t feed(struct mb_rtu *r, const uint8_t *b, unsigned n, uint32_t t)
{
	for (unsigned i = 0; i < n; i++) {
		t += r->t_char_us;
		mb_rtu_rx(r, b[i], t);
	}
	return t;
}

static const uint8_t req[8] = {0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xC5, 0xCD};

static void timing_follows_baud_and_is_fixed_above_19200(void **state)
{
	uint32_t tc, t15, t35;

	mb_rtu_timing(9600, &tc, &t15, &t35);
	assert_int_equal(tc, 1146);
	assert_int_equal(t15, 1719);
	assert_int_equal(t35, 4011);
	mb_rtu_timing(19200, &tc, &t15, &t35);
	assert_int_equal(t15, 860);
	assert_int_equal(t35, 2006);
	mb_rtu_timing(38400, &tc, &t15, &t35);
	assert_int_equal(t15, 750);
	assert_int_equal(t35, 1750);
	mb_rtu_timing(115200, &tc, &t15, &t35);
	assert_int_equal(tc, 96);
	assert_int_equal(t15, 750);
	assert_int_equal(t35, 1750);
}

static void frame_is_delivered_only_after_t35_of_silence(void **state)
{
	struct mb_rtu r;
	struct capture c = {0};
	uint32_t t;

	mb_rtu_init(&r, 19200, cap_adu, cap_drop, &c);
	t = feed(&r, req, sizeof(req), 1000);
	assert_false(mb_rtu_poll(&r, t + r.t35_us - 1));
	assert_int_equal(c.frames, 0);
	assert_true(mb_rtu_poll(&r, t + r.t35_us));
	assert_int_equal(c.frames, 1);
	assert_int_equal(c.len, sizeof(req));
	assert_memory_equal(c.buf, req, sizeof(req));
	/* Nothing more to deliver. */
	assert_false(mb_rtu_poll(&r, t + 10 * r.t35_us));
	assert_int_equal(c.frames, 1);
}

/* Bytes arriving in several reads, polled in between, still make one frame. */
static void frame_split_across_reads_is_one_frame(void **state)
{
	struct mb_rtu r;
	struct capture c = {0};
	uint32_t t;

	mb_rtu_init(&r, 19200, cap_adu, cap_drop, &c);
	t = feed(&r, req, 3, 0);
	mb_rtu_poll(&r, t + r.t15_us);
	t = feed(&r, req + 3, 2, t);
	mb_rtu_poll(&r, t + 100);
	t = feed(&r, req + 5, 3, t);
	mb_rtu_poll(&r, t + r.t35_us);
	assert_int_equal(c.frames, 1);
	assert_int_equal(c.drops, 0);
	assert_memory_equal(c.buf, req, sizeof(req));
}

/* A pty or a late ISR stamps a burst with one time: that is no gap. */
static void burst_with_equal_stamps_is_one_frame(void **state)
{
	struct mb_rtu r;
	struct capture c = {0};

	mb_rtu_init(&r, 19200, cap_adu, cap_drop, &c);
	for (unsigned i = 0; i < sizeof(req); i++)
		mb_rtu_rx(&r, req[i], 5000);
	mb_rtu_poll(&r, 5000 + r.t35_us);
	assert_int_equal(c.frames, 1);
	assert_int_equal(c.len, sizeof(req));
}

static void gap_over_t15_inside_frame_discards_it(void **state)
{
	struct mb_rtu r;
	struct capture c = {0};
	uint32_t t;

	mb_rtu_init(&r, 19200, cap_adu, cap_drop, &c);
	t = feed(&r, req, 4, 0);
	/* Silence of T1.5 + 1 us before the next character. */
	t = feed(&r, req + 4, 4, t + r.t15_us + 1);
	mb_rtu_poll(&r, t + r.t35_us);
	assert_int_equal(c.frames, 0);
	assert_int_equal(c.drops, 1);
	assert_int_equal(c.last_drop, MB_ERR_GAP);
	/* The next clean frame is received normally. */
	t = feed(&r, req, sizeof(req), t + r.t35_us);
	mb_rtu_poll(&r, t + r.t35_us);
	assert_int_equal(c.frames, 1);
}

static void gap_of_exactly_t15_is_tolerated(void **state)
{
	struct mb_rtu r;
	struct capture c = {0};
	uint32_t t;

	mb_rtu_init(&r, 19200, cap_adu, cap_drop, &c);
	t = feed(&r, req, 4, 0);
	t = feed(&r, req + 4, 4, t + r.t15_us);
	mb_rtu_poll(&r, t + r.t35_us);
	assert_int_equal(c.drops, 0);
	assert_int_equal(c.frames, 1);
}

/* Two frames with exactly T3.5 between them, the poll too late to see the first end. */
static void back_to_back_frames_split_at_t35_without_poll(void **state)
{
	struct mb_rtu r;
	struct capture c = {0};
	uint32_t t;

	mb_rtu_init(&r, 9600, cap_adu, cap_drop, &c);
	t = feed(&r, req, sizeof(req), 0);
	t = feed(&r, req, 6, t + r.t35_us);
	assert_int_equal(c.frames, 1);
	assert_int_equal(c.len, 8);
	mb_rtu_poll(&r, t + r.t35_us);
	assert_int_equal(c.frames, 2);
	assert_int_equal(c.len, 6);
}

static void frame_longer_than_adu_max_is_dropped(void **state)
{
	struct mb_rtu r;
	struct capture c = {0};
	uint8_t junk[MB_ADU_MAX + 10];
	uint32_t t;

	memset(junk, 0x55, sizeof(junk));
	mb_rtu_init(&r, 115200, cap_adu, cap_drop, &c);
	t = feed(&r, junk, sizeof(junk), 0);
	mb_rtu_poll(&r, t + r.t35_us);
	assert_int_equal(c.frames, 0);
	assert_int_equal(c.drops, 1);
	assert_int_equal(c.last_drop, MB_ERR_OVERFLOW);
}

/* The microsecond clock wraps after 71 minutes; only differences matter. */
static void frame_across_clock_wrap_is_received(void **state)
{
	struct mb_rtu r;
	struct capture c = {0};
	uint32_t t;

	mb_rtu_init(&r, 19200, cap_adu, cap_drop, &c);
	t = feed(&r, req, sizeof(req), UINT32_MAX - 2000);
	assert_true(t < 5000);
	mb_rtu_poll(&r, t + r.t35_us);
	assert_int_equal(c.frames, 1);
	assert_int_equal(c.drops, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(timing_follows_baud_and_is_fixed_above_19200),
	    cmocka_unit_test(frame_is_delivered_only_after_t35_of_silence),
	    cmocka_unit_test(frame_split_across_reads_is_one_frame),
	    cmocka_unit_test(burst_with_equal_stamps_is_one_frame),
	    cmocka_unit_test(gap_over_t15_inside_frame_discards_it),
	    cmocka_unit_test(gap_of_exactly_t15_is_tolerated),
	    cmocka_unit_test(back_to_back_frames_split_at_t35_without_poll),
	    cmocka_unit_test(frame_longer_than_adu_max_is_dropped),
	    cmocka_unit_test(frame_across_clock_wrap_is_received),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
