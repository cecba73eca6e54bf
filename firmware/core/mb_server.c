/*
 * Modbus RTU slave: ADU checks, dispatch, one handler per function code.
 *
 * Every handler checks in the same order, so the exception a master sees for a
 * malformed request is predictable: length (03), quantity or value (03), address
 * range against the table size (02), then the bank callback, whose refusal is
 * returned as is (a negative callback result becomes 04, device failure).
 * Handlers get the PDU (function code first) and build the reply PDU; the
 * dispatcher owns the unit id, the CRC, exceptions and broadcast.
 */
#include <stddef.h>
#include <string.h>

#include "mb_crc.h"
#include "mb_server.h"

#define MB_PDU_MAX (MB_ADU_MAX - 3)

typedef int (*mb_handler_fn)(struct mb_server *s, const uint8_t *req, uint16_t len, uint8_t *rsp,
			     uint16_t *rsp_len);

void mb_server_init(struct mb_server *s, uint8_t unit, const uint16_t size[4],
		    const struct mb_bank_ops *ops, void *ctx)
{
	memset(s, 0, sizeof(*s));
	s->unit = unit;
	memcpy(s->size, size, sizeof(s->size));
	s->ops = ops;
	s->ctx = ctx;
}

static int mb_range_ok(const struct mb_server *s, enum mb_table t, uint16_t addr, uint16_t qty)
{
	return (uint32_t)addr + qty <= s->size[t];
}

static int mb_callback_result(int rc)
{
	return rc < 0 ? MB_EX_DEVICE_FAILURE : rc;
}

/*
 * 01 Read Coils, 02 Read Discrete Inputs
 *   request:  fc, address (2), quantity (2)           quantity 1..2000
 *   response: fc, byte count n = ceil(quantity / 8), n bytes of bits (LSB first)
 */
static int mb_fc_read_bits(struct mb_server *s, const uint8_t *req, uint16_t len, uint8_t *rsp,
			   uint16_t *rsp_len)
{
	enum mb_table t = req[0] == MB_FC_READ_COILS ? MB_TABLE_COILS : MB_TABLE_DISCRETE_INPUTS;
	uint16_t addr, qty, n;
	int rc;

	if (len != 5)
		return MB_EX_ILLEGAL_DATA_VALUE;
	addr = mb_get_be16(req + 1);
	qty = mb_get_be16(req + 3);
	if (qty < 1 || qty > 2000)
		return MB_EX_ILLEGAL_DATA_VALUE;
	if (!mb_range_ok(s, t, addr, qty))
		return MB_EX_ILLEGAL_DATA_ADDRESS;
	n = (uint16_t)((qty + 7) / 8);
	memset(rsp + 2, 0, n);
	rc = s->ops->read_bits(s->ctx, t, addr, qty, rsp + 2);
	if (rc)
		return mb_callback_result(rc);
	rsp[0] = req[0];
	rsp[1] = (uint8_t)n;
	*rsp_len = (uint16_t)(2 + n);
	return MB_OK;
}

/*
 * 03 Read Holding Registers, 04 Read Input Registers
 *   request:  fc, address (2), quantity (2)           quantity 1..125
 *   response: fc, byte count (2 * quantity), registers big-endian
 */
static int mb_fc_read_regs(struct mb_server *s, const uint8_t *req, uint16_t len, uint8_t *rsp,
			   uint16_t *rsp_len)
{
	enum mb_table t = req[0] == MB_FC_READ_HOLDING_REGISTERS ? MB_TABLE_HOLDING_REGISTERS
								 : MB_TABLE_INPUT_REGISTERS;
	uint16_t addr, qty;
	int rc;

	if (len != 5)
		return MB_EX_ILLEGAL_DATA_VALUE;
	addr = mb_get_be16(req + 1);
	qty = mb_get_be16(req + 3);
	if (qty < 1 || qty > 125)
		return MB_EX_ILLEGAL_DATA_VALUE;
	if (!mb_range_ok(s, t, addr, qty))
		return MB_EX_ILLEGAL_DATA_ADDRESS;
	rc = s->ops->read_regs(s->ctx, t, addr, qty, rsp + 2);
	if (rc)
		return mb_callback_result(rc);
	rsp[0] = req[0];
	rsp[1] = (uint8_t)(2 * qty);
	*rsp_len = (uint16_t)(2 + 2 * qty);
	return MB_OK;
}

