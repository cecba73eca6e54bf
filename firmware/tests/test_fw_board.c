/*
 * IO board application: reset state, pulses, debounce and counters, host
 * watchdog, fire loop priority, EEPROM settings, diagnostics, and a request
 * through the real framer.  Time moves only through iob_tick_1ms().
 */
#include "fw_test.h"

#define UNIT IOB_DEFAULT_UNIT_ID
#define FIRE_OK (1u << IOB_IN_FIRE_LOOP_OK)
#define OPEN_AB ((1u << IOB_OUT_OPEN_A) | (1u << IOB_OUT_OPEN_B))

struct fx {
	struct fake_port port;
	struct iob b;
	uint8_t req[MB_ADU_MAX];
};

static int setup(void **state)
{
	static struct fx fx;

	memset(&fx, 0, sizeof(fx));
	memset(fx.port.eeprom, 0xFF, sizeof(fx.port.eeprom));
	fx.port.inputs = FIRE_OK;
	iob_init(&fx.b, &fake_port_ops, &fx.port);
	*state = &fx;
	return 0;
}

static void ticks(struct fx *f, unsigned ms)
{
	while (ms--)
		iob_tick_1ms(&f->b);
}

/* Send a request; returns the server's result.  The reply (if any) is in port.tx. */
static int req(struct fx *f, uint16_t len)
{
	f->port.tx_len = 0;
	return iob_adu(&f->b, f->req, len);
}

static int write_coil(struct fx *f, uint16_t addr, int on)
{
	return req(f, fw_req4(f->req, UNIT, 0x05, addr, on ? 0xFF00 : 0));
}

static int write_reg(struct fx *f, uint16_t addr, uint16_t v)
{
	return req(f, fw_req4(f->req, UNIT, 0x06, addr, v));
}

static uint16_t read_reg(struct fx *f, uint8_t fc, uint16_t addr)
{
	assert_int_equal(req(f, fw_req4(f->req, UNIT, fc, addr, 1)), MB_OK);
	assert_int_equal(f->port.tx_len, 7);
	return mb_get_be16(f->port.tx + 3);
}

static int read_bit(struct fx *f, uint8_t fc, uint16_t addr)
{
	assert_int_equal(req(f, fw_req4(f->req, UNIT, fc, addr, 1)), MB_OK);
	assert_int_equal(f->port.tx_len, 6);
	return f->port.tx[3] & 1;
}

static void outputs_are_off_at_reset_and_nothing_pulses_at_boot(void **state)
{
	struct fx *f = *state;

	assert_int_equal(f->port.outputs, 0);
	assert_int_equal(f->port.output_writes, 1); /* the explicit "all off" in init */
	ticks(f, 5000);
	assert_int_equal(f->port.outputs, 0);
	assert_int_equal(f->port.output_writes, 1);
	assert_int_equal(req(f, fw_req4(f->req, UNIT, 0x01, 0, IOB_COIL_COUNT)), MB_OK);
	assert_int_equal(f->port.tx[3], 0);
	assert_int_equal(f->port.tx[4], 0);
	assert_int_equal(f->port.tx[5], 0);
	assert_int_equal(read_reg(f, 0x04, IOB_IR_STATUS), IOB_STATUS_EEPROM_DEFAULTS);
	assert_int_equal(f->port.tx_count, 2);
}

static void inputs_active_at_boot_are_not_counted_as_edges(void **state)
{
	struct fx *f = *state;

	f->port.inputs = FIRE_OK | (1u << IOB_IN_PASS_A) | (1u << IOB_IN_TAMPER);
	iob_init(&f->b, &fake_port_ops, &f->port);
	ticks(f, 100);
	assert_int_equal(read_reg(f, 0x04, IOB_IR_COUNTER(IOB_IN_PASS_A)), 0);
	assert_int_equal(read_bit(f, 0x02, IOB_IN_PASS_A), 1);
	assert_int_equal(read_bit(f, 0x02, IOB_IN_TAMPER), 1);
}

