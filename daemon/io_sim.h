/* io_sim.h: the in-memory IO backend for the demo and the tests. Outputs are
 * remembered with a count of their rising edges (so a poller never misses a
 * pulse); inputs are driven through the control socket ("sim set"). */
#ifndef TS_IO_SIM_H
#define TS_IO_SIM_H

#include "io.h"

extern const struct io_backend_ops io_sim_ops;

struct io_sim_snapshot {
	bool level[IO_SIGNAL_COUNT];
	uint64_t edges[IO_OUTPUT_COUNT];
};

/* -EOPNOTSUPP when io is not the sim backend. */
int io_sim_snapshot(struct io *io, struct io_sim_snapshot *snap);
/* Drives an input; the input callback runs when the level changes. -EINVAL for an output. */
int io_sim_drive(struct io *io, enum io_signal input, bool level);

#endif