/*
 * 05 Write Single Coil
 *   request:  fc, address (2), value (2)              value FF00 = on, 0000 = off
 *   response: echo of the request
 */
static int mb_fc_write_coil(struct mb_server *s, const uint8_t *req, uint16_t len, uint8_t *rsp,
			    uint16_t *rsp_len)
{
	uint16_t addr, value;
	uint8_t bit;
	int rc;

	if (len != 5)
		return MB_EX_ILLEGAL_DATA_VALUE;
	addr = mb_get_be16(req + 1);
	value = mb_get_be16(req + 3);
	if (value != 0xFF00 && value != 0x0000)
		return MB_EX_ILLEGAL_DATA_VALUE;
	if (!mb_range_ok(s, MB_TABLE_COILS, addr, 1))
		return MB_EX_ILLEGAL_DATA_ADDRESS;
	bit = value ? 1 : 0;
	rc = s->ops->write_coils(s->ctx, addr, 1, &bit);
	if (rc)
		return mb_callback_result(rc);
	memcpy(rsp, req, 5);
	*rsp_len = 5;
	return MB_OK;
}

/*
 * 06 Write Single Register
 *   request:  fc, address (2), value (2)
 *   response: echo of the request
 */
static int mb_fc_write_reg(struct mb_server *s, const uint8_t *req, uint16_t len, uint8_t *rsp,
			   uint16_t *rsp_len)
{
	uint16_t addr;
	int rc;

	if (len != 5)
		return MB_EX_ILLEGAL_DATA_VALUE;
	addr = mb_get_be16(req + 1);
	/* No quantity to check. */
	if (!mb_range_ok(s, MB_TABLE_HOLDING_REGISTERS, addr, 1))
		return MB_EX_ILLEGAL_DATA_ADDRESS;
	rc = s->ops->write_regs(s->ctx, addr, 1, req + 3);
	if (rc)
		return mb_callback_result(rc);
	memcpy(rsp, req, 5);
	*rsp_len = 5;
	return MB_OK;
}

/*
 * 15 (0x0F) Write Multiple Coils
 *   request:  fc, address (2), quantity (2), byte count n, n bytes of bits
 *             quantity 1..1968, n = ceil(quantity / 8)
 *   response: fc, address (2), quantity (2)
 */
static int mb_fc_write_coils(struct mb_server *s, const uint8_t *req, uint16_t len, uint8_t *rsp,
			     uint16_t *rsp_len)
{
	uint16_t addr, qty;
	int rc;

	if (len < 7 || len != (uint16_t)(6 + req[5]))
		return MB_EX_ILLEGAL_DATA_VALUE;
	addr = mb_get_be16(req + 1);
	qty = mb_get_be16(req + 3);
	if (qty < 1 || qty > 1968 || req[5] != (qty + 7) / 8)
		return MB_EX_ILLEGAL_DATA_VALUE;
	if (!mb_range_ok(s, MB_TABLE_COILS, addr, qty))
		return MB_EX_ILLEGAL_DATA_ADDRESS;
	rc = s->ops->write_coils(s->ctx, addr, qty, req + 6);
	if (rc)
		return mb_callback_result(rc);
	memcpy(rsp, req, 5);
	*rsp_len = 5;
	return MB_OK;
}

/*
 * 16 (0x10) Write Multiple Registers
 *   request:  fc, address (2), quantity (2), byte count n, n bytes of registers
 *             quantity 1..123, n = 2 * quantity
 *   response: fc, address (2), quantity (2)
 */
static int mb_fc_write_regs(struct mb_server *s, const uint8_t *req, uint16_t len, uint8_t *rsp,
			    uint16_t *rsp_len)
{
	uint16_t addr, qty;
	int rc;

	if (len < 8 || len != (uint16_t)(6 + req[5]))
		return MB_EX_ILLEGAL_DATA_VALUE;
	addr = mb_get_be16(req + 1);
	qty = mb_get_be16(req + 3);
	if (qty < 1 || qty > 123 || req[5] != 2 * qty)
		return MB_EX_ILLEGAL_DATA_VALUE;
	if (!mb_range_ok(s, MB_TABLE_HOLDING_REGISTERS, addr, qty))
		return MB_EX_ILLEGAL_DATA_ADDRESS;
	rc = s->ops->write_regs(s->ctx, addr, qty, req + 6);
	if (rc)
		return mb_callback_result(rc);
	memcpy(rsp, req, 5);
	*rsp_len = 5;
	return MB_OK;
}

