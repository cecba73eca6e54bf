/* io_modbus.h: the `modbus` IO backend (libmodbus, RTU or TCP), and its board
 * dialects. Built only when libmodbus is found (TS_HAVE_MODBUS). */
#ifndef TS_IO_MODBUS_H
#define TS_IO_MODBUS_H

#include <modbus/modbus.h>

#include "io.h"

extern const struct io_backend_ops io_modbus_ops;

/* A board dialect: what a channel means on the wire. Each returns 0, or -errno
 * (errno as libmodbus left it: ETIMEDOUT, EMBBADCRC, EMBXILADD, ...); write and
 * write_pulse return IO_MODBUS_OVERRIDDEN when the board refused the write
 * because it holds that output itself (the IO board's fire override), which is
 * not a link failure. NULL write_pulse: pulses are timed by the daemon (level 1,
 * then level 0); pulse_length, where set, stores the length write_pulse uses in
 * the board, so that a pulse is one transaction once the length is there (the
 * caller writes it at connection and when it changes); NULL read_count: the
 * board latches no counters; NULL watchdog:
 * the board has no host watchdog. watchdog arms (ms > 0) or disarms the board's
 * host watchdog and, when tripped is not NULL, acknowledges a trip that
 * happened while we were silent, setting *tripped. */
#define IO_MODBUS_OVERRIDDEN 1
struct io_modbus_dialect {
	const char *name;
	int (*write)(modbus_t *mb, uint16_t ch, bool on);
	int (*write_pulse)(modbus_t *mb, uint16_t ch, uint32_t ms);
	int (*pulse_length)(modbus_t *mb, uint16_t ch, uint32_t ms);
	int (*read_out)(modbus_t *mb, uint16_t ch, bool *on);
	int (*read_in)(modbus_t *mb, uint16_t first, uint16_t n, uint8_t *levels);
	int (*read_count)(modbus_t *mb, uint16_t first, uint16_t n, uint16_t *counts);
	int (*watchdog)(modbus_t *mb, uint32_t ms, bool *tripped);
};

/* The dialect of enum config_dialect d. */
const struct io_modbus_dialect *io_modbus_dialect(int d);

#endif