static void level_coil_drives_output_and_reads_back(void **state)
{
	struct fx *f = *state;

	assert_int_equal(write_coil(f, IOB_COIL_OUT(IOB_OUT_LED_GREEN), 1), MB_OK);
	assert_int_equal(f->port.outputs, 1u << IOB_OUT_LED_GREEN);
	assert_int_equal(read_bit(f, 0x01, IOB_COIL_OUT(IOB_OUT_LED_GREEN)), 1);
	assert_int_equal(write_coil(f, IOB_COIL_OUT(IOB_OUT_LED_GREEN), 0), MB_OK);
	assert_int_equal(f->port.outputs, 0);
}

static void pulse_ends_at_configured_ms_even_without_host(void **state)
{
	struct fx *f = *state;

	assert_int_equal(write_reg(f, IOB_HR_PULSE_MS(IOB_OUT_OPEN_A), 300), MB_OK);
	assert_int_equal(write_coil(f, IOB_COIL_PULSE(IOB_OUT_OPEN_A), 1), MB_OK);
	assert_int_equal(f->port.outputs, 1u << IOB_OUT_OPEN_A);
	assert_int_equal(read_bit(f, 0x01, IOB_COIL_PULSE(IOB_OUT_OPEN_A)), 1);
	/* From here on the host says nothing. */
	ticks(f, 299);
	assert_int_equal(f->port.outputs, 1u << IOB_OUT_OPEN_A);
	ticks(f, 1);
	assert_int_equal(f->port.outputs, 0);
	ticks(f, 1000);
	assert_int_equal(f->port.outputs, 0);
	assert_int_equal(read_bit(f, 0x01, IOB_COIL_PULSE(IOB_OUT_OPEN_A)), 0);
}

static void pulse_default_is_500ms_and_zero_on_trigger_cancels(void **state)
{
	struct fx *f = *state;

	assert_int_equal(read_reg(f, 0x03, IOB_HR_PULSE_MS(IOB_OUT_BUZZER)), 500);
	write_coil(f, IOB_COIL_PULSE(IOB_OUT_BUZZER), 1);
	ticks(f, 499);
	assert_int_equal(f->port.outputs, 1u << IOB_OUT_BUZZER);
	ticks(f, 1);
	assert_int_equal(f->port.outputs, 0);
	write_coil(f, IOB_COIL_PULSE(IOB_OUT_BUZZER), 1);
	ticks(f, 10);
	assert_int_equal(write_coil(f, IOB_COIL_PULSE(IOB_OUT_BUZZER), 0), MB_OK);
	assert_int_equal(f->port.outputs, 0);
}

static void pulse_duration_zero_is_refused_as_illegal_value(void **state)
{
	struct fx *f = *state;

	assert_int_equal(write_reg(f, IOB_HR_PULSE_MS(0), 0), MB_EX_ILLEGAL_DATA_VALUE);
	assert_int_equal(read_reg(f, 0x03, IOB_HR_PULSE_MS(0)), 500);
}

static void two_pulses_run_independently(void **state)
{
	struct fx *f = *state;
	const uint16_t ms[2] = {100, 200};
	const uint8_t both = 0x03;

	req(f, fw_req_wregs(f->req, UNIT, IOB_HR_PULSE_MS(0), 2, ms));
	assert_int_equal(req(f, fw_req_wcoils(f->req, UNIT, IOB_COIL_PULSE(0), 2, &both)), MB_OK);
	assert_int_equal(f->port.outputs, OPEN_AB);
	ticks(f, 100);
	assert_int_equal(f->port.outputs, 1u << IOB_OUT_OPEN_B);
	ticks(f, 100);
	assert_int_equal(f->port.outputs, 0);
}

static void five_ms_pass_pulse_between_polls_is_counted_once(void **state)
{
	struct fx *f = *state;

	assert_int_equal(read_reg(f, 0x03, IOB_HR_DEBOUNCE_MS), 3);
	f->port.inputs |= 1u << IOB_IN_PASS_A;
	ticks(f, 5);
	f->port.inputs &= (uint8_t) ~(1u << IOB_IN_PASS_A);
	ticks(f, 50);
	assert_int_equal(read_reg(f, 0x04, IOB_IR_COUNTER(IOB_IN_PASS_A)), 1);
	assert_int_equal(read_bit(f, 0x02, IOB_IN_PASS_A), 0);
	/* Reading does not clear it: the host compares with its last value. */
	assert_int_equal(read_reg(f, 0x04, IOB_IR_COUNTER(IOB_IN_PASS_A)), 1);
	assert_int_equal(read_reg(f, 0x04, IOB_IR_COUNTER(IOB_IN_PASS_B)), 0);
}

