/*
 * Simulator rig: the real AVR build of the IO board firmware under libsimavr,
 * wired to a pty and to a modelled turnstile.
 *
 *   iob-sim [-m MCU] [-f HZ] [-x SPEED] [-d PASS_DELAY_MS|never] [-H HOLD_MS] [-r] ELF
 *
 * The MCU and clock come from the command line (default atmega328p, 16 MHz),
 * never from an .mmcu section in the ELF (see ../../shared test-rigs.md).
 * The UART is bridged to a pty whose slave path is printed as "pty PATH"; the
 * slave stays open so Modbus masters can come and go.  Received bytes are fed
 * to the UART only while it signals XON; the UART then delivers them at the
 * baud rate in simulated cycles, so the firmware's T1.5/T3.5 timing is real.
 *
 * Time is simulated time (cycles / clock).  SPEED 1 paces it to the wall clock
 * (sleeping whenever it runs ahead), 2 runs twice as fast, 0 as fast as
 * possible.  Every event line carries the simulated time in microseconds.
 *
 * Pins are sampled after every instruction from the PORT and DDR registers
 * (a pin drives a relay only when it is an output and high), so an output
 * glitch from the first instruction after reset on is seen.  Inputs are active
 * low (opto inputs, hw/ioboard-pinout.md); commands speak logical levels.
 *
 * The turnstile model: a rising edge on open_a (open_b) makes a simulated
 * person walk through: after PASS_DELAY ms pass_a (pass_b) goes active for
 * HOLD ms; with "never" nobody comes.
 *
 * Control channel on stdin, one command a line:
 *   in NAME 0|1          set an input (pass_a pass_b fire_loop_ok confirm reject
 *                        manual_open tamper); fire_loop_ok 0 = loop cut
 *   pulse_in NAME MS     input active for MS simulated ms, then inactive
 *   pass_delay MS|never  the turnstile model's walk-in delay
 *   pass_hold MS         how long the pass sensor stays active
 *   time                 print "time t=US"
 *   reset                an external reset of the MCU (as the reset pin or a
 *                        power blip); the EEPROM keeps its content; prints
 *                        "reset t=US"
 *   quit                 (or end of input)
 * Events on stdout:
 *   out t=US mask=0xMM open_a=0 ... w=US  outputs changed (first line: at reset);
 *                                      w is CLOCK_MONOTONIC then, to time the
 *                                      board against the host's clock (benches)
 *   in t=US NAME=0|1                   an input changed (command or model)
 *   walk t=US dir=a|b                  a simulated person starts passing
 *   rx t=US w=US n=N x=HEX             (-r) N bytes came in from the pty, stamped
 *                                      like out lines (benches, traffic tests)
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <avr_ioport.h>
#include <avr_uart.h>
#include <sim_avr.h>
#include <sim_elf.h>
#include <sim_time.h>

#include "ioboard_regs.h"

/* ATmega328P data-space addresses of the ports the board uses. */
#define SIM_DDRB 0x24
#define SIM_PORTB 0x25
#define SIM_DDRD 0x2A
#define SIM_PORTD 0x2B
#define SIM_PINC 0x26
#define SIM_PIND 0x29
#define SIM_UCSR0B 0xC1
#define SIM_RXEN0 0x10

#define SIM_RX_BUF 1024
#define SIM_POLL_EVERY 512 /* instructions between fd polls (~50 us simulated) */

struct sim_input {
	const char *name;
	char port;
	int bit;
};

/* hw/ioboard-pinout.md, IOB_IN_* order. */
static const struct sim_input sim_inputs[IOB_IN_COUNT] = {
    {"pass_a", 'C', 0},	      {"pass_b", 'C', 1}, {"fire_loop_ok", 'C', 2}, {"confirm", 'C', 3},
    {"reject", 'C', 4},	      {"manual_open", 'C', 5}, {"tamper", 'D', 4},
};
static const char *const sim_out_names[IOB_OUT_COUNT] = {
    "open_a", "open_b", "stop", "led_green", "led_red", "led_yellow", "buzzer", "alarm",
};

