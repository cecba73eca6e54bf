/*
 * Turnstile IO board: Modbus register map.
 *
 * The one definition shared by the firmware and the daemon's Modbus dialect for
 * this board; hw/ioboard-registers.md is its prose mirror and must change with
 * it.  All addresses are 0-based PDU addresses (mbpoll -0, libmodbus).  Plain
 * C99 macros and no includes, so both sides can use it as is.
 *
 * Outputs and inputs share one index order; bit n of the port's output/input
 * masks is output/input n.
 */
#ifndef IOBOARD_REGS_H
#define IOBOARD_REGS_H

#define IOB_FW_VERSION_MAJOR 0
#define IOB_FW_VERSION_MINOR 1
#define IOB_FW_VERSION ((IOB_FW_VERSION_MAJOR << 8) | IOB_FW_VERSION_MINOR)

/* Outputs (index into coils, pulse coils and pulse duration registers). */
#define IOB_OUT_OPEN_A 0
#define IOB_OUT_OPEN_B 1
#define IOB_OUT_STOP 2
#define IOB_OUT_LED_GREEN 3
#define IOB_OUT_LED_RED 4
#define IOB_OUT_LED_YELLOW 5
#define IOB_OUT_BUZZER 6
#define IOB_OUT_ALARM 7
#define IOB_OUT_COUNT 8

/* Inputs (index into discrete inputs and edge counters). Active = 1. */
#define IOB_IN_PASS_A 0
#define IOB_IN_PASS_B 1
#define IOB_IN_FIRE_LOOP_OK 2 /* normally closed: 1 = loop intact, 0 = fire */
#define IOB_IN_CONFIRM 3
#define IOB_IN_REJECT 4
#define IOB_IN_MANUAL_OPEN 5
#define IOB_IN_TAMPER 6
#define IOB_IN_COUNT 7

/* Coils (01 read, 05/15 write). */
#define IOB_COIL_OUT(n) (n)	    /* 0..7: output level, reads the pin state */
#define IOB_COIL_PULSE(n) (8 + (n)) /* 8..15: 1 = pulse IOB_HR_PULSE_MS(n) ms, 0 = cancel */
#define IOB_COIL_WDT_ACK 16	    /* write 1 = clear IOB_STATUS_WDT_TRIPPED; reads 0 */
#define IOB_COIL_COUNT 17

/* Discrete inputs (02): debounced input levels, IOB_IN_* order. */
#define IOB_DI_IN(n) (n)
#define IOB_DI_COUNT IOB_IN_COUNT

/* Holding registers (03 read, 06/16 write). */
#define IOB_HR_PULSE_MS(n) (n) /* 0..7: pulse length, ms, 1..65535, default 500 */
#define IOB_HR_DEBOUNCE_MS 8   /* input debounce, ms, 0..255, default 3 (fire loop: fixed 20) */
#define IOB_HR_WATCHDOG_MS 9   /* host watchdog timeout, ms, 0 = off (default) */
#define IOB_HR_UNIT_ID 10      /* unit id to commit, 1..247 */
#define IOB_HR_BAUD_100 11     /* baud / 100 to commit: 12 24 48 96 192 384 576 1152 */
#define IOB_HR_COMMIT 12       /* write IOB_COMMIT_MAGIC: save unit id and baud; reads 0 */
#define IOB_HR_COUNT 13

#define IOB_COMMIT_MAGIC 0xA5C3

/* Input registers (04). */
#define IOB_IR_COUNTER(n) (n) /* 0..6: rising edges per input, 16 bit, wraps */
#define IOB_IR_STATUS 7	      /* IOB_STATUS_* bits */
#define IOB_IR_FW_VERSION 8   /* major << 8 | minor */
#define IOB_IR_FRAMES_OK 9    /* requests addressed to us with a good CRC */
#define IOB_IR_CRC_ERRORS 10
#define IOB_IR_EXCEPTIONS 11   /* exception replies sent */
#define IOB_IR_WDT_TRIPS 12    /* host watchdog expiries */
#define IOB_IR_FRAME_ERRORS 13 /* truncated frames, gaps > T1.5, overflows */
#define IOB_IR_UNIT_ID 14      /* unit id in use */
#define IOB_IR_BAUD_100 15     /* baud / 100 in use */
#define IOB_IR_COUNT 16

/* IOB_IR_STATUS bits. */
#define IOB_STATUS_WDT_TRIPPED 0x0001	  /* latched until IOB_COIL_WDT_ACK */
#define IOB_STATUS_FIRE 0x0002		  /* fire loop open: open_a/b on, stop off, their writes refused */
#define IOB_STATUS_WDT_ARMED 0x0004	  /* IOB_HR_WATCHDOG_MS != 0 */
#define IOB_STATUS_EEPROM_DEFAULTS 0x0008 /* EEPROM blank or corrupt at boot: defaults in use */
#define IOB_STATUS_CONFIG_PENDING 0x0010  /* committed settings differ from those in use */

#define IOB_DEFAULT_UNIT_ID 1
#define IOB_DEFAULT_BAUD_100 192
#define IOB_DEFAULT_PULSE_MS 500
#define IOB_DEFAULT_DEBOUNCE_MS 3
#define IOB_FIRE_DEBOUNCE_MS 20
#define IOB_DEBOUNCE_MAX_MS 255

#endif
