/* fuzz_iob.c: libFuzzer target for the IO board firmware core (RTU framer, Modbus
 * server, register bank and board logic), host build over a fake port.
 *
 * The input is a script of line and board events, one opcode byte each (low 3
 * bits the kind, high 5 bits an argument) plus operands:
 *   0  frame: length byte, that many bytes, a correct CRC appended
 *   1  frame: length byte, that many bytes sent as they are (CRC left to chance)
 *   7  frame: length byte, bytes after the board's own unit id, CRC appended
 *   2  ticks: 1 + operand * (1 + arg % 8) milliseconds, polling after each
 *   3  raw input levels := operand
 *   4  one byte after a silence of arg * 125 us (gaps around T1.5 and T3.5)
 *   5  poll after arg * 125 us
 *   6  reset the board (arg 1: with a blank EEPROM)
 * Frames go byte by byte at the character time of the board's baud rate and
 * are closed by T3.5 of silence, so every ADU reaches the server through the
 * real framer. The framer's ADU callback is wrapped to see each request with
 * its reply.
 *
 * Checked on every request: a reply only for a good frame addressed to the
 * board (none for broadcast, other units, bad CRC, short frames), with a good
 * CRC, the board's unit id, the request's function code, a consistent byte
 * count, the echo where the protocol wants one, exception 01 for unknown
 * function codes; exceptions change no setting or output (all or nothing);
 * writes to open_a/open_b are refused while the fire loop is open. Checked after every
 * event: the pins show host level | running pulses | fire override (stop aside,
 * which the fire override may force off);
 * nothing is energised after reset or a watchdog trip until the host writes
 * an output; the watchdog trips on time; a fire loop open for 20 ms forces
 * both directions open; an input level is taken after exactly its debounce
 * time in a row and its counter counts exactly the debounced rising edges; settings stay in range; the config-pending bit says
 * whether the EEPROM holds settings other than those in use.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iob.h"
#include "mb_crc.h"

#define FIRE_MASK ((1u << IOB_OUT_OPEN_A) | (1u << IOB_OUT_OPEN_B))
#define STOP_BIT (1u << IOB_OUT_STOP)
#define LOOP_OK (1u << IOB_IN_FIRE_LOOP_OK)
#define STATUS_ALL 0x001fu
#define TICK_BUDGET (1u << 14) /* ms of board time per input (16 s), to keep runs fast */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fport {
	uint8_t outputs;
	unsigned output_writes;
	uint8_t inputs;
	uint8_t eeprom[IOB_EEPROM_SIZE];
	uint8_t tx[MB_ADU_MAX];
	uint16_t tx_len;
	unsigned tx_calls;
};

static struct {
	struct fport port;
	struct iob b;
	uint32_t now;
	unsigned ticks;
	bool armed;		  /* an output write was served since reset or the last trip */
	uint32_t idle_ticks;	  /* ms since the last valid request addressed to the board */
	uint32_t loop_open_ticks; /* ms the raw fire loop has been open in a row */
	uint32_t differ_ticks[IOB_IN_COUNT]; /* ms each raw input has differed from its state */
	size_t size;
} fz;

static void fail(const char *what)
{
	fprintf(stderr, "invariant broken: %s (input %zu bytes)\n", what, fz.size);
	abort();
}

#define CHECK(cond, what)                                                                          \
	do {                                                                                       \
		if (!(cond))                                                                       \
			fail(what);                                                                \
	} while (0)

/* ---- the fake port ---- */

static void fp_outputs_write(void *ctx, uint8_t mask)
{
	struct fport *p = ctx;

	p->outputs = mask;
	p->output_writes++;
}

static uint8_t fp_inputs_read(void *ctx)
{
	return ((struct fport *)ctx)->inputs;
}

static int fp_eeprom_read(void *ctx, uint16_t addr, uint8_t *buf, uint16_t len)
{
	struct fport *p = ctx;

	CHECK((size_t)addr + len <= sizeof(p->eeprom), "EEPROM read out of range");
	memcpy(buf, p->eeprom + addr, len);
	return 0;
}

