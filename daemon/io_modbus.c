/* io_modbus.c: the `modbus` IO backend: one lane's board on a Modbus RTU line or
 * a Modbus TCP link, through libmodbus.
 *
 * libmodbus is blocking: a transaction waits up to the response timeout. So each
 * open backend owns one worker thread that does every transaction, and the event
 * loop never calls libmodbus. The two sides share a small state under one mutex:
 * the loop writes the outputs it wants (level, pulse length, dirty flag) and the
 * worker writes what it read (input levels, new rising edges from latched
 * counters, link up or down), then wakes the loop through an eventfd. The loop
 * turns that state into the input() and fault() callbacks.
 *
 * Safety rules, in the order they bite:
 * - The link starts down: the lane is io_fault until the board has answered a
 *   full sync (every mapped output written to the level wanted, every input
 *   read), so a silent, garbling or wrong-unit peer never gets an open command
 *   through.
 * - Any failed write, or two failed polls in a row, drops the link: the context
 *   is closed, pulses not yet written are forgotten (a pulse is never replayed
 *   after a recovery), and reconnection is retried with a doubling backoff
 *   (100 ms .. 5 s).
 * - After a level write the output is read back where the dialect can.
 * - A pulse goes out as one board-timed command where the dialect has one (it
 *   ends even if the daemon dies); otherwise as level 1, and level 0 when the
 *   worker's own timer says, pulse_ms after the 1 was written. Where the board
 *   keeps the pulse length in a register, the lane's length is written there at
 *   every sync, so that the open command is one transaction. Either way the
 *   lane's own level 0 at the pulse's end is not written: the pulse started a
 *   transaction or more later than the lane decided it, and that 0 would cut it
 *   short by as much; nor does it cancel a pulse still waiting for the line (a
 *   slow line must open late, not never), unless the pulse could no longer end
 *   within the lane's pass window. An earlier 0 (a stop) is written and cancels
 *   the pulse.
 * - Outputs are written one per round, lowest first (open_a, open_b, stop,
 *   then the indicators), so an open command waits for at most one write in
 *   progress, not for a batch of LED changes.
 * - Where the board has a host watchdog it is armed at every sync (a trip seen
 *   then is acknowledged and logged) and disarmed at a clean close, so the
 *   board drops its outputs when the daemon dies or hangs.
 * - The IO board refuses writes to the outputs its fire override holds; that
 *   is the board doing its job, not a lost link: the lane learns of the fire
 *   from the fire loop input it polls.
 *
 * What a channel number means on the wire is the dialect's, a const table per
 * board below, described in hw/profiles/modbus-*.md.
 */
#include "io_modbus.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "../firmware/core/ioboard_regs.h"
#include "io_map.h"
#include "log.h"

#define MBIO_BACKOFF_MIN_MS 100
#define MBIO_BACKOFF_MAX_MS 5000
#define MBIO_POLL_FAILS_MAX 2 /* one lost reply is noise; two in a row is a lost link */
#define MBIO_SPAN_MAX 64      /* inputs or counters read in one request */
#define MBIO_BYTE_TIMEOUT_MS 50
/* A level 0 this close to a pulse's end is the lane ending it (its timer fires
 * pulse_ms after a decision made before the journal sync and the worker's
 * wake-up); the board or the worker ends the pulse itself. */
#define MBIO_PULSE_END_SLACK_MS 50

/* libmodbus sets errno; make it a negative errno, never 0. */
static int mb_err(void)
{
	return errno ? -errno : -EIO;
}

/* libmodbus's own codes (EMBX*, EMB*) lie above MODBUS_ENOBASE where strerror()
 * knows nothing; callers outside this file get a plain errno. */
static int mbio_plain_errno(int err)
{
	if (err == 0)
		return -ENOTCONN;
	if (-err == EMBBADCRC || -err == EMBBADDATA)
		return -EBADMSG;
	if (-err > MODBUS_ENOBASE)
		return -EPROTO;
	return err;
}

/* One transaction of the 5-byte request shape FC01..06 share (function,
 * address, quantity or value), checked here rather than by libmodbus: libmodbus
 * 3.1 does not compare the unit id of a TCP reply, and a reply from the wrong
 * unit must never count as an answer. Reads unpack into bits (FC01/02, one
 * byte per bit) or regs (FC03/04); writes must be echoed exactly. */