struct sim {
	avr_t *avr;
	int master, slave;
	uint8_t rx[SIM_RX_BUF];
	size_t rx_len;
	int xon;
	uint8_t inputs; /* logical, bit n = IOB_IN_n active */
	int outputs;	/* -1 before the first sample */
	long pass_delay_ms; /* < 0: nobody walks */
	long pass_hold_ms;
	int stamp_rx;
	double speed;
	struct timespec wall0;
	avr_cycle_count_t cycle0;
	int quit;
};

static struct sim sim;

/*
 * libsimavr 1.6 never frees its IRQ tables and ELF symbol data; LeakSanitizer
 * (ASan builds) reads this hook and leaves the library's own allocations out.
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libsimavr.so\n";
}

static unsigned long long sim_now_us(void)
{
	return (unsigned long long)((sim.avr->cycle * 1000000ull) / sim.avr->frequency);
}

static void sim_set_input(int n, int active)
{
	const struct sim_input *in = &sim_inputs[n];
	avr_irq_t *irq = avr_io_getirq(sim.avr, AVR_IOCTL_IOPORT_GETIRQ(in->port), in->bit);

	if (active)
		sim.inputs |= (uint8_t)(1u << n);
	else
		sim.inputs &= (uint8_t) ~(1u << n);
	/* Active low: the opto pulls the pin to ground. */
	avr_raise_irq(irq, active ? 0 : 1);
	printf("in t=%llu %s=%d\n", sim_now_us(), in->name, active);
	fflush(stdout);
}

/*
 * libsimavr 1.6 lets a PORT write (the firmware enabling its pull-ups, or
 * driving outputs on the same port) overwrite the level an external device
 * drives on an input pin; put ours back, as a real opto would hold it.
 */
static void sim_hold_inputs(void)
{
	const uint8_t *d = sim.avr->data;

	for (int n = 0; n < IOB_IN_COUNT; n++) {
		const struct sim_input *in = &sim_inputs[n];
		int want = !(sim.inputs & (1u << n));
		int pin = (d[in->port == 'C' ? SIM_PINC : SIM_PIND] >> in->bit) & 1;

		if (pin != want)
			avr_raise_irq(avr_io_getirq(sim.avr, AVR_IOCTL_IOPORT_GETIRQ(in->port),
						    in->bit),
				      (uint32_t)want);
	}
}

static avr_cycle_count_t sim_input_release(avr_t *avr, avr_cycle_count_t when, void *param)
{
	sim_set_input((int)(long)param, 0);
	return 0;
}

static void sim_pulse_input(int n, long ms)
{
	sim_set_input(n, 1);
	avr_cycle_timer_register(sim.avr, avr_usec_to_cycles(sim.avr, (uint32_t)ms * 1000u),
				 sim_input_release, (void *)(long)n);
}

static avr_cycle_count_t sim_walk(avr_t *avr, avr_cycle_count_t when, void *param)
{
	int in = (int)(long)param;

	printf("walk t=%llu dir=%c\n", sim_now_us(), in == IOB_IN_PASS_A ? 'a' : 'b');
	sim_pulse_input(in, sim.pass_hold_ms);
	return 0;
}