static int fp_eeprom_write(void *ctx, uint16_t addr, const uint8_t *buf, uint16_t len)
{
	struct fport *p = ctx;

	CHECK((size_t)addr + len <= sizeof(p->eeprom), "EEPROM write out of range");
	memcpy(p->eeprom + addr, buf, len);
	return 0;
}

static void fp_uart_tx(void *ctx, const uint8_t *buf, uint16_t len)
{
	struct fport *p = ctx;

	CHECK(len <= MB_ADU_MAX, "reply longer than an ADU");
	memcpy(p->tx, buf, len);
	p->tx_len = len;
	p->tx_calls++;
}

static const struct port_ops fp_ops = {
    .outputs_write = fp_outputs_write,
    .inputs_read = fp_inputs_read,
    .eeprom_read = fp_eeprom_read,
    .eeprom_write = fp_eeprom_write,
    .uart_tx = fp_uart_tx,
};

/* ---- invariants ---- */

static bool baud_ok(uint16_t baud100)
{
	static const uint16_t bauds[] = {12, 24, 48, 96, 192, 384, 576, 1152};

	for (size_t i = 0; i < sizeof(bauds) / sizeof(bauds[0]); i++)
		if (bauds[i] == baud100)
			return true;
	return false;
}

static bool crc_ok(const uint8_t *adu, size_t len)
{
	uint16_t crc;

	if (len < 4)
		return false;
	crc = mb_crc16(adu, len - 2);
	return adu[len - 2] == (uint8_t)crc && adu[len - 1] == (uint8_t)(crc >> 8);
}

/* Settings the EEPROM holds, as iob_init would load them; false if blank or corrupt. */
static bool eeprom_settings(uint8_t *unit, uint16_t *baud100)
{
	const uint8_t *e = fz.port.eeprom;

	if (e[0] != IOB_EEPROM_MAGIC || e[1] != IOB_EEPROM_LAYOUT || !crc_ok(e, IOB_EEPROM_SIZE))
		return false;
	*unit = e[2];
	*baud100 = (uint16_t)(e[3] | e[4] << 8);
	return *unit >= 1 && *unit <= 247 && baud_ok(*baud100);
}

static void check_board(void)
{
	const struct iob *b = &fz.b;
	bool fire = b->status & IOB_STATUS_FIRE;
	uint8_t expect = b->out_level, unit;
	uint16_t baud100;
	bool pending;

	for (int i = 0; i < IOB_OUT_COUNT; i++) {
		CHECK(b->pulse_ms[i] >= 1, "pulse length 0");
		if (b->pulse_left[i])
			expect |= (uint8_t)(1u << i);
	}
	if (fire)
		expect |= FIRE_MASK;
	/* stop may be forced off during a fire (Stop beats Unlock on a turnstile) */
	CHECK((b->out_applied | (fire ? STOP_BIT : 0)) == (expect | (fire ? STOP_BIT : 0)),
	      "pins differ from level | pulses | fire");
	CHECK(fz.port.outputs == b->out_applied, "port not told the applied outputs");
	CHECK(fire == !(b->in_state & LOOP_OK), "fire status differs from the debounced loop");
	CHECK(!(b->status & ~STATUS_ALL), "unknown status bits");
	CHECK(!!(b->status & IOB_STATUS_WDT_ARMED) == (b->wdt_ms != 0), "watchdog armed bit wrong");
	CHECK(b->unit_cfg >= 1 && b->unit_cfg <= 247, "unit id setting out of range");
	CHECK(b->unit_run >= 1 && b->unit_run <= 247, "unit id in use out of range");
	CHECK(b->mb.unit == b->unit_run, "server answers another unit id");
	CHECK(baud_ok(b->baud100_cfg) && baud_ok(b->baud100_run), "baud out of range");
	CHECK(b->rtu.len <= MB_ADU_MAX, "framer overran its buffer");
	pending = eeprom_settings(&unit, &baud100) &&
		  (unit != b->unit_run || baud100 != b->baud100_run);
	CHECK(!!(b->status & IOB_STATUS_CONFIG_PENDING) == pending, "config-pending bit wrong");

	if (!fz.armed)
		CHECK(!(b->out_applied & ~(fire ? FIRE_MASK : 0)), "output on without a write");
	if (b->wdt_ms && fz.idle_ticks >= b->wdt_ms)
		CHECK(!(b->out_applied & ~(fire ? FIRE_MASK : 0)), "output on after watchdog expiry");
	if (fz.loop_open_ticks >= IOB_FIRE_DEBOUNCE_MS)
		CHECK(fire && (b->out_applied & FIRE_MASK) == FIRE_MASK,
		      "fire loop open 20 ms without both directions open");
}

