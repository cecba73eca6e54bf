/* console.h: `turnstilectl console`, the attendant's full-screen view.
 *
 * Linked into turnstilectl only (it needs ncursesw); the texts come from i18n.h.
 */
#ifndef TS_CONSOLE_H
#define TS_CONSOLE_H

#include "i18n.h"

struct console_options {
	const char *socket;
	const char *lane; /* NULL: every lane, Tab switches */
	enum i18n_lang lang;
	int poll_ms; /* status poll interval */
};

/* Runs until the attendant presses q; returns the exit status. */
int console_run(const struct console_options *opt);

#endif
