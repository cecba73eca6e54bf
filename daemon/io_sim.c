/* io_sim.c: the in-memory IO backend (see io_sim.h). Inputs start at their
 * resting levels: every input 0 except the fire loop, which is closed (1). */
#include "io_sim.h"

#include <errno.h>
#include <stdlib.h>

struct io_sim {
	struct io_sim_snapshot state;
	struct io_callbacks cb;
	void *userdata;
};

static int io_sim_open(void **ctx, sd_event *ev, const struct config_lane *lane,
		       const struct io_callbacks *cb, void *userdata)
{
	struct io_sim *sim = calloc(1, sizeof(*sim));

	if (!sim)
		return -ENOMEM;
	sim->cb = *cb;
	sim->userdata = userdata;
	sim->state.level[IO_FIRE_ALARM] = true;
	*ctx = sim;
	return 0;
}

static void io_sim_close(void *ctx)
{
	free(ctx);
}

static int io_sim_set(void *ctx, enum io_signal output, bool level, uint32_t pulse_ms)
{
	struct io_sim *sim = ctx;

	if (level && !sim->state.level[output])
		sim->state.edges[output]++;
	sim->state.level[output] = level;
	return 0;
}

static int io_sim_get(void *ctx, enum io_signal input, bool *level)
{
	struct io_sim *sim = ctx;

	*level = sim->state.level[input];
	return 0;
}

const struct io_backend_ops io_sim_ops = {
	.name = "sim",
	.open = io_sim_open,
	.close = io_sim_close,
	.set = io_sim_set,
	.get = io_sim_get,
};

int io_sim_snapshot(struct io *io, struct io_sim_snapshot *snap)
{
	if (io->ops != &io_sim_ops)
		return -EOPNOTSUPP;
	*snap = ((struct io_sim *)io->ctx)->state;
	return 0;
}

int io_sim_drive(struct io *io, enum io_signal input, bool level)
{
	struct io_sim *sim;

	if (io->ops != &io_sim_ops)
		return -EOPNOTSUPP;
	if (io_is_output(input) || input >= IO_SIGNAL_COUNT)
		return -EINVAL;
	sim = io->ctx;
	if (sim->state.level[input] == level)
		return 0;
	sim->state.level[input] = level;
	if (sim->cb.input)
		sim->cb.input(input, level, sim->userdata);
	return 0;
}