/* Settings and outputs an exception must leave alone. */
struct shadow {
	uint8_t out_level;
	uint16_t pulse_ms[IOB_OUT_COUNT], pulse_left[IOB_OUT_COUNT];
	uint8_t debounce_ms, unit_cfg;
	uint16_t wdt_ms, baud100_cfg, status;
	uint8_t eeprom[IOB_EEPROM_SIZE];
};

static void shadow_take(struct shadow *s)
{
	const struct iob *b = &fz.b;

	memset(s, 0, sizeof(*s));
	s->out_level = b->out_level;
	memcpy(s->pulse_ms, b->pulse_ms, sizeof(s->pulse_ms));
	memcpy(s->pulse_left, b->pulse_left, sizeof(s->pulse_left));
	s->debounce_ms = b->debounce_ms;
	s->unit_cfg = b->unit_cfg;
	s->wdt_ms = b->wdt_ms;
	s->baud100_cfg = b->baud100_cfg;
	s->status = b->status;
	memcpy(s->eeprom, fz.port.eeprom, sizeof(s->eeprom));
}

static bool is_write(uint8_t fc)
{
	return fc == MB_FC_WRITE_SINGLE_COIL || fc == MB_FC_WRITE_SINGLE_REGISTER ||
	       fc == MB_FC_WRITE_MULTIPLE_COILS || fc == MB_FC_WRITE_MULTIPLE_REGISTERS;
}

static bool is_known(uint8_t fc)
{
	return is_write(fc) || fc == MB_FC_READ_COILS || fc == MB_FC_READ_DISCRETE_INPUTS ||
	       fc == MB_FC_READ_HOLDING_REGISTERS || fc == MB_FC_READ_INPUT_REGISTERS ||
	       fc == MB_FC_DIAGNOSTICS;
}

/* Does a coil write of qty from addr set a level or pulse of open_a or open_b? */
static bool touches_open(uint16_t addr, uint16_t qty)
{
	for (uint32_t a = addr; a < (uint32_t)addr + qty; a++) {
		uint32_t n = a < IOB_COIL_PULSE(0) ? a : a - IOB_COIL_PULSE(0);

		if (a < IOB_COIL_PULSE(IOB_OUT_COUNT) && ((FIRE_MASK >> n) & 1u))
			return true;
	}
	return false;
}

/* A served (non-exception) reply to an addressed request. */
static void check_reply_data(const uint8_t *adu, uint16_t len, const uint8_t *r, uint16_t rl)
{
	uint8_t fc = adu[1];
	uint16_t qty = len >= 6 ? mb_get_be16(adu + 4) : 0;

	switch (fc) {
	case MB_FC_READ_COILS:
	case MB_FC_READ_DISCRETE_INPUTS:
		CHECK(r[2] == (qty + 7) / 8 && rl == 5 + r[2], "bit read: byte count");
		if (qty % 8)
			CHECK(!(r[2 + r[2]] >> (qty % 8)), "bit read: padding bits set");
		break;
	case MB_FC_READ_HOLDING_REGISTERS:
	case MB_FC_READ_INPUT_REGISTERS:
		CHECK(r[2] == 2 * qty && rl == 5 + r[2], "register read: byte count");
		break;
	case MB_FC_WRITE_SINGLE_COIL:
	case MB_FC_WRITE_SINGLE_REGISTER:
	case MB_FC_DIAGNOSTICS:
		CHECK(rl == len && memcmp(r, adu, len) == 0, "reply is not an echo");
		break;
	case MB_FC_WRITE_MULTIPLE_COILS:
	case MB_FC_WRITE_MULTIPLE_REGISTERS:
		CHECK(rl == 8 && memcmp(r + 1, adu + 1, 5) == 0, "multiple write: bad echo");
		break;
	default:
		fail("unknown function code served");
	}
}