static void contact_bounce_is_not_counted(void **state)
{
	struct fx *f = *state;
	const uint8_t bit = 1u << IOB_IN_CONFIRM;

	/* 1 ms and 2 ms blips: never 3 ms stable. */
	for (int i = 0; i < 20; i++) {
		f->port.inputs ^= bit;
		ticks(f, 1 + (unsigned)(i % 2));
	}
	f->port.inputs &= (uint8_t)~bit;
	ticks(f, 20);
	assert_int_equal(read_reg(f, 0x04, IOB_IR_COUNTER(IOB_IN_CONFIRM)), 0);
	/* A press that bounces on its way in counts once. */
	for (int i = 0; i < 6; i++) {
		f->port.inputs ^= bit;
		ticks(f, 1);
	}
	f->port.inputs |= bit;
	ticks(f, 100);
	assert_int_equal(read_reg(f, 0x04, IOB_IR_COUNTER(IOB_IN_CONFIRM)), 1);
	assert_int_equal(read_bit(f, 0x02, IOB_IN_CONFIRM), 1);
}

static void debounce_register_sets_filter_and_is_bounded(void **state)
{
	struct fx *f = *state;

	assert_int_equal(write_reg(f, IOB_HR_DEBOUNCE_MS, 256), MB_EX_ILLEGAL_DATA_VALUE);
	assert_int_equal(write_reg(f, IOB_HR_DEBOUNCE_MS, 10), MB_OK);
	f->port.inputs |= 1u << IOB_IN_REJECT;
	ticks(f, 9);
	assert_int_equal(read_bit(f, 0x02, IOB_IN_REJECT), 0);
	ticks(f, 1);
	assert_int_equal(read_bit(f, 0x02, IOB_IN_REJECT), 1);
}

static void edge_counter_wraps_at_16_bits(void **state)
{
	struct fx *f = *state;

	f->b.in_count[IOB_IN_PASS_B] = 0xFFFF;
	f->port.inputs |= 1u << IOB_IN_PASS_B;
	ticks(f, 10);
	assert_int_equal(read_reg(f, 0x04, IOB_IR_COUNTER(IOB_IN_PASS_B)), 0);
}

static void watchdog_trip_drives_outputs_safe_and_latches_status(void **state)
{
	struct fx *f = *state;

	assert_int_equal(write_reg(f, IOB_HR_WATCHDOG_MS, 100), MB_OK);
	write_coil(f, IOB_COIL_OUT(IOB_OUT_STOP), 1);
	write_coil(f, IOB_COIL_OUT(IOB_OUT_LED_RED), 1);
	write_coil(f, IOB_COIL_PULSE(IOB_OUT_ALARM), 1);
	assert_int_equal(read_reg(f, 0x04, IOB_IR_STATUS),
			 IOB_STATUS_WDT_ARMED | IOB_STATUS_EEPROM_DEFAULTS);
	ticks(f, 99);
	assert_int_equal(f->port.outputs,
			 (1u << IOB_OUT_STOP) | (1u << IOB_OUT_LED_RED) | (1u << IOB_OUT_ALARM));
	ticks(f, 1);
	assert_int_equal(f->port.outputs, 0);
	ticks(f, 1000);
	assert_int_equal(f->port.outputs, 0);
	assert_int_equal(read_reg(f, 0x04, IOB_IR_STATUS) & IOB_STATUS_WDT_TRIPPED,
			 IOB_STATUS_WDT_TRIPPED);
	assert_int_equal(read_reg(f, 0x04, IOB_IR_WDT_TRIPS), 1);
	/* Outputs stay safe until the host writes them again; the bit until acknowledged. */
	assert_int_equal(f->port.outputs, 0);
	assert_int_equal(write_coil(f, IOB_COIL_WDT_ACK, 1), MB_OK);
	assert_int_equal(read_reg(f, 0x04, IOB_IR_STATUS) & IOB_STATUS_WDT_TRIPPED, 0);
}

