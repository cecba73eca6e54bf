/*
 * The turnstile IO board application (register map: ioboard_regs.h).
 *
 * Safety first, host second:
 *  - every output is 0 from iob_init() on, and nothing pulses until asked;
 *  - pulses are timed here, so a pulse ends on time even if the host dies;
 *  - the fire loop is filtered with its own fixed 20 ms (whatever the debounce
 *    register says) and, once open, forces open_a and open_b on and stop off in
 *    the same tick (a turnstile obeys Stop over Unlock); the host's writes to
 *    those three (levels and pulses) are refused with 04 (device failure: the
 *    request is well formed, the board cannot carry it out now) until it closes,
 *    while the indicators (LEDs, buzzer, alarm) stay the host's to drive;
 *  - the host watchdog drops every output to 0 (the fire override still wins)
 *    and latches a status bit, so the host learns about it after reconnecting.
 * The effective output mask is recomputed from this state after every tick and
 * every write, so there is one place that decides what the pins show.
 */
#include <string.h>

#include "iob.h"
#include "mb_crc.h"

#define IOB_FIRE_MASK ((1u << IOB_OUT_OPEN_A) | (1u << IOB_OUT_OPEN_B))
/* The outputs the fire override owns: forced on (IOB_FIRE_MASK) or off (stop). */
#define IOB_GATE_MASK (IOB_FIRE_MASK | (1u << IOB_OUT_STOP))

static const uint16_t iob_bauds[] = {12, 24, 48, 96, 192, 384, 576, 1152};

static bool iob_fire(const struct iob *b)
{
	return b->status & IOB_STATUS_FIRE;
}

static uint8_t iob_outputs(const struct iob *b)
{
	uint8_t mask = b->out_level;

	for (int i = 0; i < IOB_OUT_COUNT; i++)
		if (b->pulse_left[i])
			mask |= (uint8_t)(1u << i);
	if (iob_fire(b))
		mask = (uint8_t)((mask & ~IOB_GATE_MASK) | IOB_FIRE_MASK);
	return mask;
}

static void iob_apply(struct iob *b)
{
	uint8_t mask = iob_outputs(b);

	if (mask != b->out_applied) {
		b->out_applied = mask;
		b->port->outputs_write(b->port_ctx, mask);
	}
}

static bool iob_baud_valid(uint16_t baud100)
{
	for (unsigned i = 0; i < sizeof(iob_bauds) / sizeof(iob_bauds[0]); i++)
		if (iob_bauds[i] == baud100)
			return true;
	return false;
}

static void iob_update_pending(struct iob *b)
{
	if (b->unit_cfg != b->unit_run || b->baud100_cfg != b->baud100_run)
		b->status |= IOB_STATUS_CONFIG_PENDING;
	else
		b->status &= (uint16_t)~IOB_STATUS_CONFIG_PENDING;
}

static void iob_load_settings(struct iob *b)
{
	uint8_t e[IOB_EEPROM_SIZE];
	uint16_t crc, baud100;

	b->unit_run = IOB_DEFAULT_UNIT_ID;
	b->baud100_run = IOB_DEFAULT_BAUD_100;
	if (b->port->eeprom_read(b->port_ctx, 0, e, sizeof(e)) < 0)
		goto defaults;
	crc = mb_crc16(e, 5);
	baud100 = (uint16_t)(e[3] | e[4] << 8);
	if (e[0] != IOB_EEPROM_MAGIC || e[1] != IOB_EEPROM_LAYOUT || e[5] != (uint8_t)crc ||
	    e[6] != (uint8_t)(crc >> 8) || e[2] < 1 || e[2] > 247 || !iob_baud_valid(baud100))
		goto defaults;
	b->unit_run = e[2];
	b->baud100_run = baud100;
	goto done;
defaults:
	b->status |= IOB_STATUS_EEPROM_DEFAULTS;
done:
	b->unit_cfg = b->unit_run;
	b->baud100_cfg = b->baud100_run;
}

