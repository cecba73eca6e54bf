/* CRC-16/MODBUS against published vectors. */
#include "fw_test.h"

/* The catalogue check value of CRC-16/MODBUS for "123456789" is 0x4B37. */
static void crc_of_catalogue_check_string_is_4b37(void **state)
{
	const uint8_t s[] = "123456789";

	assert_int_equal(mb_crc16(s, 9), 0x4B37);
}

/* 01 03 00 00 00 0A is sent with CRC bytes C5 CD (value 0xCDC5, low byte first). */
static void crc_of_read_10_holding_goes_on_wire_as_c5_cd(void **state)
{
	uint8_t adu[8] = {0x01, 0x03, 0x00, 0x00, 0x00, 0x0A};

	assert_int_equal(mb_crc16(adu, 6), 0xCDC5);
	fw_seal(adu, 6);
	assert_int_equal(adu[6], 0xC5);
	assert_int_equal(adu[7], 0xCD);
}

/* Modbus spec example 11 03 00 6B 00 03 -> 76 87; 01 04 00 00 00 01 -> 31 CA. */
static void crc_matches_spec_examples(void **state)
{
	const uint8_t a[] = {0x11, 0x03, 0x00, 0x6B, 0x00, 0x03};
	const uint8_t b[] = {0x01, 0x04, 0x00, 0x00, 0x00, 0x01};

	assert_int_equal(mb_crc16(a, sizeof(a)), 0x8776);
	assert_int_equal(mb_crc16(b, sizeof(b)), 0xCA31);
}

/* A whole ADU including its CRC leaves residue 0: the receiver's check. */
static void crc_over_frame_and_its_crc_is_zero(void **state)
{
	uint8_t adu[8] = {0x11, 0x03, 0x00, 0x6B, 0x00, 0x03};

	fw_seal(adu, 6);
	assert_int_equal(mb_crc16(adu, 8), 0);
	assert_int_equal(mb_crc16(adu, 0), 0xFFFF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(crc_of_catalogue_check_string_is_4b37),
	    cmocka_unit_test(crc_of_read_10_holding_goes_on_wire_as_c5_cd),
	    cmocka_unit_test(crc_matches_spec_examples),
	    cmocka_unit_test(crc_over_frame_and_its_crc_is_zero),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
