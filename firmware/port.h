/*
 * The one interface between the portable core and a board.
 *
 * The core (core/) calls the board through this ops table and a ctx pointer and
 * includes no device header, so the same core runs on the ATmega328P (avr/), as
 * a Linux process (host/) and inside the unit tests (a fake port).
 *
 * Time and bytes flow the other way, from the port into the core (core/iob.h):
 *  - iob_tick_1ms() once per elapsed millisecond (catching up if late);
 *  - iob_rx() for each received byte, stamped in microseconds at its stop bit
 *    (in the UART ISR on a real board: the ISR only captures);
 *  - iob_poll() with the current microsecond time, often (at least every T1.5),
 *    which finds frame ends and answers through uart_tx.
 * No sleeps anywhere: the core is a set of step functions.
 */
#ifndef PORT_H
#define PORT_H

#include <stdint.h>

struct port_ops {
	/* Drive the outputs: bit n = output n (IOB_OUT_*), 1 = energised. */
	void (*outputs_write)(void *ctx, uint8_t mask);
	/* Raw input levels: bit n = input n (IOB_IN_*), 1 = active (the port inverts opto inputs).
	 */
	uint8_t (*inputs_read)(void *ctx);
	/* A few bytes of non-volatile storage; 0 or a negative error. */
	int (*eeprom_read)(void *ctx, uint16_t addr, uint8_t *buf, uint16_t len);
	int (*eeprom_write)(void *ctx, uint16_t addr, const uint8_t *buf, uint16_t len);
	/*
	 * Send one reply ADU.  May queue and return at once; the port raises the
	 * RS-485 driver enable before the first byte and drops it only after
	 * transmit-complete of the last.
	 */
	void (*uart_tx)(void *ctx, const uint8_t *buf, uint16_t len);
};

#endif