static int iob_commit(struct iob *b)
{
	uint8_t e[IOB_EEPROM_SIZE] = {IOB_EEPROM_MAGIC, IOB_EEPROM_LAYOUT, b->unit_cfg,
				      (uint8_t)b->baud100_cfg, (uint8_t)(b->baud100_cfg >> 8)};
	uint16_t crc = mb_crc16(e, 5);

	e[5] = (uint8_t)crc;
	e[6] = (uint8_t)(crc >> 8);
	if (b->port->eeprom_write(b->port_ctx, 0, e, sizeof(e)) < 0)
		return MB_EX_DEVICE_FAILURE;
	/* Settings in use change at the next reset, after the master has its reply. */
	iob_update_pending(b);
	return MB_OK;
}

/* ---- register bank ---------------------------------------------------------------------- */

static int iob_coil(const struct iob *b, uint16_t addr)
{
	if (addr < IOB_COIL_PULSE(0))
		return (b->out_applied >> addr) & 1;
	if (addr < IOB_COIL_PULSE(IOB_OUT_COUNT))
		return b->pulse_left[addr - IOB_COIL_PULSE(0)] != 0;
	return 0;
}

static uint16_t iob_holding(const struct iob *b, uint16_t addr)
{
	if (addr < IOB_HR_PULSE_MS(IOB_OUT_COUNT))
		return b->pulse_ms[addr];
	switch (addr) {
	case IOB_HR_DEBOUNCE_MS:
		return b->debounce_ms;
	case IOB_HR_WATCHDOG_MS:
		return b->wdt_ms;
	case IOB_HR_UNIT_ID:
		return b->unit_cfg;
	case IOB_HR_BAUD_100:
		return b->baud100_cfg;
	default:
		return 0;
	}
}

static uint16_t iob_input_reg(const struct iob *b, uint16_t addr)
{
	if (addr < IOB_IR_COUNTER(IOB_IN_COUNT))
		return b->in_count[addr];
	switch (addr) {
	case IOB_IR_STATUS:
		return b->status;
	case IOB_IR_FW_VERSION:
		return IOB_FW_VERSION;
	case IOB_IR_FRAMES_OK:
		return b->mb.stats.frames_ok;
	case IOB_IR_CRC_ERRORS:
		return b->mb.stats.crc_errors;
	case IOB_IR_EXCEPTIONS:
		return b->mb.stats.exceptions;
	case IOB_IR_WDT_TRIPS:
		return b->wdt_trips;
	case IOB_IR_FRAME_ERRORS:
		return b->mb.stats.frame_errors;
	case IOB_IR_UNIT_ID:
		return b->unit_run;
	case IOB_IR_BAUD_100:
		return b->baud100_run;
	default:
		return 0;
	}
}

static int iob_read_bits(void *ctx, enum mb_table t, uint16_t addr, uint16_t qty, uint8_t *out)
{
	const struct iob *b = ctx;

	for (uint16_t i = 0; i < qty; i++) {
		uint16_t a = (uint16_t)(addr + i);
		int v = t == MB_TABLE_COILS ? iob_coil(b, a) : (b->in_state >> a) & 1;

		mb_put_bit(out, i, v);
	}
	return MB_OK;
}

static int iob_read_regs(void *ctx, enum mb_table t, uint16_t addr, uint16_t qty, uint8_t *out)
{
	const struct iob *b = ctx;

	for (uint16_t i = 0; i < qty; i++) {
		uint16_t a = (uint16_t)(addr + i);

		mb_put_be16(out + 2 * i, t == MB_TABLE_HOLDING_REGISTERS ? iob_holding(b, a)
									 : iob_input_reg(b, a));
	}
	return MB_OK;
}

static int iob_write_coils(void *ctx, uint16_t addr, uint16_t qty, const uint8_t *packed)
{
	struct iob *b = ctx;

	/* Validate the whole request first: all or nothing. */
	for (uint16_t i = 0; i < qty && iob_fire(b); i++) {
		uint16_t a = (uint16_t)(addr + i);
		uint16_t n = a < IOB_COIL_PULSE(0) ? a : (uint16_t)(a - IOB_COIL_PULSE(0));

		if (a < IOB_COIL_PULSE(IOB_OUT_COUNT) && (IOB_GATE_MASK >> n) & 1u)
			return MB_EX_DEVICE_FAILURE;
	}
	for (uint16_t i = 0; i < qty; i++) {
		uint16_t a = (uint16_t)(addr + i);
		int v = mb_get_bit(packed, i);

		if (a < IOB_COIL_PULSE(0)) {
			b->pulse_left[a] = 0;
			if (v)
				b->out_level |= (uint8_t)(1u << a);
			else
				b->out_level &= (uint8_t) ~(1u << a);
		} else if (a < IOB_COIL_PULSE(IOB_OUT_COUNT)) {
			uint16_t n = (uint16_t)(a - IOB_COIL_PULSE(0));

			/* A pulse ends low whatever the level was. */
			b->out_level &= (uint8_t) ~(1u << n);
			b->pulse_left[n] = v ? b->pulse_ms[n] : 0;
		} else if (a == IOB_COIL_WDT_ACK && v) {
			b->status &= (uint16_t)~IOB_STATUS_WDT_TRIPPED;
		}
	}
	iob_apply(b);
	return MB_OK;
}

