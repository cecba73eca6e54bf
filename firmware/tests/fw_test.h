/*
 * Shared helpers for the firmware unit tests: a fake port (pins, EEPROM, UART
 * capture) and a minimal Modbus master, so both ends run in one process and
 * time only moves when a test ticks it.
 */
#ifndef FW_TEST_H
#define FW_TEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "iob.h"
#include "mb_crc.h"

struct fake_port {
	uint8_t outputs;
	unsigned output_writes;
	uint8_t inputs;
	uint8_t eeprom[64];
	bool eeprom_fail;
	uint8_t tx[MB_ADU_MAX];
	uint16_t tx_len;
	unsigned tx_count;
};

static inline void fake_outputs_write(void *ctx, uint8_t mask)
{
	struct fake_port *p = ctx;

	p->outputs = mask;
	p->output_writes++;
}

static inline uint8_t fake_inputs_read(void *ctx)
{
	struct fake_port *p = ctx;

	return p->inputs;
}

static inline int fake_eeprom_read(void *ctx, uint16_t addr, uint8_t *buf, uint16_t len)
{
	struct fake_port *p = ctx;

	if (p->eeprom_fail || addr + len > (int)sizeof(p->eeprom))
		return -1;
	memcpy(buf, p->eeprom + addr, len);
	return 0;
}

static inline int fake_eeprom_write(void *ctx, uint16_t addr, const uint8_t *buf, uint16_t len)
{
	struct fake_port *p = ctx;

	if (p->eeprom_fail || addr + len > (int)sizeof(p->eeprom))
		return -1;
	memcpy(p->eeprom + addr, buf, len);
	return 0;
}

static inline void fake_uart_tx(void *ctx, const uint8_t *buf, uint16_t len)
{
	struct fake_port *p = ctx;

	memcpy(p->tx, buf, len);
	p->tx_len = len;
	p->tx_count++;
}

static const struct port_ops fake_port_ops = {
    .outputs_write = fake_outputs_write,
    .inputs_read = fake_inputs_read,
    .eeprom_read = fake_eeprom_read,
    .eeprom_write = fake_eeprom_write,
    .uart_tx = fake_uart_tx,
};

/* Append the CRC (low byte first) to n bytes; returns the ADU length. */
static inline uint16_t fw_seal(uint8_t *adu, uint16_t n)
{
	uint16_t crc = mb_crc16(adu, n);

	adu[n] = (uint8_t)crc;
	adu[n + 1] = (uint8_t)(crc >> 8);
	return (uint16_t)(n + 2);
}

/* unit, fc, two 16-bit fields: reads, single writes. */
static inline uint16_t fw_req4(uint8_t *adu, uint8_t unit, uint8_t fc, uint16_t a, uint16_t b)
{
	adu[0] = unit;
	adu[1] = fc;
	mb_put_be16(adu + 2, a);
	mb_put_be16(adu + 4, b);
	return fw_seal(adu, 6);
}

/* Write multiple registers. */
static inline uint16_t fw_req_wregs(uint8_t *adu, uint8_t unit, uint16_t addr, uint16_t qty,
				    const uint16_t *v)
{
	adu[0] = unit;
	adu[1] = MB_FC_WRITE_MULTIPLE_REGISTERS;
	mb_put_be16(adu + 2, addr);
	mb_put_be16(adu + 4, qty);
	adu[6] = (uint8_t)(2 * qty);
	for (uint16_t i = 0; i < qty; i++)
		mb_put_be16(adu + 7 + 2 * i, v[i]);
	return fw_seal(adu, (uint16_t)(7 + 2 * qty));
}

/* Write multiple coils from a packed bit field. */
static inline uint16_t fw_req_wcoils(uint8_t *adu, uint8_t unit, uint16_t addr, uint16_t qty,
				     const uint8_t *packed)
{
	uint8_t n = (uint8_t)((qty + 7) / 8);

	adu[0] = unit;
	adu[1] = MB_FC_WRITE_MULTIPLE_COILS;
	mb_put_be16(adu + 2, addr);
	mb_put_be16(adu + 4, qty);
	adu[6] = n;
	memcpy(adu + 7, packed, n);
	return fw_seal(adu, (uint16_t)(7 + n));
}

/* A reply must carry a correct CRC. */
static inline void fw_assert_crc(const uint8_t *adu, uint16_t len)
{
	uint16_t crc;

	assert_true(len >= 4);
	crc = mb_crc16(adu, (size_t)(len - 2));
	assert_int_equal(adu[len - 2], crc & 0xFF);
	assert_int_equal(adu[len - 1], crc >> 8);
}

#endif