static void any_request_to_us_feeds_the_watchdog_others_do_not(void **state)
{
	struct fx *f = *state;

	write_reg(f, IOB_HR_WATCHDOG_MS, 100);
	write_coil(f, IOB_COIL_OUT(IOB_OUT_LED_YELLOW), 1);
	for (int i = 0; i < 10; i++) {
		ticks(f, 90);
		/* Even a request answered with an exception proves the host alive. */
		assert_int_equal(req(f, fw_req4(f->req, UNIT, 0x03, 200, 1)),
				 MB_EX_ILLEGAL_DATA_ADDRESS);
	}
	assert_int_equal(f->port.outputs, 1u << IOB_OUT_LED_YELLOW);
	/* Traffic for another unit does not. */
	for (int i = 0; i < 2; i++) {
		ticks(f, 60);
		assert_int_equal(req(f, fw_req4(f->req, UNIT + 1, 0x03, 0, 1)),
				 MB_ERR_NOT_ADDRESSED);
	}
	assert_int_equal(f->port.outputs, 0);
}

static void watchdog_zero_means_off(void **state)
{
	struct fx *f = *state;

	write_coil(f, IOB_COIL_OUT(IOB_OUT_LED_GREEN), 1);
	ticks(f, 70000);
	assert_int_equal(f->port.outputs, 1u << IOB_OUT_LED_GREEN);
	assert_int_equal(read_reg(f, 0x04, IOB_IR_WDT_TRIPS), 0);
}

/* Ticks until both open outputs are on, at most limit; returns the count. */
static unsigned ticks_until_open_ab(struct fx *f, unsigned limit)
{
	unsigned n = 0;

	while ((f->port.outputs & OPEN_AB) != OPEN_AB && n < limit) {
		iob_tick_1ms(&f->b);
		n++;
	}
	return n;
}

static void fire_loop_open_opens_both_directions_within_50ms(void **state)
{
	struct fx *f = *state;
	unsigned n;

	write_coil(f, IOB_COIL_OUT(IOB_OUT_STOP), 1);
	f->port.inputs &= (uint8_t)~FIRE_OK;
	n = ticks_until_open_ab(f, 1000);
	assert_in_range(n, 1, 50);
	assert_int_equal(n, IOB_FIRE_DEBOUNCE_MS);
	/* Stop, which a turnstile obeys over Unlock, is dropped in the same tick. */
	assert_int_equal(f->port.outputs, OPEN_AB);
	assert_int_equal(read_reg(f, 0x04, IOB_IR_STATUS) & IOB_STATUS_FIRE, IOB_STATUS_FIRE);
	assert_int_equal(read_bit(f, 0x02, IOB_IN_FIRE_LOOP_OK), 0);
}

static void fire_loop_refuses_host_output_writes_with_device_failure(void **state)
{
	struct fx *f = *state;
	const uint8_t zeros = 0;

	f->port.inputs &= (uint8_t)~FIRE_OK;
	ticks(f, 50);
	assert_int_equal(write_coil(f, IOB_COIL_OUT(IOB_OUT_OPEN_A), 0), MB_EX_DEVICE_FAILURE);
	assert_int_equal(f->port.tx[1], 0x85);
	assert_int_equal(f->port.tx[2], MB_EX_DEVICE_FAILURE);
	assert_int_equal(write_coil(f, IOB_COIL_OUT(IOB_OUT_STOP), 1), MB_EX_DEVICE_FAILURE);
	assert_int_equal(write_coil(f, IOB_COIL_PULSE(IOB_OUT_OPEN_B), 0), MB_EX_DEVICE_FAILURE);
	assert_int_equal(write_coil(f, IOB_COIL_PULSE(IOB_OUT_STOP), 1), MB_EX_DEVICE_FAILURE);
	/* All or nothing: a block that touches a gate output changes nothing. */
	assert_int_equal(req(f, fw_req_wcoils(f->req, UNIT, 0, 8, &zeros)), MB_EX_DEVICE_FAILURE);
	assert_int_equal(f->port.outputs, OPEN_AB);
	/* The indicators stay the host's: the attendant still sees and hears the alarm. */
	assert_int_equal(write_coil(f, IOB_COIL_OUT(IOB_OUT_ALARM), 1), MB_OK);
	assert_int_equal(write_coil(f, IOB_COIL_PULSE(IOB_OUT_BUZZER), 1), MB_OK);
	assert_int_equal(f->port.outputs,
			 OPEN_AB | (1u << IOB_OUT_ALARM) | (1u << IOB_OUT_BUZZER));
	ticks(f, IOB_DEFAULT_PULSE_MS);
	assert_int_equal(f->port.outputs, OPEN_AB | (1u << IOB_OUT_ALARM));
	write_coil(f, IOB_COIL_OUT(IOB_OUT_ALARM), 0);
	assert_int_equal(f->port.outputs, OPEN_AB);
	/* Configuration and reads still work. */
	assert_int_equal(write_reg(f, IOB_HR_PULSE_MS(0), 700), MB_OK);
	/* Even the watchdog's safe state leaves the fire override on. */
	write_reg(f, IOB_HR_WATCHDOG_MS, 10);
	ticks(f, 100);
	assert_int_equal(read_reg(f, 0x04, IOB_IR_WDT_TRIPS), 1);
	assert_int_equal(f->port.outputs, OPEN_AB);
}

