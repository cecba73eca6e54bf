/*
 * Modbus RTU slave core: common types.
 *
 * One error enum for the whole Modbus core, as in nanoMODBUS: negative values are
 * internal errors (bad frame, not for us, ...), zero is success and positive values
 * are Modbus exception codes that go back to the master verbatim.  Handlers and
 * register callbacks return it, so an exception raised deep in a callback (say a
 * refused write while the fire loop is open) reaches the wire unchanged.
 */
#ifndef MB_H
#define MB_H

#include <stdint.h>

/* Largest RTU ADU: unit (1) + PDU (253) + CRC (2). */
#ifndef MB_ADU_MAX
#define MB_ADU_MAX 256
#endif

#define MB_UNIT_BROADCAST 0

enum mb_err {
	MB_ERR_OVERFLOW = -6,	   /* frame longer than MB_ADU_MAX */
	MB_ERR_GAP = -5,	   /* inter-character gap > T1.5 inside a frame */
	MB_ERR_NOT_ADDRESSED = -4, /* valid frame for another unit (or broadcast read) */
	MB_ERR_CRC = -3,	   /* CRC mismatch */
	MB_ERR_SHORT = -2,	   /* fewer than 4 bytes: cannot be an ADU */
	MB_ERR_INTERNAL = -1,	   /* a callback failed: answered with device failure */
	MB_OK = 0,
	MB_EX_ILLEGAL_FUNCTION = 1,
	MB_EX_ILLEGAL_DATA_ADDRESS = 2,
	MB_EX_ILLEGAL_DATA_VALUE = 3,
	MB_EX_DEVICE_FAILURE = 4,
};

enum mb_fc {
	MB_FC_READ_COILS = 0x01,
	MB_FC_READ_DISCRETE_INPUTS = 0x02,
	MB_FC_READ_HOLDING_REGISTERS = 0x03,
	MB_FC_READ_INPUT_REGISTERS = 0x04,
	MB_FC_WRITE_SINGLE_COIL = 0x05,
	MB_FC_WRITE_SINGLE_REGISTER = 0x06,
	MB_FC_DIAGNOSTICS = 0x08,
	MB_FC_WRITE_MULTIPLE_COILS = 0x0F,
	MB_FC_WRITE_MULTIPLE_REGISTERS = 0x10,
};

static inline uint16_t mb_get_be16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline void mb_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Bits in Modbus order: bit i of a packed field is bit (i % 8) of byte i / 8. */
static inline int mb_get_bit(const uint8_t *packed, uint16_t i)
{
	return (packed[i / 8] >> (i % 8)) & 1;
}

static inline void mb_put_bit(uint8_t *packed, uint16_t i, int v)
{
	if (v)
		packed[i / 8] |= (uint8_t)(1u << (i % 8));
	else
		packed[i / 8] &= (uint8_t) ~(1u << (i % 8));
}

#endif
