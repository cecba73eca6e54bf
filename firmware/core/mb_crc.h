/* CRC-16/MODBUS: reflected polynomial 0xA001, initial value 0xFFFF. */
#ifndef MB_CRC_H
#define MB_CRC_H

#include <stddef.h>
#include <stdint.h>

/*
 * CRC of len bytes.  On the wire the CRC goes low byte first, so for
 * 01 03 00 00 00 0A the value 0xCDC5 is sent as C5 CD.
 */
uint16_t mb_crc16(const uint8_t *buf, size_t len);

#endif
