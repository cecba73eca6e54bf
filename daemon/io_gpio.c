/* io_gpio.c: the `gpio` IO backend on libgpiod 1.6 (the Linux GPIO character
 * device). Kept to this one file so that a libgpiod 2 port touches nothing else.
 *
 * - The chip is `gpio_chip` (name, path, label or number: gpiod_chip_open_lookup);
 *   a signal's line is its offset or its name on that chip; ":low" makes a line
 *   active-low, and libgpiod applies it, so every level here is logical.
 * - Outputs are requested once, at open, with their safe level (0) as the
 *   request's default value: the line is never driven to anything else before
 *   the lane asks. They stay requested for the daemon's life (nobody else may
 *   take them) and are set back to 0 before release.
 * - Inputs are requested for both edges; their event fds sit on the event loop
 *   (no polling). An edge only arms a one-shot timer of `gpio_debounce`; when it
 *   fires the line's value is read, and reported if it differs from the last
 *   level reported. A glitch shorter than the debounce time is never reported;
 *   each new edge restarts the timer, so the level reported is the one that
 *   held still for the debounce time.
 * - get() answers the last level reported; the fire loop's is read at open, so
 *   that a loop already open at start is known before the daemon reports ready.
 * - A failing set or read is reported as a fault (the lane goes io_fault).
 */
#include "io_gpio.h"

#include <errno.h>
#include <gpiod.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io_map.h"
#include "log.h"

#define GPIO_CONSUMER "turnstiled"

struct gpio_io;

struct gpio_in {
	struct gpio_io *g;
	enum io_signal signal;
	struct gpiod_line *line;
	sd_event_source *io_src;
	sd_event_source *timer;
};

struct gpio_io {
	struct gpiod_chip *chip;
	sd_event *ev;
	struct io_callbacks cb;
	void *userdata;
	uint32_t debounce_ms;
	struct io_map map[IO_SIGNAL_COUNT];
	struct gpiod_line *out[IO_OUTPUT_COUNT];
	struct gpio_in in[IO_SIGNAL_COUNT];
	bool level[IO_SIGNAL_COUNT]; /* inputs: last reported */
	bool fault;
	int fault_err;
	sd_event_source *fault_src; /* reports a failed set from the loop, not from set() */
};

static void gpio_set_fault(struct gpio_io *g, bool fault, int err)
{
	if (g->fault == fault)
		return;
	g->fault = fault;
	g->cb.fault(fault, err, g->userdata);
}

static int gpio_on_fault(sd_event_source *s, void *userdata)
{
	struct gpio_io *g = userdata;

	gpio_set_fault(g, true, g->fault_err);
	return 0;
}

static int gpio_on_settled(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct gpio_in *in = userdata;
	struct gpio_io *g = in->g;
	int v = gpiod_line_get_value(in->line);

	if (v < 0) {
		gpio_set_fault(g, true, -errno);
		return 0;
	}
	if ((v != 0) != g->level[in->signal]) {
		g->level[in->signal] = v != 0;
		g->cb.input(in->signal, v != 0, g->userdata);
	}
	return 0;
}

static int gpio_on_edge(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct gpio_in *in = userdata;
	struct gpio_io *g = in->g;
	struct gpiod_line_event e;
	uint64_t now;
	int r;

	/* Drain the edge; which edge it was does not matter, the settled value does. */
	if (gpiod_line_event_read(in->line, &e) < 0) {
		gpio_set_fault(g, true, -errno);
		return 0;
	}
	if (g->debounce_ms == 0)
		return gpio_on_settled(in->timer, 0, in);
	r = sd_event_now(g->ev, CLOCK_MONOTONIC, &now);
	if (r >= 0)
		r = sd_event_source_set_time(in->timer, now + (uint64_t)g->debounce_ms * 1000);
	if (r >= 0)
		r = sd_event_source_set_enabled(in->timer, SD_EVENT_ONESHOT);
	if (r < 0)
		gpio_set_fault(g, true, r);
	return 0;
}

static void gpio_close(void *ctx)
{
	struct gpio_io *g = ctx;

	if (!g)
		return;
	sd_event_source_disable_unref(g->fault_src);
	for (int i = 0; i < IO_SIGNAL_COUNT; i++) {
		sd_event_source_disable_unref(g->in[i].io_src);
		sd_event_source_disable_unref(g->in[i].timer);
		if (g->in[i].line)
			gpiod_line_release(g->in[i].line);
	}
	for (int o = 0; o < IO_OUTPUT_COUNT; o++) {
		if (!g->out[o])
			continue;
		gpiod_line_set_value(g->out[o], 0);
		gpiod_line_release(g->out[o]);
	}
	if (g->chip)
		gpiod_chip_close(g->chip);
	free(g);
}

static int gpio_flags(const struct io_map *m)
{
	int flags = m->active_low ? GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW : 0;

	if (m->bias == IO_MAP_BIAS_PULL_UP)
		flags |= GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP;
	else if (m->bias == IO_MAP_BIAS_PULL_DOWN)
		flags |= GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_DOWN;
	return flags;
}

/* The line a signal is mapped to, by name or by offset; NULL with errno set. */
static struct gpiod_line *gpio_line(struct gpio_io *g, int s)
{
	if (g->map[s].name[0])
		return gpiod_chip_find_line(g->chip, g->map[s].name);
	return gpiod_chip_get_line(g->chip, g->map[s].channel);
}