static int iob_check_holding(uint16_t addr, uint16_t v)
{
	if (addr < IOB_HR_PULSE_MS(IOB_OUT_COUNT))
		return v >= 1 ? MB_OK : MB_EX_ILLEGAL_DATA_VALUE;
	switch (addr) {
	case IOB_HR_DEBOUNCE_MS:
		return v <= IOB_DEBOUNCE_MAX_MS ? MB_OK : MB_EX_ILLEGAL_DATA_VALUE;
	case IOB_HR_WATCHDOG_MS:
		return MB_OK;
	case IOB_HR_UNIT_ID:
		return v >= 1 && v <= 247 ? MB_OK : MB_EX_ILLEGAL_DATA_VALUE;
	case IOB_HR_BAUD_100:
		return iob_baud_valid(v) ? MB_OK : MB_EX_ILLEGAL_DATA_VALUE;
	case IOB_HR_COMMIT:
		return v == IOB_COMMIT_MAGIC ? MB_OK : MB_EX_ILLEGAL_DATA_VALUE;
	default:
		return MB_EX_ILLEGAL_DATA_ADDRESS;
	}
}

static int iob_write_regs(void *ctx, uint16_t addr, uint16_t qty, const uint8_t *be)
{
	struct iob *b = ctx;
	int rc;

	for (uint16_t i = 0; i < qty; i++) {
		rc = iob_check_holding((uint16_t)(addr + i), mb_get_be16(be + 2 * i));
		if (rc)
			return rc;
	}
	/* In address order, so unit id and baud written with the commit are saved by it. */
	for (uint16_t i = 0; i < qty; i++) {
		uint16_t a = (uint16_t)(addr + i), v = mb_get_be16(be + 2 * i);

		if (a < IOB_HR_PULSE_MS(IOB_OUT_COUNT)) {
			b->pulse_ms[a] = v;
			continue;
		}
		switch (a) {
		case IOB_HR_DEBOUNCE_MS:
			b->debounce_ms = (uint8_t)v;
			break;
		case IOB_HR_WATCHDOG_MS:
			b->wdt_ms = v;
			b->wdt_idle_ms = 0;
			if (v)
				b->status |= IOB_STATUS_WDT_ARMED;
			else
				b->status &= (uint16_t)~IOB_STATUS_WDT_ARMED;
			break;
		case IOB_HR_UNIT_ID:
			b->unit_cfg = (uint8_t)v;
			break;
		case IOB_HR_BAUD_100:
			b->baud100_cfg = v;
			break;
		case IOB_HR_COMMIT:
			rc = iob_commit(b);
			if (rc)
				return rc;
			break;
		default:
			break;
		}
	}
	return MB_OK;
}

static const struct mb_bank_ops iob_bank_ops = {
    .read_bits = iob_read_bits,
    .read_regs = iob_read_regs,
    .write_coils = iob_write_coils,
    .write_regs = iob_write_regs,
};

/* ---- requests ---------------------------------------------------------------------------- */

int iob_adu(struct iob *b, const uint8_t *adu, uint16_t len)
{
	uint16_t reply_len;
	int rc = mb_server_adu(&b->mb, adu, len, b->reply, &reply_len);

	/* Any valid request addressed to us, even one answered with an exception. */
	if (rc >= 0)
		b->wdt_idle_ms = 0;
	if (reply_len)
		b->port->uart_tx(b->port_ctx, b->reply, reply_len);
	return rc;
}

static void iob_on_adu(void *ctx, const uint8_t *adu, uint16_t len)
{
	iob_adu(ctx, adu, len);
}

static void iob_on_drop(void *ctx, int reason)
{
	struct iob *b = ctx;

	mb_server_count_drop(&b->mb, reason);
}

