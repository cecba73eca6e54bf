/*
 * Modbus server: every function code's normal and exception paths, checked in
 * the documented order, against a plain array bank; plus unit id, broadcast,
 * bad CRC and truncated frames.
 */
#include "fw_test.h"

#define N_COILS 20
#define N_DI 12
#define N_HR 10
#define N_IR 6

struct bank {
	uint8_t coils[N_COILS];
	uint8_t di[N_DI];
	uint16_t hr[N_HR];
	uint16_t ir[N_IR];
	unsigned calls;
	int refuse; /* returned by every callback when non-zero */
};

static int bank_read_bits(void *ctx, enum mb_table t, uint16_t addr, uint16_t qty, uint8_t *out)
{
	struct bank *b = ctx;

	b->calls++;
	if (b->refuse)
		return b->refuse;
	for (uint16_t i = 0; i < qty; i++)
		mb_put_bit(out, i, t == MB_TABLE_COILS ? b->coils[addr + i] : b->di[addr + i]);
	return 0;
}

static int bank_read_regs(void *ctx, enum mb_table t, uint16_t addr, uint16_t qty, uint8_t *out)
{
	struct bank *b = ctx;

	b->calls++;
	if (b->refuse)
		return b->refuse;
	for (uint16_t i = 0; i < qty; i++)
		mb_put_be16(out + 2 * i,
			    t == MB_TABLE_HOLDING_REGISTERS ? b->hr[addr + i] : b->ir[addr + i]);
	return 0;
}

static int bank_write_coils(void *ctx, uint16_t addr, uint16_t qty, const uint8_t *packed)
{
	struct bank *b = ctx;

	b->calls++;
	if (b->refuse)
		return b->refuse;
	for (uint16_t i = 0; i < qty; i++)
		b->coils[addr + i] = (uint8_t)mb_get_bit(packed, i);
	return 0;
}

static int bank_write_regs(void *ctx, uint16_t addr, uint16_t qty, const uint8_t *be)
{
	struct bank *b = ctx;

	b->calls++;
	if (b->refuse)
		return b->refuse;
	for (uint16_t i = 0; i < qty; i++)
		b->hr[addr + i] = mb_get_be16(be + 2 * i);
	return 0;
}

static const struct mb_bank_ops bank_ops = {
    .read_bits = bank_read_bits,
    .read_regs = bank_read_regs,
    .write_coils = bank_write_coils,
    .write_regs = bank_write_regs,
};

struct fx {
	struct bank bank;
	struct mb_server s;
	uint8_t req[MB_ADU_MAX];
	uint8_t rsp[MB_ADU_MAX];
	uint16_t rsp_len;
};

static int setup(void **state)
{
	static struct fx fx;
	const uint16_t size[4] = {N_COILS, N_DI, N_HR, N_IR};

	memset(&fx, 0, sizeof(fx));
	mb_server_init(&fx.s, 7, size, &bank_ops, &fx.bank);
	*state = &fx;
	return 0;
}

static int run(struct fx *f, uint16_t len)
{
	int rc = mb_server_adu(&f->s, f->req, len, f->rsp, &f->rsp_len);

	if (f->rsp_len)
		fw_assert_crc(f->rsp, f->rsp_len);
	return rc;
}

/* The request got exception ex: rc, reply fc | 0x80, code, counter. */
static void expect_exception(struct fx *f, uint16_t len, int ex)
{
	uint16_t before = f->s.stats.exceptions;
	uint8_t fc = f->req[1];

	assert_int_equal(run(f, len), ex);
	assert_int_equal(f->rsp_len, 5);
	assert_int_equal(f->rsp[0], 7);
	assert_int_equal(f->rsp[1], fc | 0x80);
	assert_int_equal(f->rsp[2], ex);
	assert_int_equal(f->s.stats.exceptions, before + 1);
}

static void fc01_reads_coils_packed_lsb_first(void **state)
{
	struct fx *f = *state;

	f->bank.coils[3] = 1;
	f->bank.coils[5] = 1;
	f->bank.coils[13] = 1;
	assert_int_equal(run(f, fw_req4(f->req, 7, 0x01, 3, 11)), MB_OK);
	assert_int_equal(f->rsp_len, 7);
	assert_int_equal(f->rsp[1], 0x01);
	assert_int_equal(f->rsp[2], 2);
	assert_int_equal(f->rsp[3], 0x05); /* coils 3 and 5 */
	assert_int_equal(f->rsp[4], 0x04); /* coil 13 is bit 10 of the answer: byte 1 bit 2 */
}