static void sim_sample_outputs(void)
{
	const uint8_t *d = sim.avr->data;
	int mask = ((d[SIM_PORTB] & d[SIM_DDRB]) & 0x3F) | ((d[SIM_PORTD] & d[SIM_DDRD]) & 0xC0);
	struct timespec wall;
	int rose;

	if (mask == sim.outputs)
		return;
	rose = sim.outputs < 0 ? 0 : mask & ~sim.outputs;
	sim.outputs = mask;
	printf("out t=%llu mask=0x%02x", sim_now_us(), mask);
	for (int i = 0; i < IOB_OUT_COUNT; i++)
		printf(" %s=%d", sim_out_names[i], (mask >> i) & 1);
	clock_gettime(CLOCK_MONOTONIC, &wall);
	printf(" w=%llu\n", (unsigned long long)wall.tv_sec * 1000000ull +
				   (unsigned long long)wall.tv_nsec / 1000ull);
	fflush(stdout);
	if (sim.pass_delay_ms < 0)
		return;
	for (int i = IOB_OUT_OPEN_A; i <= IOB_OUT_OPEN_B; i++) {
		long in = i == IOB_OUT_OPEN_A ? IOB_IN_PASS_A : IOB_IN_PASS_B;

		if (!(rose & (1 << i)))
			continue;
		avr_cycle_timer_register(sim.avr,
					 avr_usec_to_cycles(sim.avr,
							    (uint32_t)sim.pass_delay_ms * 1000u),
					 sim_walk, (void *)in);
	}
}

static void sim_uart_out(struct avr_irq_t *irq, uint32_t value, void *param)
{
	uint8_t byte = (uint8_t)value;

	/* Nobody reading and the pty queue full: the byte is lost, as on a wire. */
	if (write(sim.master, &byte, 1) < 0 && errno != EAGAIN)
		perror("iob-sim: pty write");
}

static void sim_uart_xon(struct avr_irq_t *irq, uint32_t value, void *param)
{
	sim.xon = 1;
}

/* XOFF is raised with 1 when the UART's input fifo is full, with 0 when it drains. */
static void sim_uart_xoff(struct avr_irq_t *irq, uint32_t value, void *param)
{
	sim.xon = !value;
}

static void sim_feed_uart(void)
{
	avr_irq_t *in = avr_io_getirq(sim.avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_INPUT);
	size_t i = 0;

	/*
	 * Hold bytes while the receiver is off (half duplex, the board is
	 * answering): simavr would drop them, and a master that starts its next
	 * request as soon as it has read our last byte is a turnaround too short
	 * for a real line but harmless here.
	 */
	if (!(sim.avr->data[SIM_UCSR0B] & SIM_RXEN0))
		return;
	while (sim.xon && i < sim.rx_len)
		avr_raise_irq(in, sim.rx[i++]);
	memmove(sim.rx, sim.rx + i, sim.rx_len - i);
	sim.rx_len -= i;
}

static int sim_input_by_name(const char *name)
{
	for (int i = 0; i < IOB_IN_COUNT; i++)
		if (!strcmp(name, sim_inputs[i].name))
			return i;
	return -1;
}

static void sim_command(char *line)
{
	char *cmd = strtok(line, " \t\r\n");
	char *a1 = strtok(NULL, " \t\r\n");
	char *a2 = strtok(NULL, " \t\r\n");
	int n;

	if (!cmd)
		return;
	if (!strcmp(cmd, "quit")) {
		sim.quit = 1;
	} else if (!strcmp(cmd, "time")) {
		printf("time t=%llu\n", sim_now_us());
	} else if (!strcmp(cmd, "reset")) {
		avr_reset(sim.avr);
		/*
		 * The reset clears the PIN registers but not the IRQ values, so a
		 * plain raise of the same level is filtered out: toggle each input
		 * back to the level our optos hold, before the next instruction.
		 */
		for (n = 0; n < IOB_IN_COUNT; n++) {
			avr_irq_t *irq = avr_io_getirq(sim.avr,
						       AVR_IOCTL_IOPORT_GETIRQ(sim_inputs[n].port),
						       sim_inputs[n].bit);
			uint32_t level = (sim.inputs >> n) & 1 ? 0 : 1;

			avr_raise_irq(irq, !level);
			avr_raise_irq(irq, level);
		}
		sim.xon = 1;
		sim.rx_len = 0; /* a frame cut by the reset is lost, as on a wire */
		printf("reset t=%llu\n", sim_now_us());
	} else if (!strcmp(cmd, "in") && a1 && a2 && (n = sim_input_by_name(a1)) >= 0) {
		sim_set_input(n, atoi(a2) != 0);
	} else if (!strcmp(cmd, "pulse_in") && a1 && a2 && (n = sim_input_by_name(a1)) >= 0) {
		sim_pulse_input(n, atol(a2));
	} else if (!strcmp(cmd, "pass_delay") && a1) {
		sim.pass_delay_ms = !strcmp(a1, "never") ? -1 : atol(a1);
		printf("ok\n");
	} else if (!strcmp(cmd, "pass_hold") && a1) {
		sim.pass_hold_ms = atol(a1);
		printf("ok\n");
	} else {
		printf("error unknown command\n");
	}
	fflush(stdout);
}

