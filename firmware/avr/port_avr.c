/*
 * AVR port: ATmega328P at 16 MHz (Arduino Nano class) with an RS-485 transceiver.
 *
 * Interrupts only capture: the USART RX ISR stamps each byte with the
 * microsecond clock and pushes it into a ring; Timer0 counts milliseconds.
 * The main loop feeds the ring to the framer, polls it for T3.5 and runs the
 * 1 ms ticks, so all Modbus work happens outside interrupts.  Transmission is
 * interrupt driven from the core's reply buffer (stable until the next
 * request); DE goes high before the first byte and drops in the
 * transmit-complete ISR, never on data-register-empty.  The hardware watchdog
 * (250 ms) resets a hung main loop; at reset every pin is an input, so every
 * relay driver is off (pull-downs on the driver inputs, see hw/ioboard-pinout.md).
 * Pin map: hw/ioboard-pinout.md.
 */
#include <avr/eeprom.h>
#include <avr/interrupt.h>
#include <avr/io.h>
#include <avr/wdt.h>
#include <util/atomic.h>

#include "iob.h"

#define RING_SIZE 32 /* power of two */

struct rx_entry {
	uint8_t byte;
	uint32_t us;
};

static volatile struct rx_entry ring[RING_SIZE];
static volatile uint8_t ring_head, ring_tail;
static volatile uint8_t ms_pending;
static volatile uint16_t t1_overflows;
static const uint8_t *volatile tx_ptr;
static volatile uint16_t tx_left;

static struct iob board;

/* Timer1 runs at 2 MHz: 0.5 us per count, overflow every 32.768 ms.  Call with interrupts off. */
static uint32_t micros_locked(void)
{
	uint16_t cnt = TCNT1;
	uint16_t ovf = t1_overflows;

	/* An overflow not yet serviced, and the count read after it. */
	if ((TIFR1 & _BV(TOV1)) && cnt < 0x8000)
		ovf++;
	return (((uint32_t)ovf << 16) | cnt) >> 1;
}

static uint32_t micros(void)
{
	uint32_t us;

	ATOMIC_BLOCK(ATOMIC_RESTORESTATE)
	{
		us = micros_locked();
	}
	return us;
}

ISR(TIMER1_OVF_vect)
{
	t1_overflows++;
}

ISR(TIMER0_COMPA_vect)
{
	if (ms_pending < 255)
		ms_pending++;
}

ISR(USART_RX_vect)
{
	uint8_t status = UCSR0A;
	uint8_t byte = UDR0;
	uint8_t next = (uint8_t)((ring_head + 1) & (RING_SIZE - 1));

	/* A parity or framing error poisons the frame: the CRC will reject it anyway. */
	if (status & (_BV(FE0) | _BV(UPE0)))
		byte ^= 0xFF;
	if (next == ring_tail)
		return; /* ring full: the frame will fail its CRC */
	ring[ring_head].byte = byte;
	ring[ring_head].us = micros_locked();
	ring_head = next;
}

/*
 * TXC is cleared as each byte is loaded, so once the last one is in, TXC can
 * only mean that it has left the shift register.  (Clearing it only after the
 * last UDRE loses the last byte's TXC whenever UDRE is served late, which
 * simavr, raising UDRE and TXC together, does every time: DE stayed high.)
 */
ISR(USART_UDRE_vect)
{
	if (!tx_left) {
		UCSR0B &= (uint8_t)~_BV(UDRIE0);
		return;
	}
	UCSR0A = (uint8_t)((UCSR0A & _BV(U2X0)) | _BV(TXC0));
	UDR0 = *tx_ptr;
	tx_ptr = tx_ptr + 1;
	tx_left = (uint16_t)(tx_left - 1);
	if (!tx_left) {
		UCSR0B &= (uint8_t)~_BV(UDRIE0);
		UCSR0B |= _BV(TXCIE0);
	}
}

ISR(USART_TX_vect)
{
	/* The stop bit of the last byte has left the shift register: release the bus. */
	PORTD &= (uint8_t)~_BV(PD2);
	UCSR0B &= (uint8_t)~_BV(TXCIE0);
	UCSR0B |= _BV(RXEN0);
}

/* Outputs: open_a..led_yellow on PB0..PB5, buzzer PD6, alarm PD7. */
static void avr_outputs_write(void *ctx, uint8_t mask)
{
	PORTB = (uint8_t)((PORTB & 0xC0) | (mask & 0x3F));
	PORTD = (uint8_t)((PORTD & 0x3F) | (mask & 0xC0));
}

