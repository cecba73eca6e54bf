/* log.c: stderr in the foreground, the journal otherwise; see log.h. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <systemd/sd-journal.h>

static const char *log_progname = "turnstiled";
static bool log_foreground = true;
static int log_verbose;

void log_init(const char *progname, bool foreground, int verbose)
{
	log_progname = progname;
	log_foreground = foreground;
	log_verbose = verbose;
}

static void log_emit(int priority, int err, const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (err) {
		size_t len = strlen(msg);
		snprintf(msg + len, sizeof(msg) - len, ": %s", strerror(err));
	}
	if (log_foreground)
		fprintf(stderr, "%s: %s\n", log_progname, msg);
	else
		sd_journal_print(priority, "%s", msg);
}

void log_warn(const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_WARNING, err, fmt, ap);
	va_end(ap);
}

void log_warne(int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_WARNING, r < 0 ? -r : r, fmt, ap);
	va_end(ap);
}

void log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_WARNING, 0, fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_INFO, 0, fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	log_emit(LOG_DEBUG, 0, fmt, ap);
	va_end(ap);
}