static void fc01_exceptions_in_order_length_quantity_address_callback(void **state)
{
	struct fx *f = *state;
	uint16_t len;

	/* Length: one byte too many, with an address that would also be wrong. */
	f->req[0] = 7;
	f->req[1] = 0x01;
	mb_put_be16(f->req + 2, 100);
	mb_put_be16(f->req + 4, 0);
	f->req[6] = 0;
	expect_exception(f, fw_seal(f->req, 7), MB_EX_ILLEGAL_DATA_VALUE);
	/* Quantity 0 beats the bad address. */
	expect_exception(f, fw_req4(f->req, 7, 0x01, 100, 0), MB_EX_ILLEGAL_DATA_VALUE);
	expect_exception(f, fw_req4(f->req, 7, 0x01, 0, 2001), MB_EX_ILLEGAL_DATA_VALUE);
	/* Address range: last coil + 1. */
	expect_exception(f, fw_req4(f->req, 7, 0x01, 19, 2), MB_EX_ILLEGAL_DATA_ADDRESS);
	assert_int_equal(f->bank.calls, 0);
	/* Callback refusal comes last; an internal error becomes device failure. */
	f->bank.refuse = -1;
	len = fw_req4(f->req, 7, 0x01, 0, 20);
	expect_exception(f, len, MB_EX_DEVICE_FAILURE);
	assert_int_equal(f->bank.calls, 1);
}

static void fc02_reads_discrete_inputs(void **state)
{
	struct fx *f = *state;

	f->bank.di[0] = 1;
	f->bank.di[11] = 1;
	assert_int_equal(run(f, fw_req4(f->req, 7, 0x02, 0, 12)), MB_OK);
	assert_int_equal(f->rsp[2], 2);
	assert_int_equal(f->rsp[3], 0x01);
	assert_int_equal(f->rsp[4], 0x08);
	expect_exception(f, fw_req4(f->req, 7, 0x02, 0, 13), MB_EX_ILLEGAL_DATA_ADDRESS);
	expect_exception(f, fw_req4(f->req, 7, 0x02, 0, 0), MB_EX_ILLEGAL_DATA_VALUE);
}

static void fc03_reads_holding_registers_big_endian(void **state)
{
	struct fx *f = *state;

	f->bank.hr[8] = 0x1234;
	f->bank.hr[9] = 0xABCD;
	assert_int_equal(run(f, fw_req4(f->req, 7, 0x03, 8, 2)), MB_OK);
	assert_int_equal(f->rsp_len, 9);
	assert_int_equal(f->rsp[2], 4);
	assert_int_equal(mb_get_be16(f->rsp + 3), 0x1234);
	assert_int_equal(mb_get_be16(f->rsp + 5), 0xABCD);
	expect_exception(f, fw_req4(f->req, 7, 0x03, 0, 126), MB_EX_ILLEGAL_DATA_VALUE);
	expect_exception(f, fw_req4(f->req, 7, 0x03, 9, 2), MB_EX_ILLEGAL_DATA_ADDRESS);
	expect_exception(f, fw_req4(f->req, 7, 0x03, 0xFFFF, 1), MB_EX_ILLEGAL_DATA_ADDRESS);
}

static void fc04_reads_input_registers(void **state)
{
	struct fx *f = *state;

	f->bank.ir[5] = 42;
	assert_int_equal(run(f, fw_req4(f->req, 7, 0x04, 5, 1)), MB_OK);
	assert_int_equal(mb_get_be16(f->rsp + 3), 42);
	expect_exception(f, fw_req4(f->req, 7, 0x04, 6, 1), MB_EX_ILLEGAL_DATA_ADDRESS);
	f->bank.refuse = MB_EX_DEVICE_FAILURE;
	expect_exception(f, fw_req4(f->req, 7, 0x04, 0, 1), MB_EX_DEVICE_FAILURE);
}

static void fc05_writes_one_coil_and_echoes(void **state)
{
	struct fx *f = *state;
	uint16_t len = fw_req4(f->req, 7, 0x05, 19, 0xFF00);

	assert_int_equal(run(f, len), MB_OK);
	assert_int_equal(f->bank.coils[19], 1);
	assert_int_equal(f->rsp_len, len);
	assert_memory_equal(f->rsp, f->req, len);
	assert_int_equal(run(f, fw_req4(f->req, 7, 0x05, 19, 0x0000)), MB_OK);
	assert_int_equal(f->bank.coils[19], 0);
	/* Value other than FF00/0000 is 03, before the bad address. */
	expect_exception(f, fw_req4(f->req, 7, 0x05, 20, 0x0001), MB_EX_ILLEGAL_DATA_VALUE);
	expect_exception(f, fw_req4(f->req, 7, 0x05, 20, 0xFF00), MB_EX_ILLEGAL_DATA_ADDRESS);
	f->bank.refuse = MB_EX_DEVICE_FAILURE;
	expect_exception(f, fw_req4(f->req, 7, 0x05, 0, 0xFF00), MB_EX_DEVICE_FAILURE);
}

