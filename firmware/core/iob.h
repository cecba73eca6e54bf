/*
 * The turnstile IO board application: the register bank behind the Modbus server.
 *
 * Owns the outputs (host levels, board-timed pulses, the fire override, the
 * host watchdog's safe state), the debounced inputs and their latched edge
 * counters, the settings kept in EEPROM and the diagnostic counters.  The
 * register map is core/ioboard_regs.h.  Everything advances from
 * iob_tick_1ms(); requests arrive through the RTU framer (iob_rx/iob_poll) or,
 * in tests, straight as ADUs (iob_adu).
 */
#ifndef IOB_H
#define IOB_H

#include <stdbool.h>
#include <stdint.h>

#include "../port.h"
#include "ioboard_regs.h"
#include "mb_rtu.h"
#include "mb_server.h"

/* EEPROM layout: magic, layout version, unit id, baud/100 (LE), CRC-16 (LE) of the first 5. */
#define IOB_EEPROM_MAGIC 0x54
#define IOB_EEPROM_LAYOUT 1
#define IOB_EEPROM_SIZE 7

struct iob {
	const struct port_ops *port;
	void *port_ctx;
	struct mb_server mb;
	struct mb_rtu rtu;
	uint8_t reply[MB_ADU_MAX];

	uint8_t out_level;   /* levels written by the host */
	uint8_t out_applied; /* last mask given to the port */
	uint16_t pulse_ms[IOB_OUT_COUNT];
	uint16_t pulse_left[IOB_OUT_COUNT];

	uint8_t in_state;		  /* debounced */
	uint8_t in_pending[IOB_IN_COUNT]; /* ms the raw level has differed from in_state */
	uint16_t in_count[IOB_IN_COUNT];
	uint8_t debounce_ms;

	uint16_t wdt_ms;
	uint16_t wdt_idle_ms; /* since the last request addressed to us */
	uint16_t wdt_trips;
	uint16_t status;

	uint8_t unit_cfg, unit_run;
	uint16_t baud100_cfg, baud100_run;
};

/* Outputs off (before anything else), settings from EEPROM, inputs sampled. */
void iob_init(struct iob *b, const struct port_ops *port, void *port_ctx);

void iob_tick_1ms(struct iob *b);
void iob_rx(struct iob *b, uint8_t byte, uint32_t now_us);
void iob_poll(struct iob *b, uint32_t now_us);

/* Serve one complete ADU, replying through the port; returns mb_server_adu()'s result. */
int iob_adu(struct iob *b, const uint8_t *adu, uint16_t len);

/* Baud rate in use (from EEPROM at init), for the port's UART setup. */
uint32_t iob_baud(const struct iob *b);

#endif
