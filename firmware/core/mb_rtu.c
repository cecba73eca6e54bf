/*
 * Modbus RTU framer (see mb_rtu.h for the timestamp convention).
 *
 * Rules, from the Modbus over serial line spec 2.5.1.1:
 *  - a frame ends after >= T3.5 of silence; the next character starts a new one;
 *  - silence > T1.5 but < T3.5 inside a frame makes the frame incomplete: the
 *    receiver keeps swallowing characters until T3.5 and then drops it all;
 *  - above 19200 baud T1.5 = 750 us and T3.5 = 1750 us.
 * A frame too long for the buffer is dropped the same way.  Frames shorter than
 * an ADU are still handed on: the server counts and drops them, so every way a
 * frame can go wrong shows up in one place.
 */
#include "mb_rtu.h"

void mb_rtu_timing(uint32_t baud, uint32_t *t_char_us, uint32_t *t15_us, uint32_t *t35_us)
{
	if (baud == 0)
		baud = 19200;
	/* 11 bits per character: start, 8 data, parity or second stop, stop. */
	*t_char_us = (uint32_t)((11000000UL + baud - 1) / baud);
	if (baud > 19200) {
		*t15_us = 750;
		*t35_us = 1750;
	} else {
		*t15_us = (uint32_t)((16500000UL + baud - 1) / baud);
		*t35_us = (uint32_t)((38500000UL + baud - 1) / baud);
	}
}

void mb_rtu_init(struct mb_rtu *r, uint32_t baud, mb_rtu_adu_fn on_adu,
		 void (*on_drop)(void *ctx, int reason), void *ctx)
{
	mb_rtu_timing(baud, &r->t_char_us, &r->t15_us, &r->t35_us);
	r->on_adu = on_adu;
	r->on_drop = on_drop;
	r->ctx = ctx;
	r->last_us = 0;
	mb_rtu_reset(r);
}

void mb_rtu_reset(struct mb_rtu *r)
{
	r->len = 0;
	r->discard = false;
	r->discard_reason = MB_OK;
}

static void mb_rtu_finish(struct mb_rtu *r)
{
	if (r->discard) {
		if (r->on_drop)
			r->on_drop(r->ctx, r->discard_reason);
	} else if (r->on_adu) {
		r->on_adu(r->ctx, r->buf, r->len);
	}
	mb_rtu_reset(r);
}

/* Silence between the end of the last character and the start of one ending at now_us. */
static uint32_t mb_rtu_gap(const struct mb_rtu *r, uint32_t now_us)
{
	uint32_t d = now_us - r->last_us;

	/* Characters stamped in one burst (a pty, a late ISR) have d < t_char: no gap. */
	return d > r->t_char_us ? d - r->t_char_us : 0;
}

void mb_rtu_rx(struct mb_rtu *r, uint8_t byte, uint32_t now_us)
{
	if (r->len > 0 || r->discard) {
		uint32_t gap = mb_rtu_gap(r, now_us);

		if (gap >= r->t35_us) {
			/* The poll was late: the old frame ended before this character. */
			mb_rtu_finish(r);
		} else if (gap > r->t15_us && !r->discard) {
			r->discard = true;
			r->discard_reason = MB_ERR_GAP;
		}
	}
	r->last_us = now_us;
	if (r->discard)
		return;
	if (r->len >= sizeof(r->buf)) {
		r->discard = true;
		r->discard_reason = MB_ERR_OVERFLOW;
		return;
	}
	r->buf[r->len++] = byte;
}

bool mb_rtu_poll(struct mb_rtu *r, uint32_t now_us)
{
	if (r->len == 0 && !r->discard)
		return false;
	/* Measured from the end of the last character: this is plain silence. */
	if (now_us - r->last_us < r->t35_us)
		return false;
	mb_rtu_finish(r);
	return true;
}