static int mb_txn(modbus_t *mb, uint8_t fc, uint16_t addr, uint16_t val, uint8_t *bits,
		  uint16_t *regs)
{
	uint8_t req[6], rsp[MODBUS_MAX_ADU_LENGTH];
	int hdr = modbus_get_header_length(mb), n, want;
	const uint8_t *pdu;

	req[0] = (uint8_t)modbus_get_slave(mb);
	req[1] = fc;
	req[2] = (uint8_t)(addr >> 8);
	req[3] = (uint8_t)addr;
	req[4] = (uint8_t)(val >> 8);
	req[5] = (uint8_t)val;
	errno = 0;
	if (modbus_send_raw_request(mb, req, sizeof(req)) < 0)
		return mb_err();
	n = modbus_receive_confirmation(mb, rsp);
	if (n < 0)
		return mb_err();
	if (n < hdr + 2)
		return -EMBBADDATA;
	if (rsp[hdr - 1] != req[0])
		return -EMBBADSLAVE;
	pdu = rsp + hdr;
	if (pdu[0] == (fc | 0x80))
		return -(MODBUS_ENOBASE + pdu[1]);
	if (pdu[0] != fc)
		return -EMBBADDATA;
	if (fc == 5 || fc == 6)
		return n >= hdr + 5 && memcmp(pdu, req + 1, 5) == 0 ? 0 : -EMBBADDATA;
	want = fc <= 2 ? (val + 7) / 8 : val * 2;
	if (pdu[1] != want || n < hdr + 2 + want)
		return -EMBBADDATA;
	for (int i = 0; i < val; i++) {
		if (fc <= 2)
			bits[i] = (pdu[2 + i / 8] >> (i % 8)) & 1;
		else
			regs[i] = (uint16_t)(pdu[2 + 2 * i] << 8 | pdu[3 + 2 * i]);
	}
	return 0;
}

/* Plain: coils are outputs (FC05, FC01 read-back), discrete inputs are inputs (FC02). */
static int plain_write(modbus_t *mb, uint16_t ch, bool on)
{
	return mb_txn(mb, 5, ch, on ? 0xFF00 : 0x0000, NULL, NULL);
}

static int plain_read_out(modbus_t *mb, uint16_t ch, bool *on)
{
	uint8_t v = 0;
	int r = mb_txn(mb, 1, ch, 1, &v, NULL);

	*on = v;
	return r;
}

static int plain_read_in(modbus_t *mb, uint16_t first, uint16_t n, uint8_t *levels)
{
	return mb_txn(mb, 2, first, n, levels, NULL);
}

/* Waveshare Modbus RTU Relay (V2 protocol): FC05 at 0x0200 + channel with a
 * duration in 100 ms steps is "flash on": the board closes the relay and opens
 * it again by itself. The reply echoes the request. */
static int waveshare_pulse(modbus_t *mb, uint16_t ch, uint32_t ms)
{
	uint32_t units = (ms + 99) / 100;

	return mb_txn(mb, 5, (uint16_t)(0x0200 + ch), (uint16_t)(units ? units : 1), NULL, NULL);
}

/* Eletechsup R4D3B16: FC06 to register channel + 1 with a command word
 * (0x0100 close, 0x0200 open); FC03 on the same register reads 1 or 0. Its
 * delay command (0x06SS) counts whole seconds, too coarse for a 100..500 ms
 * pulse, so pulses are timed by the daemon. No inputs. */
static int r4d3b16_write(modbus_t *mb, uint16_t ch, bool on)
{
	return mb_txn(mb, 6, ch + 1, on ? 0x0100 : 0x0200, NULL, NULL);
}

static int r4d3b16_read_out(modbus_t *mb, uint16_t ch, bool *on)
{
	uint16_t v = 0;
	int r = mb_txn(mb, 3, ch + 1, 1, NULL, &v);

	*on = v != 0;
	return r;
}

/* The project's IO board (firmware/core/ioboard_regs.h). */

/* Exception 04 to an output write: refused by the fire override if the status
 * says the fire loop is open, else a real failure. */
static int iob_refused(modbus_t *mb, int r)
{
	uint16_t status = 0;
	int s;

	if (r != -EMBXSFAIL)
		return r;
	s = mb_txn(mb, 4, IOB_IR_STATUS, 1, NULL, &status);
	if (s < 0)
		return s;
	return status & IOB_STATUS_FIRE ? IO_MODBUS_OVERRIDDEN : r;
}

static int iob_write(modbus_t *mb, uint16_t ch, bool on)
{
	return iob_refused(mb, mb_txn(mb, 5, IOB_COIL_OUT(ch), on ? 0xFF00 : 0x0000, NULL, NULL));
}

