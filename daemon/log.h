/* log.h: the daemon's one logging interface (after OpenSMTPD's log.h).
 * Foreground (-d): stderr. Otherwise: the systemd journal. Library-like modules
 * do not log; the caller that decides what to do logs once. */
#ifndef TS_LOG_H
#define TS_LOG_H

#include <stdbool.h>

#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))

void log_init(const char *progname, bool foreground, int verbose);
/* log_warn appends strerror(errno); log_warne appends strerror(-r) for a negative errno r. */
void log_warn(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_warne(int r, const char *fmt, ...) LOG_PRINTF(2, 3);
void log_warnx(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_info(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_debug(const char *fmt, ...) LOG_PRINTF(1, 2);

#endif