static void sim_read_stdin(void)
{
	static char buf[256];
	static size_t len;
	ssize_t r = read(STDIN_FILENO, buf + len, sizeof(buf) - 1 - len);
	char *nl;

	if (r <= 0) {
		if (r == 0 || errno != EAGAIN)
			sim.quit = 1;
		return;
	}
	len += (size_t)r;
	buf[len] = '\0';
	while ((nl = strchr(buf, '\n'))) {
		*nl = '\0';
		sim_command(buf);
		len -= (size_t)(nl + 1 - buf);
		memmove(buf, nl + 1, len + 1);
	}
	if (len == sizeof(buf) - 1)
		len = 0; /* an overlong line: drop it */
}

static void sim_poll_fds(void)
{
	struct pollfd p[2] = {{.fd = STDIN_FILENO, .events = POLLIN},
			      {.fd = sim.master, .events = sim.rx_len < SIM_RX_BUF ? POLLIN : 0}};

	if (poll(p, 2, 0) > 0) {
		if (p[0].revents & (POLLIN | POLLHUP))
			sim_read_stdin();
		if (p[1].revents & POLLIN) {
			ssize_t r = read(sim.master, sim.rx + sim.rx_len, SIM_RX_BUF - sim.rx_len);

			if (r > 0)
				sim.rx_len += (size_t)r;
			if (r > 0 && sim.stamp_rx) {
				struct timespec wall;

				clock_gettime(CLOCK_MONOTONIC, &wall);
				printf("rx t=%llu w=%llu n=%zd x=", sim_now_us(),
				       (unsigned long long)wall.tv_sec * 1000000ull +
					   (unsigned long long)wall.tv_nsec / 1000ull,
				       r);
				for (ssize_t i = 0; i < r; i++)
					printf("%02x", sim.rx[sim.rx_len - (size_t)r + (size_t)i]);
				printf("\n");
				fflush(stdout);
			}
		}
	}
	if (sim.rx_len)
		sim_feed_uart();
}

/* Sleep while simulated time is ahead of the wall clock (times the speed). */
static void sim_pace(void)
{
	struct timespec now;
	double wall_us, sim_us, ahead_us;

	if (sim.speed <= 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	wall_us = (double)(now.tv_sec - sim.wall0.tv_sec) * 1e6 +
		  (double)(now.tv_nsec - sim.wall0.tv_nsec) / 1e3;
	sim_us = (double)(sim.avr->cycle - sim.cycle0) * 1e6 / sim.avr->frequency;
	ahead_us = sim_us / sim.speed - wall_us;
	if (ahead_us > 200) {
		struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)(ahead_us * 1000)};

		nanosleep(&ts, NULL);
	}
}