static void fire_loop_closing_releases_to_safe_and_accepts_writes(void **state)
{
	struct fx *f = *state;

	write_coil(f, IOB_COIL_PULSE(IOB_OUT_OPEN_A), 1);
	write_coil(f, IOB_COIL_OUT(IOB_OUT_STOP), 1);
	f->port.inputs &= (uint8_t)~FIRE_OK;
	ticks(f, 1000);
	f->port.inputs |= FIRE_OK;
	ticks(f, IOB_FIRE_DEBOUNCE_MS - 1);
	assert_int_equal(f->port.outputs, OPEN_AB);
	ticks(f, 1);
	assert_int_equal(f->port.outputs, 0);
	assert_int_equal(read_reg(f, 0x04, IOB_IR_STATUS) & IOB_STATUS_FIRE, 0);
	assert_int_equal(write_coil(f, IOB_COIL_OUT(IOB_OUT_OPEN_B), 1), MB_OK);
	assert_int_equal(f->port.outputs, 1u << IOB_OUT_OPEN_B);
}

static void fire_loop_filter_ignores_glitch_and_long_debounce(void **state)
{
	struct fx *f = *state;

	/* The debounce register cannot slow the fire loop down. */
	write_reg(f, IOB_HR_DEBOUNCE_MS, 255);
	f->port.inputs &= (uint8_t)~FIRE_OK;
	ticks(f, IOB_FIRE_DEBOUNCE_MS - 1);
	f->port.inputs |= FIRE_OK;
	ticks(f, 100);
	assert_int_equal(f->port.outputs, 0);
	f->port.inputs &= (uint8_t)~FIRE_OK;
	assert_int_equal(ticks_until_open_ab(f, 1000), IOB_FIRE_DEBOUNCE_MS);
}

static void fire_loop_open_at_boot_opens_within_50ms(void **state)
{
	struct fx *f = *state;

	f->port.inputs = 0;
	iob_init(&f->b, &fake_port_ops, &f->port);
	assert_int_equal(f->port.outputs, 0);
	assert_in_range(ticks_until_open_ab(f, 1000), 1, 50);
}

static void unit_id_and_baud_commit_to_eeprom_and_apply_after_reset(void **state)
{
	struct fx *f = *state;
	const uint16_t v[3] = {9, 96, IOB_COMMIT_MAGIC};

	assert_int_equal(req(f, fw_req_wregs(f->req, UNIT, IOB_HR_UNIT_ID, 3, v)), MB_OK);
	/* The reply still comes from the old unit id. */
	assert_int_equal(f->port.tx[0], UNIT);
	assert_int_equal(f->port.eeprom[0], IOB_EEPROM_MAGIC);
	assert_int_equal(f->port.eeprom[2], 9);
	assert_int_equal(read_reg(f, 0x04, IOB_IR_STATUS) & IOB_STATUS_CONFIG_PENDING,
			 IOB_STATUS_CONFIG_PENDING);
	assert_int_equal(read_reg(f, 0x04, IOB_IR_UNIT_ID), UNIT);
	assert_int_equal(read_reg(f, 0x03, IOB_HR_UNIT_ID), 9);
	assert_int_equal(iob_baud(&f->b), 19200);

	iob_init(&f->b, &fake_port_ops, &f->port);
	assert_int_equal(iob_baud(&f->b), 9600);
	assert_int_equal(req(f, fw_req4(f->req, UNIT, 0x04, IOB_IR_UNIT_ID, 1)),
			 MB_ERR_NOT_ADDRESSED);
	assert_int_equal(req(f, fw_req4(f->req, 9, 0x04, IOB_IR_UNIT_ID, 2)), MB_OK);
	assert_int_equal(f->port.tx[0], 9);
	assert_int_equal(mb_get_be16(f->port.tx + 3), 9);
	assert_int_equal(mb_get_be16(f->port.tx + 5), 96);
	assert_int_equal(req(f, fw_req4(f->req, 9, 0x04, IOB_IR_STATUS, 1)), MB_OK);
	assert_int_equal(mb_get_be16(f->port.tx + 3), 0);
}

