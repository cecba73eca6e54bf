/*
 * Host port: the IO board core as a Linux process, for quick tests by hand or
 * from integration tests.
 *
 *   iob-host [-d DEVICE] [-e EEPROM_FILE]
 *
 * The Modbus side is a pty (its slave path is printed as "pty PATH" on stdout;
 * we keep the slave open so masters can come and go) or, with -d, an existing
 * tty or pty slave.  The side channel is stdin/stdout, one command a line:
 *   in NAME 0|1      set a raw input (pass_a, pass_b, fire_loop_ok, confirm,
 *                    reject, manual_open, tamper); the core debounces it
 *   out              print the outputs
 *   quit
 * Every output change is printed as "out open_a=0 open_b=0 ...".  Inputs start
 * inactive except fire_loop_ok = 1.  The EEPROM is a 64-byte file (created on
 * the first commit) or, without -e, memory.  Time is CLOCK_MONOTONIC; the
 * loop wakes at least every millisecond and catches the 1 ms ticks up.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "iob.h"

#define HOST_EEPROM_SIZE 64

static const char *const host_out_names[IOB_OUT_COUNT] = {
    "open_a", "open_b", "stop", "led_green", "led_red", "led_yellow", "buzzer", "alarm",
};
static const char *const host_in_names[IOB_IN_COUNT] = {
    "pass_a", "pass_b", "fire_loop_ok", "confirm", "reject", "manual_open", "tamper",
};

struct host {
	int fd;
	uint8_t inputs;
	uint8_t outputs;
	const char *eeprom_path;
	uint8_t eeprom[HOST_EEPROM_SIZE];
};

static uint32_t host_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint32_t)((uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u);
}

static void host_print_outputs(const struct host *h)
{
	printf("out");
	for (int i = 0; i < IOB_OUT_COUNT; i++)
		printf(" %s=%d", host_out_names[i], (h->outputs >> i) & 1);
	printf("\n");
	fflush(stdout);
}

static void host_outputs_write(void *ctx, uint8_t mask)
{
	struct host *h = ctx;

	h->outputs = mask;
	host_print_outputs(h);
}

static uint8_t host_inputs_read(void *ctx)
{
	const struct host *h = ctx;

	return h->inputs;
}

static int host_eeprom_read(void *ctx, uint16_t addr, uint8_t *buf, uint16_t len)
{
	const struct host *h = ctx;

	if ((size_t)addr + len > sizeof(h->eeprom))
		return -1;
	memcpy(buf, h->eeprom + addr, len);
	return 0;
}

static int host_eeprom_write(void *ctx, uint16_t addr, const uint8_t *buf, uint16_t len)
{
	struct host *h = ctx;
	FILE *f;

	if ((size_t)addr + len > sizeof(h->eeprom))
		return -1;
	memcpy(h->eeprom + addr, buf, len);
	if (!h->eeprom_path)
		return 0;
	f = fopen(h->eeprom_path, "wbe");
	if (!f)
		return -1;
	if (fwrite(h->eeprom, 1, sizeof(h->eeprom), f) != sizeof(h->eeprom)) {
		fclose(f);
		return -1;
	}
	return fclose(f) == 0 ? 0 : -1;
}

static void host_uart_tx(void *ctx, const uint8_t *buf, uint16_t len)
{
	const struct host *h = ctx;

	while (len > 0) {
		ssize_t n = write(h->fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* No master connected (EIO) or it is stuck: the reply is lost, as on a bus.
			 */
			return;
		}
		buf += n;
		len = (uint16_t)(len - n);
	}
}

static const struct port_ops host_port_ops = {
    .outputs_write = host_outputs_write,
    .inputs_read = host_inputs_read,
    .eeprom_read = host_eeprom_read,
    .eeprom_write = host_eeprom_write,
    .uart_tx = host_uart_tx,
};

static int host_open_pty(void)
{
	struct termios tio;
	const char *name;
	int fd, slave;

	fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0 || grantpt(fd) < 0 || unlockpt(fd) < 0 || !(name = ptsname(fd)))
		goto error;
	/* Held open (and leaked on purpose) so the master end never sees EIO between clients. */
	slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		goto error;
	if (tcgetattr(slave, &tio) == 0) {
		cfmakeraw(&tio);
		tcsetattr(slave, TCSANOW, &tio);
	}
	printf("pty %s\n", name);
	fflush(stdout);
	return fd;