static int sim_open_pty(void)
{
	struct termios t;

	if (openpty(&sim.master, &sim.slave, NULL, NULL, NULL) < 0) {
		perror("iob-sim: openpty");
		return -1;
	}
	tcgetattr(sim.slave, &t);
	cfmakeraw(&t);
	tcsetattr(sim.slave, TCSANOW, &t);
	fcntl(sim.master, F_SETFL, fcntl(sim.master, F_GETFL) | O_NONBLOCK);
	fcntl(sim.master, F_SETFD, FD_CLOEXEC);
	fcntl(sim.slave, F_SETFD, FD_CLOEXEC);
	printf("pty %s\n", ttyname(sim.slave));
	fflush(stdout);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: iob-sim [-m MCU] [-f HZ] [-x SPEED] [-d PASS_DELAY_MS|never] "
			"[-H HOLD_MS] [-r] ELF\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *mcu = "atmega328p";
	unsigned long freq = 16000000;
	elf_firmware_t fw;
	uint32_t flags = 0;
	unsigned long n = 0;
	int opt;

	sim.pass_delay_ms = 300;
	sim.pass_hold_ms = 300;
	sim.speed = 1;
	sim.outputs = -1;
	sim.xon = 1;
	while ((opt = getopt(argc, argv, "m:f:x:d:H:r")) != -1) {
		switch (opt) {
		case 'm':
			mcu = optarg;
			break;
		case 'f':
			freq = strtoul(optarg, NULL, 10);
			break;
		case 'x':
			sim.speed = strtod(optarg, NULL);
			break;
		case 'd':
			sim.pass_delay_ms = !strcmp(optarg, "never") ? -1 : atol(optarg);
			break;
		case 'H':
			sim.pass_hold_ms = atol(optarg);
			break;
		case 'r':
			sim.stamp_rx = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1)
		usage();
	signal(SIGPIPE, SIG_IGN);

	memset(&fw, 0, sizeof(fw));
	if (elf_read_firmware(argv[optind], &fw) != 0) {
		fprintf(stderr, "iob-sim: cannot read %s\n", argv[optind]);
		return 1;
	}
	/* Ours, not the ELF's: see the .mmcu pitfall above. */
	snprintf(fw.mmcu, sizeof(fw.mmcu), "%s", mcu);
	fw.frequency = (uint32_t)freq;
	sim.avr = avr_make_mcu_by_name(fw.mmcu);
	if (!sim.avr) {
		fprintf(stderr, "iob-sim: unknown MCU %s\n", mcu);
		return 1;
	}
	avr_init(sim.avr);
	sim.avr->log = LOG_WARNING;
	avr_load_firmware(sim.avr, &fw);
	sim.avr->frequency = (uint32_t)freq;
	free(fw.flash); /* copied into the simulated flash */
	free(fw.eeprom);

	avr_ioctl(sim.avr, AVR_IOCTL_UART_SET_FLAGS('0'), &flags); /* no stdio echo, no poll sleep */
	avr_irq_register_notify(avr_io_getirq(sim.avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUTPUT),
				sim_uart_out, NULL);
	avr_irq_register_notify(avr_io_getirq(sim.avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUT_XON),
				sim_uart_xon, NULL);
	avr_irq_register_notify(
	    avr_io_getirq(sim.avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUT_XOFF), sim_uart_xoff,
	    NULL);
	if (sim_open_pty() < 0)
		return 1;
	fcntl(STDIN_FILENO, F_SETFL, fcntl(STDIN_FILENO, F_GETFL) | O_NONBLOCK);

	/* Idle inputs: nothing active but the fire loop, which is intact. */
	for (int i = 0; i < IOB_IN_COUNT; i++)
		sim_set_input(i, i == IOB_IN_FIRE_LOOP_OK);
	sim_sample_outputs();

	clock_gettime(CLOCK_MONOTONIC, &sim.wall0);
	sim.cycle0 = sim.avr->cycle;
	while (!sim.quit) {
		int state = avr_run(sim.avr);

		if (state == cpu_Done || state == cpu_Crashed) {
			fprintf(stderr, "iob-sim: the AVR stopped (state %d)\n", state);
			break;
		}
		sim_sample_outputs();
		sim_hold_inputs();
		if (++n % SIM_POLL_EVERY == 0) {
			sim_poll_fds();
			sim_pace();
		}
	}
	avr_terminate(sim.avr);
	free(sim.avr);
	close(sim.master);
	close(sim.slave);
	return 0;
}