/*
 * 08 Diagnostics, sub-function 0000 Return Query Data only
 *   request:  fc, sub-function (2), data (any length)
 *   response: echo of the request
 *   other sub-functions: exception 01
 */
static int mb_fc_diagnostics(struct mb_server *s, const uint8_t *req, uint16_t len, uint8_t *rsp,
			     uint16_t *rsp_len)
{
	if (len < 3)
		return MB_EX_ILLEGAL_DATA_VALUE;
	if (mb_get_be16(req + 1) != 0x0000)
		return MB_EX_ILLEGAL_FUNCTION;
	memcpy(rsp, req, len);
	*rsp_len = len;
	return MB_OK;
}

static mb_handler_fn mb_handler_for(uint8_t fc, bool *is_write)
{
	*is_write = false;
	switch (fc) {
	case MB_FC_READ_COILS:
	case MB_FC_READ_DISCRETE_INPUTS:
		return mb_fc_read_bits;
	case MB_FC_READ_HOLDING_REGISTERS:
	case MB_FC_READ_INPUT_REGISTERS:
		return mb_fc_read_regs;
	case MB_FC_DIAGNOSTICS:
		return mb_fc_diagnostics;
	case MB_FC_WRITE_SINGLE_COIL:
		*is_write = true;
		return mb_fc_write_coil;
	case MB_FC_WRITE_SINGLE_REGISTER:
		*is_write = true;
		return mb_fc_write_reg;
	case MB_FC_WRITE_MULTIPLE_COILS:
		*is_write = true;
		return mb_fc_write_coils;
	case MB_FC_WRITE_MULTIPLE_REGISTERS:
		*is_write = true;
		return mb_fc_write_regs;
	default:
		return NULL;
	}
}

void mb_server_count_drop(struct mb_server *s, int reason)
{
	if (reason == MB_ERR_CRC)
		s->stats.crc_errors++;
	else
		s->stats.frame_errors++;
}

int mb_server_adu(struct mb_server *s, const uint8_t *adu, uint16_t len, uint8_t *reply,
		  uint16_t *reply_len)
{
	bool broadcast, is_write;
	mb_handler_fn handler;
	uint16_t crc, rsp_len = 0;
	int rc;

	*reply_len = 0;
	if (len < 4 || len > MB_ADU_MAX) {
		mb_server_count_drop(s, MB_ERR_SHORT);
		return MB_ERR_SHORT;
	}
	crc = mb_crc16(adu, (size_t)(len - 2));
	if (adu[len - 2] != (uint8_t)crc || adu[len - 1] != (uint8_t)(crc >> 8)) {
		mb_server_count_drop(s, MB_ERR_CRC);
		return MB_ERR_CRC;
	}
	broadcast = adu[0] == MB_UNIT_BROADCAST;
	if (!broadcast && adu[0] != s->unit) {
		s->stats.other_unit++;
		return MB_ERR_NOT_ADDRESSED;
	}
	handler = mb_handler_for(adu[1], &is_write);
	if (broadcast && !is_write) {
		/* Only writes may be broadcast; a broadcast read has no one to answer it. */
		s->stats.other_unit++;
		return MB_ERR_NOT_ADDRESSED;
	}
	s->stats.frames_ok++;
	if (handler)
		rc = handler(s, adu + 1, (uint16_t)(len - 3), reply + 1, &rsp_len);
	else
		rc = MB_EX_ILLEGAL_FUNCTION;
	if (rc < 0)
		rc = MB_EX_DEVICE_FAILURE;
	if (rc > 0) {
		s->stats.exceptions++;
		reply[1] = (uint8_t)(adu[1] | 0x80);
		reply[2] = (uint8_t)rc;
		rsp_len = 2;
	}
	if (broadcast)
		return rc;
	reply[0] = s->unit;
	crc = mb_crc16(reply, (size_t)(rsp_len + 1));
	reply[rsp_len + 1] = (uint8_t)crc;
	reply[rsp_len + 2] = (uint8_t)(crc >> 8);
	*reply_len = (uint16_t)(rsp_len + 3);
	return rc;
}