static void fz_on_adu(void *ctx, const uint8_t *adu, uint16_t len)
{
	struct iob *b = ctx;
	uint8_t unit = b->mb.unit, fc = len >= 2 ? adu[1] : 0;
	bool fire = b->status & IOB_STATUS_FIRE, good = len <= MB_ADU_MAX && crc_ok(adu, len);
	bool addressed = good && adu[0] == unit, broadcast = good && adu[0] == MB_UNIT_BROADCAST;
	unsigned calls = fz.port.tx_calls;
	struct shadow before, after;
	uint8_t applied = b->out_applied;
	int rc;

	shadow_take(&before);
	rc = iob_adu(b, adu, len);
	shadow_take(&after);

	if (!addressed && !broadcast) {
		CHECK(fz.port.tx_calls == calls, "reply to a frame not for us");
		CHECK(rc < 0, "bad or foreign frame served");
		CHECK(memcmp(&before, &after, sizeof(before)) == 0, "foreign frame changed state");
		return;
	}
	if (broadcast) {
		CHECK(fz.port.tx_calls == calls, "reply to a broadcast");
		CHECK(is_write(fc) ? rc >= 0 : rc == MB_ERR_NOT_ADDRESSED, "broadcast result");
		if (!is_write(fc))
			CHECK(memcmp(&before, &after, sizeof(before)) == 0, "broadcast read wrote");
	} else {
		const uint8_t *r = fz.port.tx;
		uint16_t rl = fz.port.tx_len;

		CHECK(fz.port.tx_calls == calls + 1, "not exactly one reply");
		CHECK(rl >= 5 && crc_ok(r, rl), "reply too short or bad CRC");
		CHECK(r[0] == unit, "reply from another unit id");
		if (r[1] & 0x80) {
			CHECK(rl == 5 && r[1] == (fc | 0x80), "exception reply shape");
			CHECK(r[2] >= MB_EX_ILLEGAL_FUNCTION && r[2] <= MB_EX_DEVICE_FAILURE &&
				  r[2] == rc,
			      "exception code");
			CHECK(is_known(fc) || r[2] == MB_EX_ILLEGAL_FUNCTION,
			      "unknown function code not answered with 01");
		} else {
			CHECK(r[1] == fc && rc == MB_OK, "reply function code");
			check_reply_data(adu, len, r, rl);
		}
	}
	if (rc > 0)
		CHECK(memcmp(&before, &after, sizeof(before)) == 0 && b->out_applied == applied,
		      "an exception changed settings or outputs");
	if (fire && rc == MB_OK &&
	    (fc == MB_FC_WRITE_SINGLE_COIL || fc == MB_FC_WRITE_MULTIPLE_COILS))
		CHECK(!touches_open(mb_get_be16(adu + 2),
				    fc == MB_FC_WRITE_SINGLE_COIL ? 1 : mb_get_be16(adu + 4)),
		      "open_a/open_b write served while the fire loop is open");
	if (rc >= 0)
		fz.idle_ticks = 0;
	if (rc == MB_OK && (fc == MB_FC_WRITE_SINGLE_COIL || fc == MB_FC_WRITE_MULTIPLE_COILS))
		fz.armed = true;
}

/* ---- events ---- */

static void board_reset(void)
{
	unsigned writes = fz.port.output_writes;

	iob_init(&fz.b, &fp_ops, &fz.port);
	fz.b.rtu.on_adu = fz_on_adu;
	CHECK(fz.port.outputs == 0 && fz.port.output_writes == writes + 1,
	      "outputs not driven off at reset");
	fz.armed = false;
	fz.idle_ticks = 0;
	fz.loop_open_ticks = 0;
	memset(fz.differ_ticks, 0, sizeof(fz.differ_ticks));
}

/* One input across a tick: a level is taken after exactly its debounce time of
 * ticks in a row (at least one), and counted when it rises. */