static int iob_pulse_length(modbus_t *mb, uint16_t ch, uint32_t ms)
{
	return mb_txn(mb, 6, IOB_HR_PULSE_MS(ch), (uint16_t)(ms > 65535 ? 65535 : ms), NULL, NULL);
}

/* The length is in IOB_HR_PULSE_MS(ch) already (pulse_length). */
static int iob_pulse(modbus_t *mb, uint16_t ch, uint32_t ms)
{
	return iob_refused(mb, mb_txn(mb, 5, IOB_COIL_PULSE(ch), 0xFF00, NULL, NULL));
}

static int iob_watchdog(modbus_t *mb, uint32_t ms, bool *tripped)
{
	uint16_t status = 0;
	int r;

	if (tripped) {
		r = mb_txn(mb, 4, IOB_IR_STATUS, 1, NULL, &status);
		*tripped = r == 0 && (status & IOB_STATUS_WDT_TRIPPED);
		if (r == 0 && *tripped)
			r = mb_txn(mb, 5, IOB_COIL_WDT_ACK, 0xFF00, NULL, NULL);
		if (r < 0)
			return r;
	}
	return mb_txn(mb, 6, IOB_HR_WATCHDOG_MS, (uint16_t)(ms > 65535 ? 65535 : ms), NULL, NULL);
}

static int iob_read_out(modbus_t *mb, uint16_t ch, bool *on)
{
	uint8_t v = 0;
	int r = mb_txn(mb, 1, IOB_COIL_OUT(ch), 1, &v, NULL);

	*on = v;
	return r;
}

static int iob_read_in(modbus_t *mb, uint16_t first, uint16_t n, uint8_t *levels)
{
	return mb_txn(mb, 2, IOB_DI_IN(first), n, levels, NULL);
}

static int iob_read_count(modbus_t *mb, uint16_t first, uint16_t n, uint16_t *counts)
{
	return mb_txn(mb, 4, IOB_IR_COUNTER(first), n, NULL, counts);
}

/* clang-format off */
static const struct io_modbus_dialect io_modbus_dialects[] = {
	[CONFIG_DIALECT_PLAIN] = {
		.name = "plain",
		.write = plain_write,
		.read_out = plain_read_out,
		.read_in = plain_read_in,
	},
	[CONFIG_DIALECT_WAVESHARE] = {
		.name = "waveshare",
		.write = plain_write,
		.write_pulse = waveshare_pulse,
		.read_out = plain_read_out,
		.read_in = plain_read_in,
	},
	[CONFIG_DIALECT_R4D3B16] = {
		.name = "r4d3b16",
		.write = r4d3b16_write,
		.read_out = r4d3b16_read_out,
	},
	[CONFIG_DIALECT_IOBOARD] = {
		.name = "ioboard",
		.write = iob_write,
		.write_pulse = iob_pulse,
		.pulse_length = iob_pulse_length,
		.read_out = iob_read_out,
		.read_in = iob_read_in,
		.read_count = iob_read_count,
		.watchdog = iob_watchdog,
	},
};
/* clang-format on */

const struct io_modbus_dialect *io_modbus_dialect(int d)
{
	if (d < 0 || (size_t)d >= sizeof(io_modbus_dialects) / sizeof(io_modbus_dialects[0]))
		return NULL;
	return &io_modbus_dialects[d];
}

struct mbio {
	/* set at open, read-only afterwards */
	const struct io_modbus_dialect *d;
	struct config_lane cfg;
	struct io_map map[IO_SIGNAL_COUNT];
	bool tcp;
	uint16_t in_first, in_n;       /* discrete inputs read per poll */
	uint16_t count_first, count_n; /* counters read per poll */
	struct io_callbacks cb;
	void *userdata;
	int efd;
	sd_event_source *src;
	pthread_t thread;
	bool started;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* under mu: loop -> worker */
	bool stop;
	bool want[IO_OUTPUT_COUNT];
	uint32_t pulse[IO_OUTPUT_COUNT];
	bool dirty[IO_OUTPUT_COUNT];
	/* under mu: worker -> loop */
	bool up;
	int err;
	bool rs485_unsupported;
	bool wdt_tripped; /* the board's watchdog had dropped the outputs: log it */
	bool pulse_late;  /* a pulse waited past the pass window and was dropped: log it */
	uint64_t pulse_at[IO_OUTPUT_COUNT];  /* when the last pulse was asked */
	uint32_t pulse_len[IO_OUTPUT_COUNT]; /* its length; 0: none asked since */
	uint64_t off_at[IO_OUTPUT_COUNT];    /* a daemon-timed pulse written ends; 0: none */
	bool level[IO_SIGNAL_COUNT];
	uint32_t rising[IO_SIGNAL_COUNT];

