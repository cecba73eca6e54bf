/* io_map.h: one signal's place on an IO device, as written in a lane's
 * `io.SIGNAL = ...` key: "none", "out:N" (an output channel), "in:N" (an input
 * channel) or "count:N" (an input whose rising edges the board latches in a
 * counter, so a pulse shorter than the poll interval is never missed). What a
 * channel number means on the wire is the board dialect's business; for GPIO it
 * is the line offset, or the line's name in its place ("in:PASS_A": a letter,
 * then letters, digits, '_', '-', '.'; for GPIO only), and may be followed by
 * ":low" (active low), ":pullup" or ":pulldown" (bias, inputs). Pure: used by
 * the config loader to validate and by the backends to resolve. */
#ifndef TS_IO_MAP_H
#define TS_IO_MAP_H

#include <stdbool.h>
#include <stdint.h>

#define IO_MAP_CHANNEL_MAX 255
#define IO_MAP_NAME_MAX 32 /* with the NUL, as the GPIO uAPI's line names */

enum io_map_kind { IO_MAP_UNSET, IO_MAP_NONE, IO_MAP_OUT, IO_MAP_IN, IO_MAP_COUNT };
enum io_map_bias { IO_MAP_BIAS_AS_IS, IO_MAP_BIAS_PULL_UP, IO_MAP_BIAS_PULL_DOWN };

struct io_map {
	enum io_map_kind kind;
	uint16_t channel;
	char name[IO_MAP_NAME_MAX]; /* a line name instead of the channel; "" if none */
	bool active_low;
	enum io_map_bias bias;
};

/* An empty string is IO_MAP_UNSET. -EINVAL with a reason in why when s is not a
 * mapping, or not one an output (output) or an input (!output) can have. */
int io_map_parse(const char *s, bool output, struct io_map *m, const char **why);

#endif