/* Bytes of one ADU through the framer at the board's own character time; returns tx_count. */
static unsigned framed(struct fx *f, uint16_t len, uint32_t *t)
{
	uint32_t tc = f->b.rtu.t_char_us;

	for (uint16_t i = 0; i < len; i++)
		iob_rx(&f->b, f->req[i], *t += tc);
	*t += f->b.rtu.t35_us;
	iob_poll(&f->b, *t);
	*t += 10000;
	return f->port.tx_count;
}

static void unit_id_and_baud_set_one_by_one_apply_only_once_committed_and_reset(void **state)
{
	struct fx *f = *state;
	uint32_t t = 1000;
	unsigned n;

	/* Set with FC06, one register at a time, but not committed: a reset forgets them. */
	assert_int_equal(write_reg(f, IOB_HR_UNIT_ID, 42), MB_OK);
	assert_int_equal(write_reg(f, IOB_HR_BAUD_100, 1152), MB_OK);
	assert_int_equal(read_reg(f, 0x04, IOB_IR_STATUS) & IOB_STATUS_CONFIG_PENDING, 0);
	assert_int_equal(read_reg(f, 0x04, IOB_IR_BAUD_100), IOB_DEFAULT_BAUD_100);
	iob_init(&f->b, &fake_port_ops, &f->port);
	assert_int_equal(read_reg(f, 0x03, IOB_HR_UNIT_ID), IOB_DEFAULT_UNIT_ID);
	assert_int_equal(read_reg(f, 0x03, IOB_HR_BAUD_100), IOB_DEFAULT_BAUD_100);

	/* Set and committed, with the commit as its own FC06 write. */
	assert_int_equal(write_reg(f, IOB_HR_UNIT_ID, 42), MB_OK);
	assert_int_equal(write_reg(f, IOB_HR_BAUD_100, 1152), MB_OK);
	assert_int_equal(write_reg(f, IOB_HR_COMMIT, IOB_COMMIT_MAGIC), MB_OK);
	assert_int_equal(read_reg(f, 0x03, IOB_HR_COMMIT), 0);
	assert_int_equal(read_reg(f, 0x04, IOB_IR_STATUS) & IOB_STATUS_CONFIG_PENDING,
			 IOB_STATUS_CONFIG_PENDING);
	/* Until the reset the board keeps its line: unit 1, 19200 baud, T3.5 of 11 bits x 3.5. */
	assert_int_equal(f->b.rtu.t35_us, 2006);
	n = f->port.tx_count;
	assert_int_equal(framed(f, fw_req4(f->req, UNIT, 0x04, IOB_IR_UNIT_ID, 1), &t), n + 1);
	assert_int_equal(f->port.tx[0], UNIT);

	iob_init(&f->b, &fake_port_ops, &f->port);
	assert_int_equal(iob_baud(&f->b), 115200);
	/* Above 19200 baud the spec fixes T1.5/T3.5; the character time follows the baud. */
	assert_int_equal(f->b.rtu.t_char_us, 96);
	assert_int_equal(f->b.rtu.t15_us, 750);
	assert_int_equal(f->b.rtu.t35_us, 1750);
	n = f->port.tx_count;
	assert_int_equal(framed(f, fw_req4(f->req, UNIT, 0x04, IOB_IR_UNIT_ID, 1), &t), n);
	assert_int_equal(framed(f, fw_req4(f->req, 42, 0x04, IOB_IR_UNIT_ID, 2), &t), n + 1);
	assert_int_equal(f->port.tx[0], 42);
	assert_int_equal(mb_get_be16(f->port.tx + 3), 42);
	assert_int_equal(mb_get_be16(f->port.tx + 5), 1152);
	assert_int_equal(req(f, fw_req4(f->req, 42, 0x04, IOB_IR_STATUS, 1)), MB_OK);
	assert_int_equal(mb_get_be16(f->port.tx + 3), 0); /* no defaults, nothing pending */

	/* And back, over the new unit id: unit 1 at 9600 after the next reset. */
	assert_int_equal(req(f, fw_req4(f->req, 42, 0x06, IOB_HR_UNIT_ID, 1)), MB_OK);
	assert_int_equal(req(f, fw_req4(f->req, 42, 0x06, IOB_HR_BAUD_100, 96)), MB_OK);
	assert_int_equal(req(f, fw_req4(f->req, 42, 0x06, IOB_HR_COMMIT, IOB_COMMIT_MAGIC)),
			 MB_OK);
	iob_init(&f->b, &fake_port_ops, &f->port);
	assert_int_equal(iob_baud(&f->b), 9600);
	assert_int_equal(f->b.rtu.t35_us, 4011);
	assert_int_equal(read_reg(f, 0x04, IOB_IR_UNIT_ID), 1);
}