static void gpio_warn_line(int err, const struct config_lane *lane, const struct io_map *m, int s)
{
	if (m->name[0])
		log_warne(err, "lane %s: gpio %s line \"%s\" (%s)", lane->name, lane->gpio_chip,
			  m->name, io_signal_name((enum io_signal)s));
	else
		log_warne(err, "lane %s: gpio %s line %u (%s)", lane->name, lane->gpio_chip,
			  m->channel, io_signal_name((enum io_signal)s));
}

static int gpio_open_input(struct gpio_io *g, const struct config_lane *lane, int s)
{
	struct gpio_in *in = &g->in[s];
	struct gpiod_line *line = gpio_line(g, s);
	int r;

	if (!line)
		return -errno;
	if (gpiod_line_request_both_edges_events_flags(line, GPIO_CONSUMER,
						       gpio_flags(&g->map[s])) < 0)
		return -errno;
	in->g = g;
	in->signal = (enum io_signal)s;
	in->line = line;
	r = sd_event_add_io(g->ev, &in->io_src, gpiod_line_event_get_fd(line), EPOLLIN,
			    gpio_on_edge, in);
	if (r < 0)
		return r;
	/* Due at once: the level at start is reported from the loop, as if it had
	 * settled (never from open, before the caller holds the backend). */
	r = sd_event_add_time(g->ev, &in->timer, CLOCK_MONOTONIC, 0, 1000, gpio_on_settled, in);
	if (r < 0)
		return r;
	if (s != IO_FIRE_ALARM) {
		g->level[s] = false; /* the lane's resting assumption */
		return 0;
	}
	/* The fire loop is read now: the caller asks for it with get() before it
	 * reports ready, and an open loop must not wait for the first loop turn. */
	r = gpiod_line_get_value(line);
	if (r < 0)
		return -errno;
	g->level[s] = r != 0;
	return 0;
}

static int gpio_open(void **ctx, sd_event *ev, const struct config_lane *lane,
		     const struct io_callbacks *cb, void *userdata)
{
	struct gpio_io *g = calloc(1, sizeof(*g));
	int r = 0;

	if (!g)
		return -ENOMEM;
	g->ev = ev;
	g->cb = *cb;
	g->userdata = userdata;
	g->debounce_ms = lane->gpio_debounce_ms;
	g->level[IO_FIRE_ALARM] = true; /* unmapped: a closed loop */
	for (int s = 0; s < IO_SIGNAL_COUNT; s++) {
		const char *why = "";

		if (io_map_parse(lane->io_map[s], io_is_output((enum io_signal)s), &g->map[s],
				 &why) < 0) {
			r = -EINVAL;
			goto error;
		}
	}
	r = sd_event_add_defer(ev, &g->fault_src, gpio_on_fault, g);
	if (r < 0)
		goto error;
	sd_event_source_set_enabled(g->fault_src, SD_EVENT_OFF);
	g->chip = gpiod_chip_open_lookup(lane->gpio_chip);
	if (!g->chip) {
		r = -errno;
		log_warne(r, "lane %s: gpio chip %s", lane->name, lane->gpio_chip);
		goto error;
	}
	for (int o = 0; o < IO_OUTPUT_COUNT; o++) {
		struct gpiod_line *line;

		if (g->map[o].kind != IO_MAP_OUT)
			continue;
		line = gpio_line(g, o);
		/* Safe level in the request itself: no glitch at start. */
		if (!line || gpiod_line_request_output_flags(line, GPIO_CONSUMER,
							     gpio_flags(&g->map[o]), 0) < 0) {
			r = -errno;
			gpio_warn_line(r, lane, &g->map[o], o);
			goto error;
		}
		g->out[o] = line;
	}
	for (int s = IO_INPUT_FIRST; s < IO_SIGNAL_COUNT; s++) {
		if (g->map[s].kind != IO_MAP_IN)
			continue;
		r = gpio_open_input(g, lane, s);
		if (r < 0) {
			gpio_warn_line(r, lane, &g->map[s], s);
			goto error;
		}
	}
	if (g->map[IO_FIRE_ALARM].kind == IO_MAP_NONE)
		log_warnx("lane %s: io.fire_alarm = none: no fire loop", lane->name);
	*ctx = g;
	return 0;
error:
	gpio_close(g);
	return r;
}

static int gpio_set(void *ctx, enum io_signal output, bool level, uint32_t pulse_ms)
{
	struct gpio_io *g = ctx;

	if (!g->out[output])
		return 0; /* not wired: absent */
	if (gpiod_line_set_value(g->out[output], level) < 0) {
		g->fault_err = -errno;
		sd_event_source_set_enabled(g->fault_src, SD_EVENT_ONESHOT);
		return g->fault_err;
	}
	return 0;
}

static int gpio_get(void *ctx, enum io_signal input, bool *level)
{
	struct gpio_io *g = ctx;

	*level = g->level[input];
	return 0;
}

const struct io_backend_ops io_gpio_ops = {
	.name = "gpio",
	.open = gpio_open,
	.close = gpio_close,
	.set = gpio_set,
	.get = gpio_get,
};
