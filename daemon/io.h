/* io.h: the lane's named signals and the IO backends behind one ops table.
 *
 * A backend is a const struct io_backend_ops with designated initialisers,
 * looked up by the name given in the lane's `io` key. Outputs are set by level
 * (a pulse_ms hint lets a board time the pulse itself); inputs are reported by
 * callback on level changes, on the daemon's event loop; a backend that loses
 * or regains its device reports it through the fault callback.
 *
 * De-energised (0) is the safe level of every output. Input levels are logical:
 * fire_alarm reads 1 while the normally-closed loop is intact.
 */
#ifndef TS_IO_H
#define TS_IO_H

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "config.h"

enum io_signal {
	/* outputs: same order as enum lane_output */
	IO_OPEN_A,
	IO_OPEN_B,
	IO_STOP,
	IO_LED_GREEN,
	IO_LED_RED,
	IO_LED_YELLOW,
	IO_BUZZER,
	IO_ALARM,
	/* inputs */
	IO_PASS_A,
	IO_PASS_B,
	IO_FIRE_ALARM,
	IO_CONFIRM,
	IO_REJECT,
	IO_MANUAL_OPEN,
	IO_TAMPER,
	IO_SIGNAL_COUNT
};

#define IO_OUTPUT_COUNT (IO_ALARM + 1)
#define IO_INPUT_FIRST IO_PASS_A

struct io_callbacks {
	void (*input)(enum io_signal input, bool level, void *userdata);
	void (*fault)(bool fault, int err, void *userdata);
};

struct io_backend_ops {
	const char *name;
	int (*open)(void **ctx, sd_event *ev, const struct config_lane *lane,
		    const struct io_callbacks *cb, void *userdata);
	void (*close)(void *ctx);
	int (*set)(void *ctx, enum io_signal output, bool level, uint32_t pulse_ms);
	int (*get)(void *ctx, enum io_signal input, bool *level);
};

struct io {
	const struct io_backend_ops *ops;
	void *ctx;
};

/* -ENOENT when no backend has that name. */
int io_open(struct io **out, sd_event *ev, const struct config_lane *lane,
	    const struct io_callbacks *cb, void *userdata);
void io_close(struct io *io);
int io_set(struct io *io, enum io_signal output, bool level, uint32_t pulse_ms);
int io_get(struct io *io, enum io_signal input, bool *level);

const char *io_signal_name(enum io_signal signal);
int io_signal_from_name(const char *name, enum io_signal *signal); /* 0 or -EINVAL */
static inline bool io_is_output(enum io_signal signal)
{
	return signal < IO_OUTPUT_COUNT;
}

#endif
