/* scanline.h: assembles the bytes of a scanner into lines (codes), pure, no I/O.
 *
 * Bytes go in as they arrive, in chunks of any size; each completed line comes
 * out through a callback, either as a code (non-empty, printable ASCII
 * 0x20..0x7E only) or as a rejected line with the reason. A line longer than
 * max_len is rejected as a whole, never truncated into a code, and memory stays
 * bounded by max_len however long it gets. Empty lines are ignored.
 */
#ifndef TS_SCANLINE_H
#define TS_SCANLINE_H

#include <stdbool.h>
#include <stddef.h>

#define SCANLINE_MAX_LEN 4096

/* Which bytes end a line. ANY: CR, LF, or CRLF as one terminator. */
enum scanline_eol { SCANLINE_EOL_CR, SCANLINE_EOL_LF, SCANLINE_EOL_ANY };

enum scanline_kind {
	SCANLINE_CODE,	   /* a good line */
	SCANLINE_TOO_LONG, /* more than max_len bytes before the terminator */
	SCANLINE_BINARY,   /* a control byte, NUL, DEL or a byte >= 0x80 */
};

struct scanline_event {
	enum scanline_kind kind;
	const char *code; /* SCANLINE_CODE: the line, NUL-terminated, without terminator */
	size_t len;	  /* bytes in the line (for TOO_LONG: as many as were seen) */
};

typedef void (*scanline_cb)(const struct scanline_event *ev, void *userdata);

/* Fields are private; the struct is public so callers can embed it. */
struct scanline {
	enum scanline_eol eol;
	size_t max_len;
	size_t len;    /* bytes of the current line, counted even when not stored */
	bool binary;   /* the current line holds a byte that is not printable ASCII */
	bool after_cr; /* ANY: the last byte was a CR that ended a line */
	char buf[SCANLINE_MAX_LEN + 1];
};

/* 0, or -EINVAL when max_len is not 1..SCANLINE_MAX_LEN or eol is unknown. */
int scanline_init(struct scanline *sl, enum scanline_eol eol, size_t max_len);
/* Forgets the partial line (a device was unplugged mid-line). */
void scanline_reset(struct scanline *sl);
/* Consumes n bytes; cb is called once for every line they complete, in order. */
void scanline_feed(struct scanline *sl, const void *bytes, size_t n, scanline_cb cb,
		   void *userdata);
/* "code", "too long", "binary". */
const char *scanline_kind_name(enum scanline_kind kind);

#endif