static void check_input(int i, uint8_t raw, uint8_t before, uint16_t count_before, uint8_t limit)
{
	uint8_t bit = (uint8_t)(1u << i), after = fz.b.in_state;
	bool toggled = (before ^ after) & bit;

	fz.differ_ticks[i] = (raw ^ before) & bit ? fz.differ_ticks[i] + 1 : 0;
	CHECK(toggled == (fz.differ_ticks[i] >= (limit ? limit : 1)),
	      "input taken before or after its debounce time");
	if (toggled)
		fz.differ_ticks[i] = 0;
	CHECK(fz.b.in_count[i] == (uint16_t)(count_before + (toggled && (after & bit))),
	      "edge counter differs from the debounced rising edges");
}

static void tick(void)
{
	uint16_t trips = fz.b.wdt_trips, counts[IOB_IN_COUNT];
	uint8_t raw = fz.port.inputs, before = fz.b.in_state, debounce = fz.b.debounce_ms;

	memcpy(counts, fz.b.in_count, sizeof(counts));
	iob_tick_1ms(&fz.b);
	for (int i = 0; i < IOB_IN_COUNT; i++)
		check_input(i, raw, before, counts[i],
			    i == IOB_IN_FIRE_LOOP_OK ? IOB_FIRE_DEBOUNCE_MS : debounce);
	fz.ticks++;
	fz.idle_ticks++;
	fz.loop_open_ticks = fz.port.inputs & LOOP_OK ? 0 : fz.loop_open_ticks + 1;
	if (fz.b.wdt_trips != trips)
		fz.armed = false;
	fz.now += 1000;
	iob_poll(&fz.b, fz.now);
	check_board();
}

static void send_frame(const uint8_t *bytes, size_t n, bool own_unit, bool fix_crc)
{
	uint8_t f[MB_ADU_MAX + 8];
	size_t len = 0;
	uint16_t crc;

	if (own_unit)
		f[len++] = fz.b.mb.unit;
	memcpy(f + len, bytes, n);
	len += n;
	if (fix_crc) {
		crc = mb_crc16(f, len);
		f[len++] = (uint8_t)crc;
		f[len++] = (uint8_t)(crc >> 8);
	}
	/* T3.5 of silence first, so the frame stands on its own */
	fz.now += fz.b.rtu.t35_us;
	for (size_t i = 0; i < len; i++) {
		fz.now += fz.b.rtu.t_char_us;
		iob_rx(&fz.b, f[i], fz.now);
	}
	fz.now += fz.b.rtu.t35_us;
	iob_poll(&fz.b, fz.now);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;

	memset(&fz, 0, sizeof(fz));
	fz.size = size;
	fz.now = 0xfff00000u; /* the microsecond clock wraps early in every run */
	fz.port.inputs = LOOP_OK;
	memset(fz.port.eeprom, 0xff, sizeof(fz.port.eeprom));
	board_reset();
	check_board();

	while (p < end) {
		uint8_t op = *p++, kind = op & 7, arg = op >> 3, operand = p < end ? *p : 0;
		size_t n, k;

		switch (kind) {
		case 0:
		case 1:
		case 7:
			n = p < end ? *p++ : 0;
			if (n > (size_t)(end - p))
				n = (size_t)(end - p);
			send_frame(p, n, kind == 7, kind != 1);
			p += n;
			break;
		case 2:
			p += p < end;
			for (k = 1 + (size_t)operand * (1 + (arg & 7)); k > 0; k--) {
				if (fz.ticks >= TICK_BUDGET)
					break;
				tick();
			}
			break;
		case 3:
			p += p < end;
			fz.port.inputs = operand;
			break;
		case 4:
			p += p < end;
			fz.now += fz.b.rtu.t_char_us + arg * 125u;
			iob_rx(&fz.b, operand, fz.now);
			break;
		case 5:
			fz.now += arg * 125u;
			iob_poll(&fz.b, fz.now);
			break;
		case 6:
			if (arg == 1)
				memset(fz.port.eeprom, 0xff, sizeof(fz.port.eeprom));
			board_reset();
			break;
		}
		check_board();
	}
	return 0;
}