static void fc06_writes_one_register_and_echoes(void **state)
{
	struct fx *f = *state;
	uint16_t len = fw_req4(f->req, 7, 0x06, 9, 0xBEEF);

	assert_int_equal(run(f, len), MB_OK);
	assert_int_equal(f->bank.hr[9], 0xBEEF);
	assert_memory_equal(f->rsp, f->req, len);
	expect_exception(f, fw_req4(f->req, 7, 0x06, 10, 1), MB_EX_ILLEGAL_DATA_ADDRESS);
	f->bank.refuse = MB_EX_ILLEGAL_DATA_VALUE;
	expect_exception(f, fw_req4(f->req, 7, 0x06, 0, 1), MB_EX_ILLEGAL_DATA_VALUE);
}

static void fc15_writes_coils_and_answers_address_and_quantity(void **state)
{
	struct fx *f = *state;
	const uint8_t bits[2] = {0xCD, 0x01};

	assert_int_equal(run(f, fw_req_wcoils(f->req, 7, 10, 10, bits)), MB_OK);
	assert_int_equal(f->rsp_len, 8);
	assert_memory_equal(f->rsp, f->req, 6);
	for (int i = 0; i < 10; i++)
		assert_int_equal(f->bank.coils[10 + i], (i < 8 ? 0xCD >> i : 0x01 >> (i - 8)) & 1);
	/* Byte count inconsistent with quantity. */
	fw_req_wcoils(f->req, 7, 0, 10, bits);
	f->req[6] = 1;
	expect_exception(f, fw_seal(f->req, 8), MB_EX_ILLEGAL_DATA_VALUE);
	/* Length inconsistent with byte count (truncated data). */
	fw_req_wcoils(f->req, 7, 0, 10, bits);
	expect_exception(f, fw_seal(f->req, 8), MB_EX_ILLEGAL_DATA_VALUE);
	expect_exception(f, fw_req_wcoils(f->req, 7, 11, 10, bits), MB_EX_ILLEGAL_DATA_ADDRESS);
	f->bank.refuse = MB_EX_DEVICE_FAILURE;
	expect_exception(f, fw_req_wcoils(f->req, 7, 0, 10, bits), MB_EX_DEVICE_FAILURE);
}

static void fc16_writes_registers_and_answers_address_and_quantity(void **state)
{
	struct fx *f = *state;
	const uint16_t v[3] = {1, 0x8000, 0xFFFF};

	assert_int_equal(run(f, fw_req_wregs(f->req, 7, 7, 3, v)), MB_OK);
	assert_int_equal(f->rsp_len, 8);
	assert_memory_equal(f->rsp, f->req, 6);
	assert_int_equal(f->bank.hr[7], 1);
	assert_int_equal(f->bank.hr[8], 0x8000);
	assert_int_equal(f->bank.hr[9], 0xFFFF);
	/* Quantity 0 with byte count 0. */
	expect_exception(f, fw_req_wregs(f->req, 7, 0, 0, v), MB_EX_ILLEGAL_DATA_VALUE);
	/* Byte count not 2 * quantity. */
	fw_req_wregs(f->req, 7, 0, 3, v);
	f->req[6] = 5;
	expect_exception(f, fw_seal(f->req, 12), MB_EX_ILLEGAL_DATA_VALUE);
	expect_exception(f, fw_req_wregs(f->req, 7, 8, 3, v), MB_EX_ILLEGAL_DATA_ADDRESS);
	f->bank.refuse = -5;
	expect_exception(f, fw_req_wregs(f->req, 7, 0, 3, v), MB_EX_DEVICE_FAILURE);
}

static void fc08_sub0_echoes_query_data_and_other_subs_are_illegal(void **state)
{
	struct fx *f = *state;
	uint16_t len = fw_req4(f->req, 7, 0x08, 0x0000, 0xA537);

	assert_int_equal(run(f, len), MB_OK);
	assert_int_equal(f->rsp_len, len);
	assert_memory_equal(f->rsp, f->req, len);
	expect_exception(f, fw_req4(f->req, 7, 0x08, 0x0001, 0), MB_EX_ILLEGAL_FUNCTION);
}

static void unknown_function_code_is_illegal_function(void **state)
{
	struct fx *f = *state;

	expect_exception(f, fw_req4(f->req, 7, 0x2B, 0, 0), MB_EX_ILLEGAL_FUNCTION);
	expect_exception(f, fw_req4(f->req, 7, 0x07, 0, 0), MB_EX_ILLEGAL_FUNCTION);
}

static void wrong_unit_id_is_ignored_without_reply(void **state)
{
	struct fx *f = *state;

	assert_int_equal(run(f, fw_req4(f->req, 8, 0x06, 0, 5)), MB_ERR_NOT_ADDRESSED);
	assert_int_equal(f->rsp_len, 0);
	assert_int_equal(f->bank.hr[0], 0);
	assert_int_equal(f->s.stats.frames_ok, 0);
	assert_int_equal(f->s.stats.other_unit, 1);
}