/* Inputs: PC0..PC5 and PD4, opto pulls the pin low when active. */
static uint8_t avr_inputs_read(void *ctx)
{
	uint8_t raw = (uint8_t)((PINC & 0x3F) | ((PIND & _BV(PD4)) ? 0x40 : 0));

	return (uint8_t)(~raw & 0x7F);
}

static int avr_eeprom_read(void *ctx, uint16_t addr, uint8_t *buf, uint16_t len)
{
	eeprom_read_block(buf, (const void *)addr, len);
	return 0;
}

static int avr_eeprom_write(void *ctx, uint16_t addr, const uint8_t *buf, uint16_t len)
{
	eeprom_update_block(buf, (void *)addr, len);
	return 0;
}

static void avr_uart_tx(void *ctx, const uint8_t *buf, uint16_t len)
{
	if (!len)
		return;
	/* Half duplex: no receiving while we drive the bus. */
	UCSR0B &= (uint8_t)~_BV(RXEN0);
	PORTD |= _BV(PD2);
	tx_ptr = buf;
	tx_left = len;
	UCSR0B |= _BV(UDRIE0);
}

static const struct port_ops avr_port_ops = {
    .outputs_write = avr_outputs_write,
    .inputs_read = avr_inputs_read,
    .eeprom_read = avr_eeprom_read,
    .eeprom_write = avr_eeprom_write,
    .uart_tx = avr_uart_tx,
};

static void avr_hw_init(void)
{
	/* Outputs low first, then drive them. */
	PORTB &= 0xC0;
	PORTD &= (uint8_t) ~(_BV(PD6) | _BV(PD7) | _BV(PD2));
	DDRB |= 0x3F;
	DDRD |= _BV(PD6) | _BV(PD7) | _BV(PD2) | _BV(PD1);
	/* Inputs with pull-ups. */
	DDRC &= (uint8_t)~0x3F;
	PORTC |= 0x3F;
	DDRD &= (uint8_t)~_BV(PD4);
	PORTD |= _BV(PD4);

	/* Timer0: CTC, /64, 250 counts = 1 ms. */
	TCCR0A = _BV(WGM01);
	TCCR0B = _BV(CS01) | _BV(CS00);
	OCR0A = 249;
	TIMSK0 = _BV(OCIE0A);
	/* Timer1: free running, /8 = 2 MHz. */
	TCCR1A = 0;
	TCCR1B = _BV(CS11);
	TIMSK1 = _BV(TOIE1);
}

/*
 * Normal (x16) or double speed (x8), whichever is closer to the baud rate;
 * normal on a tie (all the standard rates up to 38400 at 16 MHz), which is
 * also the mode simavr 1.6 models (it ignores U2X, which it never stores).
 */
static void avr_uart_init(uint32_t baud)
{
	uint16_t ubrr1 = (uint16_t)((F_CPU / 16 + baud / 2) / baud - 1);
	uint16_t ubrr2 = (uint16_t)((F_CPU / 8 + baud / 2) / baud - 1);
	int32_t err1 = (int32_t)(F_CPU / 16 / (ubrr1 + 1UL)) - (int32_t)baud;
	int32_t err2 = (int32_t)(F_CPU / 8 / (ubrr2 + 1UL)) - (int32_t)baud;
	uint8_t u2x = (err2 < 0 ? -err2 : err2) < (err1 < 0 ? -err1 : err1);
	uint16_t ubrr = u2x ? ubrr2 : ubrr1;

	UBRR0H = (uint8_t)(ubrr >> 8);
	UBRR0L = (uint8_t)ubrr;
	UCSR0A = u2x ? _BV(U2X0) : 0;
	/* 8 data bits, even parity, 1 stop: 11 bits a character as Modbus wants. */
	UCSR0C = _BV(UPM01) | _BV(UCSZ01) | _BV(UCSZ00);
	UCSR0B = _BV(RXEN0) | _BV(TXEN0) | _BV(RXCIE0);
}

int main(void)
{
	MCUSR = 0;
	wdt_enable(WDTO_250MS);
	avr_hw_init();
	iob_init(&board, &avr_port_ops, NULL);
	avr_uart_init(iob_baud(&board));
	sei();
	for (;;) {
		wdt_reset();
		while (ring_tail != ring_head) {
			uint8_t t = ring_tail;

			iob_rx(&board, ring[t].byte, ring[t].us);
			ring_tail = (uint8_t)((t + 1) & (RING_SIZE - 1));
		}
		iob_poll(&board, micros());
		while (ms_pending) {
			ATOMIC_BLOCK(ATOMIC_FORCEON)
			{
				ms_pending--;
			}
			iob_tick_1ms(&board);
		}
	}
}
