/* io.c: signal names and the backend registry (see io.h). Backends compiled in
 * are listed here; optional ones appear when their library was found. */
#include "io.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "io_sim.h"
#ifdef TS_HAVE_MODBUS
#include "io_modbus.h"
#endif
#ifdef TS_HAVE_GPIOD
#include "io_gpio.h"
#endif

static const struct io_backend_ops *const io_backends[] = {
	&io_sim_ops,
#ifdef TS_HAVE_MODBUS
	&io_modbus_ops,
#endif
#ifdef TS_HAVE_GPIOD
	&io_gpio_ops,
#endif
};

static const char *const io_signal_names[IO_SIGNAL_COUNT] = {
	[IO_OPEN_A] = "open_a",
	[IO_OPEN_B] = "open_b",
	[IO_STOP] = "stop",
	[IO_LED_GREEN] = "led_green",
	[IO_LED_RED] = "led_red",
	[IO_LED_YELLOW] = "led_yellow",
	[IO_BUZZER] = "buzzer",
	[IO_ALARM] = "alarm",
	[IO_PASS_A] = "pass_a",
	[IO_PASS_B] = "pass_b",
	[IO_FIRE_ALARM] = "fire_alarm",
	[IO_CONFIRM] = "confirm",
	[IO_REJECT] = "reject",
	[IO_MANUAL_OPEN] = "manual_open",
	[IO_TAMPER] = "tamper",
};

const char *io_signal_name(enum io_signal signal)
{
	return signal < IO_SIGNAL_COUNT ? io_signal_names[signal] : "?";
}

int io_signal_from_name(const char *name, enum io_signal *signal)
{
	for (int i = 0; i < IO_SIGNAL_COUNT; i++) {
		if (strcmp(name, io_signal_names[i]) == 0) {
			*signal = (enum io_signal)i;
			return 0;
		}
	}
	return -EINVAL;
}

int io_open(struct io **out, sd_event *ev, const struct config_lane *lane,
	    const struct io_callbacks *cb, void *userdata)
{
	const struct io_backend_ops *ops = NULL;
	struct io *io;
	int r;

	for (size_t i = 0; i < sizeof(io_backends) / sizeof(io_backends[0]); i++)
		if (strcmp(io_backends[i]->name, lane->io) == 0)
			ops = io_backends[i];
	if (!ops)
		return -ENOENT;
	io = calloc(1, sizeof(*io));
	if (!io)
		return -ENOMEM;
	io->ops = ops;
	r = ops->open(&io->ctx, ev, lane, cb, userdata);
	if (r < 0) {
		free(io);
		return r;
	}
	*out = io;
	return 0;
}

void io_close(struct io *io)
{
	if (!io)
		return;
	io->ops->close(io->ctx);
	free(io);
}

int io_set(struct io *io, enum io_signal output, bool level, uint32_t pulse_ms)
{
	if (!io_is_output(output))
		return -EINVAL;
	return io->ops->set(io->ctx, output, level, pulse_ms);
}

int io_get(struct io *io, enum io_signal input, bool *level)
{
	if (io_is_output(input) || input >= IO_SIGNAL_COUNT)
		return -EINVAL;
	return io->ops->get(io->ctx, input, level);
}
