/* io_map.c: parsing of `io.SIGNAL` values (see io_map.h). */
#include "io_map.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

static const struct {
	const char *prefix;
	enum io_map_kind kind;
} io_map_kinds[] = {{"out:", IO_MAP_OUT}, {"in:", IO_MAP_IN}, {"count:", IO_MAP_COUNT}};

int io_map_parse(const char *s, bool output, struct io_map *m, const char **why)
{
	unsigned v = 0;
	const char *p = NULL;
	size_t digits = 0;

	*m = (struct io_map){0};
	if (!*s)
		return 0;
	if (strcmp(s, "none") == 0) {
		m->kind = IO_MAP_NONE;
		return 0;
	}
	for (size_t i = 0; i < sizeof(io_map_kinds) / sizeof(io_map_kinds[0]); i++) {
		size_t n = strlen(io_map_kinds[i].prefix);

		if (strncmp(s, io_map_kinds[i].prefix, n) == 0) {
			m->kind = io_map_kinds[i].kind;
			p = s + n;
		}
	}
	if (!p)
		goto bad;
	if (isalpha((unsigned char)*p)) {
		size_t n = 0;

		while (isalnum((unsigned char)p[n]) || p[n] == '_' || p[n] == '-' || p[n] == '.')
			n++;
		if (n >= IO_MAP_NAME_MAX)
			goto bad;
		memcpy(m->name, p, n);
		p += n;
	} else {
		for (; *p >= '0' && *p <= '9' && digits < 4; p++, digits++)
			v = v * 10 + (unsigned)(*p - '0');
		if (!digits || v > IO_MAP_CHANNEL_MAX)
			goto bad;
	}
	while (*p == ':') {
		if (strncmp(p, ":low", 4) == 0 && !m->active_low) {
			m->active_low = true;
			p += 4;
		} else if (strncmp(p, ":pullup", 7) == 0 && !m->bias) {
			m->bias = IO_MAP_BIAS_PULL_UP;
			p += 7;
		} else if (strncmp(p, ":pulldown", 9) == 0 && !m->bias) {
			m->bias = IO_MAP_BIAS_PULL_DOWN;
			p += 9;
		} else {
			goto bad;
		}
	}
	if (*p || (m->bias && m->kind == IO_MAP_OUT))
		goto bad;
	if (output != (m->kind == IO_MAP_OUT)) {
		*why = output ? "an output takes none or out:N"
			      : "an input takes none, in:N or count:N";
		*m = (struct io_map){0};
		return -EINVAL;
	}
	m->channel = (uint16_t)v;
	return 0;
bad:
	*why = "must be none, out:N[:low], in:N[:low][:pullup|:pulldown] or count:N, N 0..255 "
	       "or a GPIO line name";
	*m = (struct io_map){0};
	return -EINVAL;
}