void iob_rx(struct iob *b, uint8_t byte, uint32_t now_us)
{
	mb_rtu_rx(&b->rtu, byte, now_us);
}

void iob_poll(struct iob *b, uint32_t now_us)
{
	mb_rtu_poll(&b->rtu, now_us);
}

/* ---- time ---------------------------------------------------------------------------------- */

static void iob_debounce(struct iob *b)
{
	uint8_t raw = b->port->inputs_read(b->port_ctx);

	for (int i = 0; i < IOB_IN_COUNT; i++) {
		uint8_t bit = (uint8_t)(1u << i);
		uint8_t limit = i == IOB_IN_FIRE_LOOP_OK ? IOB_FIRE_DEBOUNCE_MS : b->debounce_ms;

		if ((raw ^ b->in_state) & bit) {
			/* A level must hold for limit ms in a row; any bounce back restarts it. */
			if (++b->in_pending[i] < limit)
				continue;
			b->in_state ^= bit;
			if (b->in_state & bit)
				b->in_count[i]++;
		}
		b->in_pending[i] = 0;
	}
}

static void iob_fire_step(struct iob *b)
{
	bool loop_ok = b->in_state & (1u << IOB_IN_FIRE_LOOP_OK);

	if (!loop_ok && !iob_fire(b)) {
		b->status |= IOB_STATUS_FIRE;
		/* Forced now; back to 0 (not to an old level or pulse) when the loop closes. */
		b->out_level &= (uint8_t)~IOB_GATE_MASK;
		b->pulse_left[IOB_OUT_OPEN_A] = 0;
		b->pulse_left[IOB_OUT_OPEN_B] = 0;
		b->pulse_left[IOB_OUT_STOP] = 0;
	} else if (loop_ok && iob_fire(b)) {
		b->status &= (uint16_t)~IOB_STATUS_FIRE;
	}
}

static void iob_watchdog_step(struct iob *b)
{
	if (!b->wdt_ms || b->wdt_idle_ms >= b->wdt_ms)
		return;
	if (++b->wdt_idle_ms < b->wdt_ms)
		return;
	/* Expired: safe state once; the next request re-arms it. */
	b->out_level = 0;
	memset(b->pulse_left, 0, sizeof(b->pulse_left));
	b->status |= IOB_STATUS_WDT_TRIPPED;
	b->wdt_trips++;
}

void iob_tick_1ms(struct iob *b)
{
	iob_debounce(b);
	iob_fire_step(b);
	for (int i = 0; i < IOB_OUT_COUNT; i++)
		if (b->pulse_left[i])
			b->pulse_left[i]--;
	iob_watchdog_step(b);
	iob_apply(b);
}

/* ---- setup --------------------------------------------------------------------------------- */

void iob_init(struct iob *b, const struct port_ops *port, void *port_ctx)
{
	uint16_t size[4] = {
	    [MB_TABLE_COILS] = IOB_COIL_COUNT,
	    [MB_TABLE_DISCRETE_INPUTS] = IOB_DI_COUNT,
	    [MB_TABLE_HOLDING_REGISTERS] = IOB_HR_COUNT,
	    [MB_TABLE_INPUT_REGISTERS] = IOB_IR_COUNT,
	};

	memset(b, 0, sizeof(*b));
	b->port = port;
	b->port_ctx = port_ctx;
	port->outputs_write(port_ctx, 0);
	for (int i = 0; i < IOB_OUT_COUNT; i++)
		b->pulse_ms[i] = IOB_DEFAULT_PULSE_MS;
	b->debounce_ms = IOB_DEFAULT_DEBOUNCE_MS;
	/*
	 * Inputs already active at boot are not edges; but the fire loop starts
	 * as intact, so a loop open at boot goes through its filter into fire mode.
	 */
	b->in_state = (uint8_t)(port->inputs_read(port_ctx) | (1u << IOB_IN_FIRE_LOOP_OK));
	iob_load_settings(b);
	mb_server_init(&b->mb, b->unit_run, size, &iob_bank_ops, b);
	mb_rtu_init(&b->rtu, iob_baud(b), iob_on_adu, iob_on_drop, b);
}

uint32_t iob_baud(const struct iob *b)
{
	return (uint32_t)b->baud100_run * 100;
}