static void settings_out_of_range_and_bad_commit_are_refused(void **state)
{
	struct fx *f = *state;
	uint8_t blank[sizeof(f->port.eeprom)];
	const uint16_t v[2] = {42, 7};

	memcpy(blank, f->port.eeprom, sizeof(blank));
	assert_int_equal(write_reg(f, IOB_HR_UNIT_ID, 0), MB_EX_ILLEGAL_DATA_VALUE);
	assert_int_equal(write_reg(f, IOB_HR_UNIT_ID, 248), MB_EX_ILLEGAL_DATA_VALUE);
	assert_int_equal(write_reg(f, IOB_HR_BAUD_100, 100), MB_EX_ILLEGAL_DATA_VALUE);
	assert_int_equal(write_reg(f, IOB_HR_COMMIT, 1), MB_EX_ILLEGAL_DATA_VALUE);
	assert_memory_equal(f->port.eeprom, blank, sizeof(blank));
	/* All or nothing: a bad value later in a block write leaves the earlier ones alone. */
	assert_int_equal(req(f, fw_req_wregs(f->req, UNIT, IOB_HR_UNIT_ID, 2, v)),
			 MB_EX_ILLEGAL_DATA_VALUE);
	assert_int_equal(read_reg(f, 0x03, IOB_HR_UNIT_ID), UNIT);
	f->port.eeprom_fail = true;
	assert_int_equal(write_reg(f, IOB_HR_COMMIT, IOB_COMMIT_MAGIC), MB_EX_DEVICE_FAILURE);
}

static void corrupt_eeprom_falls_back_to_defaults_and_says_so(void **state)
{
	struct fx *f = *state;
	const uint16_t v[1] = {33};

	req(f, fw_req_wregs(f->req, UNIT, IOB_HR_UNIT_ID, 1, v));
	write_reg(f, IOB_HR_COMMIT, IOB_COMMIT_MAGIC);
	f->port.eeprom[2] ^= 0x01; /* unit id bit flip: CRC no longer matches */
	iob_init(&f->b, &fake_port_ops, &f->port);
	assert_int_equal(read_reg(f, 0x04, IOB_IR_UNIT_ID), IOB_DEFAULT_UNIT_ID);
	assert_int_equal(read_reg(f, 0x04, IOB_IR_STATUS), IOB_STATUS_EEPROM_DEFAULTS);
}

static void diagnostic_counters_and_version_are_in_input_registers(void **state)
{
	struct fx *f = *state;
	uint16_t len;

	read_reg(f, 0x04, 0);			   /* frame ok */
	req(f, fw_req4(f->req, UNIT, 0x03, 0, 0)); /* frame ok, exception */
	len = fw_req4(f->req, UNIT, 0x03, 0, 1);
	f->req[len - 1] ^= 0xFF;
	req(f, len); /* CRC error */
	assert_int_equal(req(f, fw_req4(f->req, UNIT, 0x04, IOB_IR_FW_VERSION, 5)), MB_OK);
	assert_int_equal(mb_get_be16(f->port.tx + 3), IOB_FW_VERSION);
	assert_int_equal(mb_get_be16(f->port.tx + 5), 3);  /* frames ok, this one included */
	assert_int_equal(mb_get_be16(f->port.tx + 7), 1);  /* CRC errors */
	assert_int_equal(mb_get_be16(f->port.tx + 9), 1);  /* exceptions */
	assert_int_equal(mb_get_be16(f->port.tx + 11), 0); /* watchdog trips */
}

