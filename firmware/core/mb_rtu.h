/*
 * Modbus RTU framer: bytes with timestamps in, complete ADUs out.
 *
 * Framing is kept apart from handling (Zephyr's modbus_raw/modbus_server split):
 * the framer only finds frame boundaries by silence and hands each candidate
 * ADU, unchecked, to the on_adu callback; CRC, unit id and the PDU are the
 * server's business (mb_server.h), which tests can call directly.
 *
 * Timestamps are microseconds from one free-running uint32_t clock (wraps after
 * 71 minutes; only differences are used) and mark the END of each character
 * (its stop bit), which is when a UART interrupt sees it.  So the silence
 * before a character is (its timestamp - previous timestamp - one character time).
 */
#ifndef MB_RTU_H
#define MB_RTU_H

#include <stdbool.h>
#include <stdint.h>

#include "mb.h"

typedef void (*mb_rtu_adu_fn)(void *ctx, const uint8_t *adu, uint16_t len);

struct mb_rtu {
	uint32_t t_char_us; /* one 11-bit character */
	uint32_t t15_us;
	uint32_t t35_us;
	uint32_t last_us; /* timestamp of the last character received */
	uint16_t len;
	bool discard;	    /* current frame is broken; drop it at T3.5 */
	int discard_reason; /* enum mb_err, for the counters */
	mb_rtu_adu_fn on_adu;
	void (*on_drop)(void *ctx, int reason);
	void *ctx;
	uint8_t buf[MB_ADU_MAX];
};

/* Character time, T1.5 and T3.5 for a baud rate (fixed 750/1750 us above 19200). */
void mb_rtu_timing(uint32_t baud, uint32_t *t_char_us, uint32_t *t15_us, uint32_t *t35_us);

void mb_rtu_init(struct mb_rtu *r, uint32_t baud, mb_rtu_adu_fn on_adu,
		 void (*on_drop)(void *ctx, int reason), void *ctx);

/* One received character, stamped when its stop bit ended. */
void mb_rtu_rx(struct mb_rtu *r, uint8_t byte, uint32_t now_us);

/*
 * Call often (at least every T1.5): delivers the pending frame once the line has
 * been silent for T3.5.  Returns true when a frame was delivered or dropped.
 */
bool mb_rtu_poll(struct mb_rtu *r, uint32_t now_us);

/* Forget any partial frame (after our own transmission, after a baud change). */
void mb_rtu_reset(struct mb_rtu *r);

#endif
