/*
 * Modbus RTU slave: one complete ADU in, at most one reply ADU out.
 *
 * The register bank sits behind an ops table plus a ctx pointer (as
 * nanoMODBUS's callbacks), so the handlers know nothing of the board.  The
 * server checks what the protocol can check by itself (length, quantity, the
 * table size given at init) and then calls the bank, which may still refuse
 * with an exception (a value out of range: 03, a write refused by the board's
 * state: 04).  Read callbacks write straight into the reply buffer, so no
 * register array is ever copied (the AVR has 2 KB of RAM).
 */
#ifndef MB_SERVER_H
#define MB_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "mb.h"

enum mb_table {
	MB_TABLE_COILS,
	MB_TABLE_DISCRETE_INPUTS,
	MB_TABLE_HOLDING_REGISTERS,
	MB_TABLE_INPUT_REGISTERS,
};

struct mb_bank_ops {
	/* qty bits from addr packed into out (already zeroed), Modbus bit order. */
	int (*read_bits)(void *ctx, enum mb_table t, uint16_t addr, uint16_t qty, uint8_t *out);
	/* qty registers from addr into out as big-endian byte pairs. */
	int (*read_regs)(void *ctx, enum mb_table t, uint16_t addr, uint16_t qty, uint8_t *out);
	/* All or nothing: validate every value before applying any. */
	int (*write_coils)(void *ctx, uint16_t addr, uint16_t qty, const uint8_t *packed);
	int (*write_regs)(void *ctx, uint16_t addr, uint16_t qty, const uint8_t *be);
};

struct mb_stats {
	uint16_t frames_ok; /* good CRC and addressed to us (or broadcast) */
	uint16_t crc_errors;
	uint16_t frame_errors; /* short, gap inside a frame, overflow */
	uint16_t exceptions;   /* exception replies (and refused broadcasts) */
	uint16_t other_unit;   /* good frames for another unit */
};

struct mb_server {
	uint8_t unit;
	uint16_t size[4]; /* per enum mb_table: number of addresses, from 0 */
	const struct mb_bank_ops *ops;
	void *ctx;
	struct mb_stats stats;
};

void mb_server_init(struct mb_server *s, uint8_t unit, const uint16_t size[4],
		    const struct mb_bank_ops *ops, void *ctx);

/*
 * Handle one ADU (unit, PDU, CRC).  The reply ADU, CRC included, goes to
 * reply (MB_ADU_MAX bytes); *reply_len is 0 when nothing must be sent
 * (broadcast, wrong unit, bad frame).  Returns MB_OK for a request served,
 * a positive exception code when one was answered (or a broadcast refused),
 * a negative enum mb_err when the frame was not a request for us.  So
 * ">= 0" means "a valid request addressed to us", which feeds the watchdog.
 */
int mb_server_adu(struct mb_server *s, const uint8_t *adu, uint16_t len, uint8_t *reply,
		  uint16_t *reply_len);

/* Count a frame the framer dropped (reason: MB_ERR_GAP or MB_ERR_OVERFLOW). */
void mb_server_count_drop(struct mb_server *s, int reason);

#endif