/* The whole path: bytes with timestamps -> framer -> server -> bank -> UART. */
static void request_through_framer_is_answered_and_gapped_one_is_dropped(void **state)
{
	struct fx *f = *state;
	uint16_t len = fw_req4(f->req, UNIT, 0x05, IOB_COIL_OUT(IOB_OUT_LED_RED), 0xFF00);
	uint32_t t = 1000, tc = f->b.rtu.t_char_us;

	for (uint16_t i = 0; i < len; i++)
		iob_rx(&f->b, f->req[i], t += tc);
	iob_poll(&f->b, t + f->b.rtu.t35_us - 1);
	assert_int_equal(f->port.tx_count, 0);
	iob_poll(&f->b, t + f->b.rtu.t35_us);
	assert_int_equal(f->port.tx_count, 1);
	assert_int_equal(f->port.tx_len, len);
	assert_memory_equal(f->port.tx, f->req, len);
	assert_int_equal(f->port.outputs, 1u << IOB_OUT_LED_RED);

	/* Same frame with a 1 ms hole in the middle: dropped and counted. */
	len = fw_req4(f->req, UNIT, 0x05, IOB_COIL_OUT(IOB_OUT_LED_RED), 0x0000);
	t += 10000;
	for (uint16_t i = 0; i < len; i++)
		iob_rx(&f->b, f->req[i], t += tc + (i == 4 ? 1000 : 0));
	iob_poll(&f->b, t + 10000);
	assert_int_equal(f->port.tx_count, 1);
	assert_int_equal(f->port.outputs, 1u << IOB_OUT_LED_RED);
	assert_int_equal(read_reg(f, 0x04, IOB_IR_FRAME_ERRORS), 1);
}

static void broadcast_write_reaches_board_without_reply(void **state)
{
	struct fx *f = *state;

	assert_int_equal(req(f, fw_req4(f->req, 0, 0x05, IOB_COIL_OUT(IOB_OUT_ALARM), 0xFF00)),
			 MB_OK);
	assert_int_equal(f->port.tx_count, 0);
	assert_int_equal(f->port.outputs, 1u << IOB_OUT_ALARM);
}

#define T(fn) cmocka_unit_test_setup(fn, setup)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(outputs_are_off_at_reset_and_nothing_pulses_at_boot),
	    T(inputs_active_at_boot_are_not_counted_as_edges),
	    T(level_coil_drives_output_and_reads_back),
	    T(pulse_ends_at_configured_ms_even_without_host),
	    T(pulse_default_is_500ms_and_zero_on_trigger_cancels),
	    T(pulse_duration_zero_is_refused_as_illegal_value),
	    T(two_pulses_run_independently),
	    T(five_ms_pass_pulse_between_polls_is_counted_once),
	    T(contact_bounce_is_not_counted),
	    T(debounce_register_sets_filter_and_is_bounded),
	    T(edge_counter_wraps_at_16_bits),
	    T(watchdog_trip_drives_outputs_safe_and_latches_status),
	    T(any_request_to_us_feeds_the_watchdog_others_do_not),
	    T(watchdog_zero_means_off),
	    T(fire_loop_open_opens_both_directions_within_50ms),
	    T(fire_loop_refuses_host_output_writes_with_device_failure),
	    T(fire_loop_closing_releases_to_safe_and_accepts_writes),
	    T(fire_loop_filter_ignores_glitch_and_long_debounce),
	    T(fire_loop_open_at_boot_opens_within_50ms),
	    T(unit_id_and_baud_commit_to_eeprom_and_apply_after_reset),
	    T(unit_id_and_baud_set_one_by_one_apply_only_once_committed_and_reset),
	    T(settings_out_of_range_and_bad_commit_are_refused),
	    T(corrupt_eeprom_falls_back_to_defaults_and_says_so),
	    T(diagnostic_counters_and_version_are_in_input_registers),
	    T(request_through_framer_is_answered_and_gapped_one_is_dropped),
	    T(broadcast_write_reaches_board_without_reply),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