error:
	perror("iob-host: pty");
	if (fd >= 0)
		close(fd);
	return -1;
}

static int host_open_device(const char *path)
{
	struct termios tio;
	int fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (fd < 0) {
		perror(path);
		return -1;
	}
	if (tcgetattr(fd, &tio) == 0) {
		cfmakeraw(&tio);
		tcsetattr(fd, TCSANOW, &tio);
	}
	return fd;
}

/* One side-channel line; returns 1 to quit. */
static int host_command(struct host *h, char *line)
{
	char *cmd = strtok(line, " \t\r\n"), *name, *value;

	if (!cmd)
		return 0;
	if (!strcmp(cmd, "quit"))
		return 1;
	if (!strcmp(cmd, "out")) {
		host_print_outputs(h);
		return 0;
	}
	if (!strcmp(cmd, "in")) {
		name = strtok(NULL, " \t\r\n");
		value = strtok(NULL, " \t\r\n");
		for (int i = 0; name && value && i < IOB_IN_COUNT; i++) {
			if (strcmp(name, host_in_names[i]))
				continue;
			if (!strcmp(value, "1"))
				h->inputs |= (uint8_t)(1u << i);
			else
				h->inputs &= (uint8_t) ~(1u << i);
			printf("ok\n");
			fflush(stdout);
			return 0;
		}
	}
	printf("error unknown command\n");
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	static struct iob board;
	struct host h = {.fd = -1, .inputs = 1u << IOB_IN_FIRE_LOOP_OK};
	const char *device = NULL;
	char line[128];
	size_t line_len = 0;
	uint32_t last_tick;
	FILE *f;
	int opt;

	while ((opt = getopt(argc, argv, "d:e:h")) != -1) {
		switch (opt) {
		case 'd':
			device = optarg;
			break;
		case 'e':
			h.eeprom_path = optarg;
			break;
		default:
			fprintf(stderr, "usage: iob-host [-d DEVICE] [-e EEPROM_FILE]\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	memset(h.eeprom, 0xFF, sizeof(h.eeprom));
	if (h.eeprom_path && (f = fopen(h.eeprom_path, "rbe"))) {
		if (fread(h.eeprom, 1, sizeof(h.eeprom), f) != sizeof(h.eeprom))
			fprintf(stderr, "iob-host: %s: short EEPROM file, ignoring\n",
				h.eeprom_path);
		fclose(f);
	}
	h.fd = device ? host_open_device(device) : host_open_pty();
	if (h.fd < 0)
		return 1;
	iob_init(&board, &host_port_ops, &h);
	fprintf(stderr, "iob-host: unit %u, %lu baud\n", (unsigned)board.unit_run,
		(unsigned long)iob_baud(&board));
	last_tick = host_now_us();
	for (;;) {
		struct pollfd pfd[2] = {{.fd = h.fd, .events = POLLIN},
					{.fd = STDIN_FILENO, .events = POLLIN}};
		uint8_t buf[256];
		uint32_t now;
		ssize_t n;

		if (poll(pfd, 2, 1) < 0 && errno != EINTR) {
			perror("iob-host: poll");
			return 1;
		}
		now = host_now_us();
		if (pfd[0].revents & POLLIN) {
			n = read(h.fd, buf, sizeof(buf));
			for (ssize_t i = 0; i < n; i++)
				iob_rx(&board, buf[i], now);
		}
		if (pfd[1].revents & (POLLIN | POLLHUP)) {
			/* read(), not stdio: poll() cannot see lines buffered inside a FILE. */
			n = read(STDIN_FILENO, line + line_len, sizeof(line) - 1 - line_len);
			if (n <= 0)
				return 0;
			line_len += (size_t)n;
			line[line_len] = '\0';
			for (char *nl; (nl = strchr(line, '\n'));) {
				*nl = '\0';
				if (host_command(&h, line))
					return 0;
				line_len -= (size_t)(nl + 1 - line);
				memmove(line, nl + 1, line_len + 1);
			}
			if (line_len == sizeof(line) - 1)
				line_len = 0; /* an overlong line: drop it */
		}
		while (now - last_tick >= 1000) {
			iob_tick_1ms(&board);
			last_tick += 1000;
		}
		iob_poll(&board, now);
	}
}
