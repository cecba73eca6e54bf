/* scanline.c: the line assembler between a scanner's bytes and a code.
 *
 * A byte state machine rather than a search for terminators in each chunk, so
 * that a line split over any number of reads, or a CRLF split between two
 * reads, frames exactly as if it had arrived at once. The line length is
 * counted past max_len without storing the bytes: the over-long line is
 * rejected when its terminator arrives and the next line starts clean.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "scanline.h"

int scanline_init(struct scanline *sl, enum scanline_eol eol, size_t max_len)
{
	if (max_len < 1 || max_len > SCANLINE_MAX_LEN)
		return -EINVAL;
	if (eol != SCANLINE_EOL_CR && eol != SCANLINE_EOL_LF && eol != SCANLINE_EOL_ANY)
		return -EINVAL;
	sl->eol = eol;
	sl->max_len = max_len;
	scanline_reset(sl);
	return 0;
}

void scanline_reset(struct scanline *sl)
{
	sl->len = 0;
	sl->binary = false;
	sl->after_cr = false;
	sl->buf[0] = '\0';
}

static void scanline_end(struct scanline *sl, scanline_cb cb, void *userdata)
{
	struct scanline_event ev = {.len = sl->len};

	if (sl->len == 0)
		return;
	if (sl->len > sl->max_len) {
		ev.kind = SCANLINE_TOO_LONG;
	} else if (sl->binary) {
		ev.kind = SCANLINE_BINARY;
	} else {
		ev.kind = SCANLINE_CODE;
		sl->buf[sl->len] = '\0';
		ev.code = sl->buf;
	}
	cb(&ev, userdata);
	sl->len = 0;
	sl->binary = false;
}

void scanline_feed(struct scanline *sl, const void *bytes, size_t n, scanline_cb cb, void *userdata)
{
	const unsigned char *p = bytes;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = p[i];
		bool cr = c == '\r', lf = c == '\n';

		if ((cr && sl->eol != SCANLINE_EOL_LF) || (lf && sl->eol != SCANLINE_EOL_CR)) {
			/* ANY: the LF of a CRLF is part of the terminator, not an empty line. */
			if (lf && sl->after_cr) {
				sl->after_cr = false;
				continue;
			}
			sl->after_cr = cr && sl->eol == SCANLINE_EOL_ANY;
			scanline_end(sl, cb, userdata);
			continue;
		}
		sl->after_cr = false;
		if (sl->len < SIZE_MAX)
			sl->len++;
		if (sl->len > sl->max_len)
			continue;
		if (c < 0x20 || c > 0x7e)
			sl->binary = true;
		sl->buf[sl->len - 1] = (char)c;
	}
}

const char *scanline_kind_name(enum scanline_kind kind)
{
	switch (kind) {
	case SCANLINE_CODE:
		return "code";
	case SCANLINE_TOO_LONG:
		return "too long";
	case SCANLINE_BINARY:
		return "binary";
	}
	return "?";
}