	/* loop only */
	bool rep_up, rep_rs485;
	bool rep_level[IO_SIGNAL_COUNT];

	/* worker only */
	modbus_t *mb;
	uint32_t board_pulse_ms[IO_OUTPUT_COUNT]; /* pulse_length written; 0: unknown */
	bool have_base;
	uint16_t base[IO_SIGNAL_COUNT];
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void mbio_notify(struct mbio *m)
{
	uint64_t one = 1;

	/* Cannot fail short of a counter overflow; the loop reads all state anyway. */
	if (write(m->efd, &one, sizeof(one)) < 0)
		return;
}

/* With mu held: sleeps until ms from now, a new output, or stop. */
static void mbio_wait(struct mbio *m, uint64_t until)
{
	struct timespec ts;
	uint64_t now = mono_ms();

	if (until <= now)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)((until - now) / 1000);
	ts.tv_nsec += (long)((until - now) % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(&m->cv, &m->mu, &ts);
}

static int mbio_connect(struct mbio *m)
{
	const struct config_lane *c = &m->cfg;
	static const char parity[] = {'N', 'E', 'O'};
	uint32_t to = c->modbus_timeout_ms;
	int r;

	if (strncmp(c->modbus, "rtu:", 4) == 0) {
		m->mb = modbus_new_rtu(c->modbus + 4, (int)c->modbus_baud, parity[c->modbus_parity],
				       8, (int)c->modbus_stop);
	} else {
		char host[PATH_MAX], *colon;

		snprintf(host, sizeof(host), "%s", c->modbus + 4);
		colon = strrchr(host, ':');
		if (!colon)
			return -EINVAL;
		*colon = '\0';
		m->mb = modbus_new_tcp_pi(host, colon + 1);
	}
	if (!m->mb)
		return mb_err();
	modbus_set_slave(m->mb, (int)c->modbus_unit);
	modbus_set_response_timeout(m->mb, to / 1000, (to % 1000) * 1000);
	modbus_set_byte_timeout(m->mb, 0, MBIO_BYTE_TIMEOUT_MS * 1000);
	if (modbus_connect(m->mb) < 0)
		goto fail;
	if (c->modbus_rs485 && strncmp(c->modbus, "rtu:", 4) == 0 &&
	    modbus_rtu_set_serial_mode(m->mb, MODBUS_RTU_RS485) < 0) {
		if (errno != ENOTTY)
			goto fail;
		pthread_mutex_lock(&m->mu);
		m->rs485_unsupported = true; /* the loop warns, once */
		pthread_mutex_unlock(&m->mu);
	}
	return 0;
fail:
	r = mb_err();
	modbus_free(m->mb);
	m->mb = NULL;
	return r;
}

static void mbio_disconnect(struct mbio *m)
{
	if (!m->mb)
		return;
	modbus_close(m->mb);
	modbus_free(m->mb);
	m->mb = NULL;
}

/* One output as wanted: a board-timed pulse, or a level with its read-back. */
static int mbio_write(struct mbio *m, int o, bool want, uint32_t pulse)
{
	uint16_t ch = m->map[o].channel;
	bool got;
	int r;

	if (want && pulse && m->d->write_pulse) {
		if (m->d->pulse_length && m->board_pulse_ms[o] != pulse) {
			r = m->d->pulse_length(m->mb, ch, pulse);
			if (r < 0)
				return r;
			m->board_pulse_ms[o] = pulse;
		}
		r = m->d->write_pulse(m->mb, ch, pulse);
		return r < 0 ? r : 0;
	}
	r = m->d->write(m->mb, ch, want);
	if (r == IO_MODBUS_OVERRIDDEN)
		return 0; /* the board holds it: nothing of ours to read back */
	if (r < 0 || !m->d->read_out)
		return r;
	r = m->d->read_out(m->mb, ch, &got);
	if (r < 0)
		return r;
	return got == want ? 0 : -EIO;
}

/* Reads inputs; counters before levels, so an edge between the two reads is
 * seen as a level not yet counted (ignored until counted), never twice. A
 * counter that went backwards means the board was reset (its counters, pulse
 * lengths and watchdog are back to their defaults): -ECONNRESET, so the link is
 * dropped and the next sync writes everything again, and the jump is never
 * taken for some 65 000 passes. */
static int mbio_poll(struct mbio *m)
{
	uint8_t lv[MBIO_SPAN_MAX];
	uint16_t cnt[MBIO_SPAN_MAX];
	int r;

	if (m->count_n && (r = m->d->read_count(m->mb, m->count_first, m->count_n, cnt)) < 0)
		return r;
	if (m->in_n && (r = m->d->read_in(m->mb, m->in_first, m->in_n, lv)) < 0)
		return r;
	for (int s = IO_INPUT_FIRST; s < IO_SIGNAL_COUNT && m->have_base; s++)
		if (m->map[s].kind == IO_MAP_COUNT &&
		    (uint16_t)(cnt[m->map[s].channel - m->count_first] - m->base[s]) >= 0x8000)
			return -ECONNRESET;
	pthread_mutex_lock(&m->mu);
	for (int s = IO_INPUT_FIRST; s < IO_SIGNAL_COUNT; s++) {
		const struct io_map *mp = &m->map[s];

		if (mp->kind != IO_MAP_IN && mp->kind != IO_MAP_COUNT)
			continue;
		m->level[s] = lv[mp->channel - m->in_first];
		if (mp->kind != IO_MAP_COUNT)
			continue;
		uint16_t c = cnt[mp->channel - m->count_first];

		if (m->have_base)
			m->rising[s] += (uint16_t)(c - m->base[s]);
		m->base[s] = c;
	}
	m->have_base = true;
	pthread_mutex_unlock(&m->mu);
	return 0;
}

/* With mu held: the link is lost. Pulses not written are forgotten. */
static void mbio_down(struct mbio *m, int err)
{
	for (int o = 0; o < IO_OUTPUT_COUNT; o++) {
		if (m->pulse[o] || m->off_at[o]) {
			m->want[o] = false;
			m->pulse[o] = 0;
			m->off_at[o] = 0;
		}
		m->dirty[o] = false;
	}
	memset(m->rising, 0, sizeof(m->rising));
	m->have_base = false;
	if (m->up || m->err != err) {
		m->up = false;
		m->err = err;
		mbio_notify(m);
	}
}

/* With mu held, dropping it around transactions: connect and write every
 * mapped output as wanted (pending pulses: 0), then read the inputs. */
static int mbio_sync(struct mbio *m)
{
	bool want[IO_OUTPUT_COUNT];
	int r;

	for (int o = 0; o < IO_OUTPUT_COUNT; o++) {
		/* After a reported fault a pulse is never replayed; a quick TCP
		 * reconnect while up keeps it pending, written after the sync. */
		if (m->pulse[o] && !m->up) {
			m->want[o] = false;
			m->pulse[o] = 0;
		}
		if (!m->pulse[o])
			m->dirty[o] = false;
		want[o] = m->want[o] && !m->pulse[o];
	}
	pthread_mutex_unlock(&m->mu);
	r = mbio_connect(m);
	if (r == 0 && m->d->watchdog) {
		bool tripped = false;

		r = m->d->watchdog(m->mb, m->cfg.modbus_watchdog_ms, &tripped);
		if (tripped) {
			pthread_mutex_lock(&m->mu);
			m->wdt_tripped = true;
			pthread_mutex_unlock(&m->mu);
		}
	}
	memset(m->board_pulse_ms, 0, sizeof(m->board_pulse_ms));
	for (int o = IO_OPEN_A; o <= IO_OPEN_B && r == 0 && m->d->pulse_length; o++) {
		if (m->map[o].kind != IO_MAP_OUT)
			continue;
		r = m->d->pulse_length(m->mb, m->map[o].channel, m->cfg.lane.pulse_ms);
		m->board_pulse_ms[o] = m->cfg.lane.pulse_ms;
	}
	for (int o = 0; o < IO_OUTPUT_COUNT && r == 0; o++)
		if (m->map[o].kind == IO_MAP_OUT)
			r = mbio_write(m, o, want[o], 0);
	if (r == 0)
		r = mbio_poll(m);
	if (r < 0) {
		if (m->mb)
			modbus_flush(m->mb);
		mbio_disconnect(m);
	}
	pthread_mutex_lock(&m->mu);
	return r;
}

/* With mu held: daemon-timed pulses whose time is up get their level 0 queued. */
static void mbio_pulses_ending(struct mbio *m)
{
	uint64_t now = mono_ms();

	for (int o = 0; o < IO_OUTPUT_COUNT; o++) {
		if (m->off_at[o] && now >= m->off_at[o]) {
			m->off_at[o] = 0;
			m->want[o] = false;
			m->dirty[o] = true;
		}
	}
}

/* With mu held: the next poll, or a daemon-timed pulse's end if sooner. */
static uint64_t mbio_next_wake(const struct mbio *m, uint64_t next_poll)
{
	uint64_t wake = next_poll;

	for (int o = 0; o < IO_OUTPUT_COUNT; o++)
		if (m->off_at[o] && m->off_at[o] < wake)
			wake = m->off_at[o];
	return wake;
}

static void *mbio_worker(void *arg)
{
	struct mbio *m = arg;
	uint32_t backoff = MBIO_BACKOFF_MIN_MS;
	uint64_t next_poll = 0, retry_at = 0;
	int fails = 0, r;

	pthread_mutex_lock(&m->mu);
	while (!m->stop) {
		int o = 0;

		if (!m->mb) {
			if (mono_ms() < retry_at) {
				mbio_wait(m, retry_at);
				continue;
			}
			r = mbio_sync(m);
			if (r < 0) {
				mbio_down(m, r);
				retry_at = mono_ms() + backoff;
				backoff = backoff * 2 > MBIO_BACKOFF_MAX_MS ? MBIO_BACKOFF_MAX_MS
									    : backoff * 2;
				/* outputs wanted while down are written by the next sync */
				continue;
			}
			backoff = MBIO_BACKOFF_MIN_MS;
			fails = 0;
			m->up = true;
			m->err = 0;
			mbio_notify(m);
			next_poll = mono_ms() + m->cfg.modbus_poll_ms;
			continue;
		}
		mbio_pulses_ending(m);
		while (o < IO_OUTPUT_COUNT && !m->dirty[o])
			o++;
		if (o < IO_OUTPUT_COUNT) {
			bool want = m->want[o];
			uint32_t pulse = m->pulse[o];

			m->dirty[o] = false;
			m->pulse[o] = 0; /* a pulse is written once */
			if (pulse) {
				/* Board-timed: never a level to restore at a resync. */
				if (m->d->write_pulse)
					m->want[o] = false;
				if (mono_ms() - m->pulse_at[o] + pulse >
				    m->cfg.lane.pass_window_ms) {
					m->want[o] = false;
					m->pulse_late = true;
					mbio_notify(m);
					continue;
				}
			}
			pthread_mutex_unlock(&m->mu);
			r = m->map[o].kind == IO_MAP_OUT ? mbio_write(m, o, want, pulse) : 0;
			if (r < 0) {
				modbus_flush(m->mb);
				mbio_disconnect(m);
			}
			pthread_mutex_lock(&m->mu);
			if (r < 0)
				mbio_down(m, r);
			else if (pulse && !m->d->write_pulse && m->want[o] && !m->dirty[o])
				m->off_at[o] = mono_ms() + pulse; /* from the write, not the ask */
			continue;
		}
		if (mono_ms() >= next_poll) {
			pthread_mutex_unlock(&m->mu);
			r = mbio_poll(m);
			if (r == -ECONNRESET)
				fails = MBIO_POLL_FAILS_MAX; /* a reset board: sync again now */
			if (r < 0) {
				modbus_flush(m->mb);
				/* TCP: a late reply must not answer the next request; a
				 * new connection cannot carry one. */
				if (++fails >= MBIO_POLL_FAILS_MAX || m->tcp)
					mbio_disconnect(m);
			} else {
				fails = 0;
			}
			pthread_mutex_lock(&m->mu);
			if (r < 0 && fails >= MBIO_POLL_FAILS_MAX)
				mbio_down(m, r);
			else if (r == 0)
				mbio_notify(m);
			next_poll = mono_ms() + m->cfg.modbus_poll_ms;
			continue;
		}
		mbio_wait(m, mbio_next_wake(m, next_poll));
	}
	/* Closing: the lane has asked for its safe levels; write them if we can. */
	if (m->mb) {
		bool want[IO_OUTPUT_COUNT];

		for (int o = 0; o < IO_OUTPUT_COUNT; o++)
			want[o] = m->want[o] && !m->pulse[o] && !m->off_at[o];
		pthread_mutex_unlock(&m->mu);
		r = 0;
		for (int o = 0; o < IO_OUTPUT_COUNT && r == 0; o++)
			if (m->map[o].kind == IO_MAP_OUT)
				r = mbio_write(m, o, want[o], 0);
		/* Outputs safe and nobody to feed it: a watchdog left armed would trip. */
		if (r == 0 && m->d->watchdog)
			m->d->watchdog(m->mb, 0, NULL);
		mbio_disconnect(m);
		pthread_mutex_lock(&m->mu);
	}
	pthread_mutex_unlock(&m->mu);
	return NULL;
}

/* A counted input: r new rising edges, level now l; the lane sees whole pulses. */
static void mbio_report_counted(struct mbio *m, enum io_signal s, uint32_t r, bool l)
{
	bool *p = &m->rep_level[s];

	if (r == 0) {
		/* a rise not counted yet is reported when it is */
		if (*p && !l) {
			*p = false;
			m->cb.input(s, false, m->userdata);
		}
		return;
	}
	if (*p) {
		*p = false;
		m->cb.input(s, false, m->userdata);
	}
	for (uint32_t i = 1; i <= r; i++) {
		m->cb.input(s, true, m->userdata);
		if (i < r || !l)
			m->cb.input(s, false, m->userdata);
	}
	*p = l;
}

static int mbio_on_event(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct mbio *m = userdata;
	bool up, rs485, tripped, late, level[IO_SIGNAL_COUNT];
	uint32_t rising[IO_SIGNAL_COUNT];
	uint64_t v;
	int err;

	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return 0;
	pthread_mutex_lock(&m->mu);
	up = m->up;
	err = m->err;
	rs485 = m->rs485_unsupported;
	tripped = m->wdt_tripped;
	m->wdt_tripped = false;
	late = m->pulse_late;
	m->pulse_late = false;
	memcpy(level, m->level, sizeof(level));
	memcpy(rising, m->rising, sizeof(rising));
	memset(m->rising, 0, sizeof(m->rising));
	pthread_mutex_unlock(&m->mu);

	if (rs485 && !m->rep_rs485) {
		m->rep_rs485 = true;
		log_warnx("modbus %s: RS-485 mode not supported by the device (ENOTTY), ignoring",
			  m->cfg.modbus);
	}
	if (tripped)
		log_warnx("modbus %s: the board's watchdog had dropped every output (nothing heard "
			  "from us for %u ms)",
			  m->cfg.modbus, m->cfg.modbus_watchdog_ms);
	if (late)
		log_warnx("modbus %s: an open pulse waited for the line past the pass window, "
			  "dropped",
			  m->cfg.modbus);
	if (!up) {
		if (m->rep_up) {
			m->rep_up = false;
			if (err)
				log_warnx("modbus %s: link lost: %s", m->cfg.modbus,
					  modbus_strerror(-err));
			m->cb.fault(true, mbio_plain_errno(err), m->userdata);
		}
		return 0;
	}
	if (!m->rep_up) {
		m->rep_up = true;
		log_info("modbus %s: unit %u answers", m->cfg.modbus, m->cfg.modbus_unit);
		m->cb.fault(false, 0, m->userdata);
	}
	for (int s = IO_INPUT_FIRST; s < IO_SIGNAL_COUNT; s++) {
		if (m->map[s].kind == IO_MAP_COUNT) {
			mbio_report_counted(m, (enum io_signal)s, rising[s], level[s]);
		} else if (m->map[s].kind == IO_MAP_IN && level[s] != m->rep_level[s]) {
			m->rep_level[s] = level[s];
			m->cb.input((enum io_signal)s, level[s], m->userdata);
		}
	}
	return 0;
}

static void mbio_close(void *ctx)
{
	struct mbio *m = ctx;

	if (!m)
		return;
	if (m->started) {
		pthread_mutex_lock(&m->mu);
		m->stop = true;
		pthread_cond_signal(&m->cv);
		pthread_mutex_unlock(&m->mu);
		pthread_join(m->thread, NULL);
	}
	sd_event_source_disable_unref(m->src);
	if (m->efd >= 0)
		close(m->efd);
	pthread_cond_destroy(&m->cv);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

/* Resolves the lane's io.SIGNAL keys against the dialect. */
static int mbio_map(struct mbio *m, const struct config_lane *lane)
{
	int in_lo = MBIO_SPAN_MAX * 8, in_hi = -1, c_lo = in_lo, c_hi = -1;

	for (int s = 0; s < IO_SIGNAL_COUNT; s++) {
		const char *why = "";
		struct io_map *mp = &m->map[s];

		if (io_map_parse(lane->io_map[s], io_is_output((enum io_signal)s), mp, &why) < 0)
			return -EINVAL;
		if (mp->kind == IO_MAP_IN || mp->kind == IO_MAP_COUNT) {
			if (!m->d->read_in) {
				log_warnx("lane %s: io.%s: the %s board has no inputs", lane->name,
					  io_signal_name((enum io_signal)s), m->d->name);
				return -EINVAL;
			}
			in_lo = mp->channel < in_lo ? mp->channel : in_lo;
			in_hi = mp->channel > in_hi ? mp->channel : in_hi;
		}
		if (mp->kind == IO_MAP_COUNT) {
			if (!m->d->read_count) {
				log_warnx(
				    "lane %s: io.%s: the %s board latches no counters (use in:N)",
				    lane->name, io_signal_name((enum io_signal)s), m->d->name);
				return -EINVAL;
			}
			c_lo = mp->channel < c_lo ? mp->channel : c_lo;
			c_hi = mp->channel > c_hi ? mp->channel : c_hi;
		}
	}
	if (in_hi >= 0) {
		m->in_first = (uint16_t)in_lo;
		m->in_n = (uint16_t)(in_hi - in_lo + 1);
	}
	if (c_hi >= 0) {
		m->count_first = (uint16_t)c_lo;
		m->count_n = (uint16_t)(c_hi - c_lo + 1);
	}
	if (m->in_n > MBIO_SPAN_MAX || m->count_n > MBIO_SPAN_MAX) {
		log_warnx("lane %s: mapped inputs span more than %d channels", lane->name,
			  MBIO_SPAN_MAX);
		return -EINVAL;
	}
	if (m->map[IO_FIRE_ALARM].kind == IO_MAP_NONE)
		log_warnx("lane %s: io.fire_alarm = none: no fire loop, emergency opening only "
			  "by turnstilectl",
			  lane->name);
	return 0;
}

static int mbio_open(void **ctx, sd_event *ev, const struct config_lane *lane,
		     const struct io_callbacks *cb, void *userdata)
{
	pthread_condattr_t ca;
	struct mbio *m = calloc(1, sizeof(*m));
	int r;

	if (!m)
		return -ENOMEM;
	m->efd = -1;
	pthread_mutex_init(&m->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->cv, &ca);
	pthread_condattr_destroy(&ca);
	m->cfg = *lane;
	m->cb = *cb;
	m->userdata = userdata;
	m->d = io_modbus_dialect(lane->modbus_dialect);
	m->tcp = strncmp(lane->modbus, "tcp:", 4) == 0;
	/* Reported as up until the worker says otherwise: its first word is "down". */
	m->rep_up = true;
	m->rep_level[IO_FIRE_ALARM] = true;
	r = m->d ? mbio_map(m, lane) : -EINVAL;
	if (r < 0)
		goto error;
	m->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->efd < 0) {
		r = -errno;
		goto error;
	}
	r = sd_event_add_io(ev, &m->src, m->efd, EPOLLIN, mbio_on_event, m);
	if (r < 0)
		goto error;
	/* The lane is io_fault until the board has answered a full sync. */
	mbio_notify(m);
	r = -pthread_create(&m->thread, NULL, mbio_worker, m);
	if (r < 0)
		goto error;
	m->started = true;
	*ctx = m;
	return 0;
error:
	mbio_close(m);
	return r;
}

static int mbio_set(void *ctx, enum io_signal output, bool level, uint32_t pulse_ms)
{
	struct mbio *m = ctx;

	if (m->map[output].kind != IO_MAP_OUT)
		return 0; /* not wired: absent */
	pthread_mutex_lock(&m->mu);
	if (!level && m->pulse_len[output] &&
	    mono_ms() + MBIO_PULSE_END_SLACK_MS >= m->pulse_at[output] + m->pulse_len[output]) {
		/* The lane ends a pulse that the board or the worker times from its
		 * write (or will, once written): they end it. */
		m->pulse_len[output] = 0;
		pthread_mutex_unlock(&m->mu);
		return 0;
	}
	m->pulse_len[output] = level ? pulse_ms : 0;
	m->pulse_at[output] = mono_ms();
	m->off_at[output] = 0;
	m->want[output] = level;
	m->pulse[output] = level ? pulse_ms : 0;
	m->dirty[output] = true;
	pthread_cond_signal(&m->cv);
	pthread_mutex_unlock(&m->mu);
	return 0;
}

static int mbio_get(void *ctx, enum io_signal input, bool *level)
{
	struct mbio *m = ctx;

	*level = m->rep_level[input];
	return 0;
}

const struct io_backend_ops io_modbus_ops = {
	.name = "modbus",
	.open = mbio_open,
	.close = mbio_close,
	.set = mbio_set,
	.get = mbio_get,
};