static void broadcast_write_is_executed_without_reply(void **state)
{
	struct fx *f = *state;
	const uint16_t v[2] = {11, 22};

	assert_int_equal(run(f, fw_req4(f->req, 0, 0x06, 1, 99)), MB_OK);
	assert_int_equal(f->rsp_len, 0);
	assert_int_equal(f->bank.hr[1], 99);
	assert_int_equal(run(f, fw_req_wregs(f->req, 0, 2, 2, v)), MB_OK);
	assert_int_equal(f->rsp_len, 0);
	assert_int_equal(f->bank.hr[3], 22);
	assert_int_equal(run(f, fw_req4(f->req, 0, 0x05, 0, 0xFF00)), MB_OK);
	assert_int_equal(f->bank.coils[0], 1);
	/* A failing broadcast is still silent. */
	assert_int_equal(run(f, fw_req4(f->req, 0, 0x06, 50, 1)), MB_EX_ILLEGAL_DATA_ADDRESS);
	assert_int_equal(f->rsp_len, 0);
}

static void broadcast_read_is_ignored(void **state)
{
	struct fx *f = *state;

	assert_int_equal(run(f, fw_req4(f->req, 0, 0x03, 0, 1)), MB_ERR_NOT_ADDRESSED);
	assert_int_equal(f->rsp_len, 0);
	assert_int_equal(f->bank.calls, 0);
}

static void bad_crc_is_counted_and_ignored(void **state)
{
	struct fx *f = *state;
	uint16_t len = fw_req4(f->req, 7, 0x06, 0, 5);

	f->req[len - 1] ^= 0x01;
	assert_int_equal(run(f, len), MB_ERR_CRC);
	assert_int_equal(f->rsp_len, 0);
	assert_int_equal(f->s.stats.crc_errors, 1);
	assert_int_equal(f->bank.calls, 0);
	/* A garbled payload byte is caught the same way. */
	len = fw_req4(f->req, 7, 0x06, 0, 5);
	f->req[3] ^= 0x40;
	assert_int_equal(run(f, len), MB_ERR_CRC);
	assert_int_equal(f->s.stats.crc_errors, 2);
	assert_int_equal(f->bank.hr[0], 0);
}

static void truncated_frames_are_counted_and_ignored(void **state)
{
	struct fx *f = *state;
	uint16_t len = fw_req4(f->req, 7, 0x03, 0, 1);

	for (uint16_t n = 0; n < 4; n++)
		assert_int_equal(run(f, n), MB_ERR_SHORT);
	assert_int_equal(f->s.stats.frame_errors, 4);
	/* Truncated at 4..7 bytes: the last two bytes are not its CRC. */
	for (uint16_t n = 4; n < len; n++)
		assert_int_equal(run(f, n), MB_ERR_CRC);
	assert_int_equal(f->rsp_len, 0);
	assert_int_equal(f->bank.calls, 0);
}

/* Two-byte ADU bodies (unit + fc only) with a good CRC: a length error, 03. */
static void pdu_too_short_for_its_function_is_illegal_value(void **state)
{
	struct fx *f = *state;
	const uint8_t fcs[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x08, 0x0F, 0x10};

	for (unsigned i = 0; i < sizeof(fcs); i++) {
		f->req[0] = 7;
		f->req[1] = fcs[i];
		expect_exception(f, fw_seal(f->req, 2), MB_EX_ILLEGAL_DATA_VALUE);
	}
	assert_int_equal(f->bank.calls, 0);
}

#define T(fn) cmocka_unit_test_setup(fn, setup)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(fc01_reads_coils_packed_lsb_first),
	    T(fc01_exceptions_in_order_length_quantity_address_callback),
	    T(fc02_reads_discrete_inputs),
	    T(fc03_reads_holding_registers_big_endian),
	    T(fc04_reads_input_registers),
	    T(fc05_writes_one_coil_and_echoes),
	    T(fc06_writes_one_register_and_echoes),
	    T(fc15_writes_coils_and_answers_address_and_quantity),
	    T(fc16_writes_registers_and_answers_address_and_quantity),
	    T(fc08_sub0_echoes_query_data_and_other_subs_are_illegal),
	    T(unknown_function_code_is_illegal_function),
	    T(wrong_unit_id_is_ignored_without_reply),
	    T(broadcast_write_is_executed_without_reply),
	    T(broadcast_read_is_ignored),
	    T(bad_crc_is_counted_and_ignored),
	    T(truncated_frames_are_counted_and_ignored),
	    T(pdu_too_short_for_its_function_is_illegal_value),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
