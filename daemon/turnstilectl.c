/* turnstilectl: the command-line client of turnstiled.
 *
 * Each command turns its arguments into one JSON request (the protocol is in
 * control.h), sends it over the control socket with control_call() and prints
 * the reply: as one JSON document with --json (the reply minus "ok"), otherwise
 * as short human text. Export is the exception: it asks the daemon only where
 * the journal is ("info") and then reads the journal itself, read-only, so a
 * large export never stalls the daemon's loop.
 *
 * Exit status: 0 success, 1 failure (the daemon said no, or the socket failed),
 * 2 usage error. Every failure is one line on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control.h"
#include "console.h"
#include "audit.h"
#include "export.h"
#include "i18n.h"

#define CTL_TIMEOUT_MS 5000
#define EXIT_USAGE 2

struct ctl {
	const char *socket;
	bool json;
};

struct ctl_command {
	const char *name;
	const char *sub; /* second word, or NULL */
	const char *args;
	const char *help;
	int min; /* positional arguments; CTL_OWN_OPTIONS: run() parses argv itself */
	int max;
	/* Returns the exit status. argv holds the arguments after the command
	 * words, or for CTL_OWN_OPTIONS everything from the command word on. */
	int (*run)(struct ctl *ctl, int argc, char **argv);
};

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("turnstilectl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see turnstilectl --help)\n", stderr);
	return EXIT_USAGE;
}

__attribute__((format(printf, 1, 2))) static int fail(const char *fmt, ...)
{
	va_list ap;

	fputs("turnstilectl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_FAILURE;
}

/* ---- talking to the daemon ---- */

/* Sends request (consumed) and returns the reply through *reply when the daemon
 * said ok; otherwise prints the one-line error (prefixed with prefix, if any)
 * and returns the exit status. */
static int call(struct ctl *ctl, cJSON *request, cJSON **reply, const char *prefix)
{
	const cJSON *ok, *error;
	int r;

	*reply = NULL;
	if (!request)
		return fail("out of memory");
	r = control_call(ctl->socket, request, reply, CTL_TIMEOUT_MS);
	cJSON_Delete(request);
	switch (r) {
	case 0:
		break;
	case -ENOENT:
	case -ECONNREFUSED:
		return fail("cannot connect to %s: %s (is turnstiled running?)", ctl->socket,
			    strerror(-r));
	case -EACCES:
	case -EPERM:
	case -ENAMETOOLONG:
	case -ENOTDIR:
		return fail("cannot connect to %s: %s", ctl->socket, strerror(-r));
	case -ETIMEDOUT:
		return fail("no reply from turnstiled on %s within %d s", ctl->socket,
			    CTL_TIMEOUT_MS / 1000);
	case -EPROTO:
		return fail("turnstiled on %s sent a reply that is not a JSON object", ctl->socket);
	case -ECONNRESET:
		return fail("turnstiled on %s closed the connection without a reply", ctl->socket);
	default:
		return fail("%s: %s", ctl->socket, strerror(-r));
	}

	ok = cJSON_GetObjectItemCaseSensitive(*reply, "ok");
	if (cJSON_IsTrue(ok))
		return 0;
	error = cJSON_GetObjectItemCaseSensitive(*reply, "error");
	r = fail("%s%s%s", prefix ? prefix : "", prefix ? ": " : "",
		 cJSON_IsString(error) ? error->valuestring : "request failed (no error text)");
	cJSON_Delete(*reply);
	*reply = NULL;
	return r;
}

/* export_open_db() failed on path. */
static int journal_open_failed(const char *path, int r)
{
	if (r == -EPROTO)
		return fail("cannot open the journal %s: it has not been brought up to this"
			    " version's schema yet (start turnstiled on it once)", path);
	return fail("cannot open the journal %s: %s", path, strerror(-r));
}

static void print_json(cJSON *reply)
{
	char *text;

	cJSON_DeleteItemFromObjectCaseSensitive(reply, "ok");
	text = cJSON_Print(reply);
	if (text)
		printf("%s\n", text);
	free(text);
}

/* With --json prints the reply; returns true when the caller should print text. */
static bool want_text(struct ctl *ctl, cJSON *reply)
{
	if (!ctl->json)
		return true;
	print_json(reply);
	return false;
}

/* Builds {"cmd":cmd} plus pairs of (key, string value); NULL value: skipped. */
static cJSON *request_new(const char *cmd, ...)
{
	cJSON *req = cJSON_CreateObject();
	const char *key;
	va_list ap;

	if (!req || !cJSON_AddStringToObject(req, "cmd", cmd)) {
		cJSON_Delete(req);
		return NULL;
	}
	va_start(ap, cmd);
	while ((key = va_arg(ap, const char *))) {
		const char *value = va_arg(ap, const char *);

		if (value && !cJSON_AddStringToObject(req, key, value)) {
			cJSON_Delete(req);
			req = NULL;
			break;
		}
	}
	va_end(ap);
	return req;
}

/* ---- reply field helpers (the daemon may omit a field; print "-") ---- */

/* First member or element; NULL-safe (the daemon may omit a container). */
static const cJSON *jchild(const cJSON *obj)
{
	return obj ? obj->child : NULL;
}

static const char *jstr(const cJSON *obj, const char *key)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(item) && item->valuestring ? item->valuestring : NULL;
}

static const char *jstr_or(const cJSON *obj, const char *key, const char *dflt)
{
	const char *s = jstr(obj, key);

	return s && s[0] ? s : dflt;
}

/* Any scalar as text: strings as is, numbers as integers when whole. */
static const char *jtext(const cJSON *item, char *buf, size_t size)
{
	if (cJSON_IsString(item) && item->valuestring)
		return item->valuestring[0] ? item->valuestring : "-";
	if (cJSON_IsNumber(item)) {
		double v = item->valuedouble;

		if (v == (double)(long long)v)
			snprintf(buf, size, "%lld", (long long)v);
		else
			snprintf(buf, size, "%g", v);
		return buf;
	}
	if (cJSON_IsBool(item))
		return cJSON_IsTrue(item) ? "yes" : "no";
	return "-";
}

static bool jtrue(const cJSON *obj, const char *key)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(obj, key));
}

/* Display width of UTF-8 text: one column per code point. */
static size_t text_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

static void print_padded(const char *s, size_t width, bool last)
{
	size_t w = text_width(s);

	fputs(s, stdout);
	if (last)
		return;
	for (; w < width + 2; w++)
		putchar(' ');
}

/* ---- commands ---- */

static void print_check(const cJSON *lane, const cJSON *check)
{
	const cJSON *holder = cJSON_GetObjectItemCaseSensitive(check, "holder");
	const cJSON *left = cJSON_GetObjectItemCaseSensitive(lane, "attendant_left_ms");
	char buf[32];

	printf("  check %s: %s %s",
	       jtext(cJSON_GetObjectItemCaseSensitive(check, "id"), buf, sizeof(buf)),
	       jstr_or(check, "verdict", "-"), jstr_or(check, "code_kind", "-"));
	if (jtrue(check, "reuse"))
		printf(", REUSED code");
	if (jtrue(check, "attendant_required"))
		printf(", attendant must confirm");
	putchar('\n');
	if (jstr(check, "title") && jstr(check, "title")[0])
		printf("    title: %s\n", jstr(check, "title"));
	if (jstr(check, "reason") && jstr(check, "reason")[0])
		printf("    reason: %s\n", jstr(check, "reason"));
	if (cJSON_IsObject(holder))
		printf("    holder: %s  born %s  doc %s\n", jstr_or(holder, "initials", "-"),
		       jstr_or(holder, "birth_date", "-"), jstr_or(holder, "doc", "-"));
	if (jstr(check, "valid_until") && jstr(check, "valid_until")[0])
		printf("    valid until: %s\n", jstr(check, "valid_until"));
	printf("    request %s", jstr_or(check, "request_id", "-"));
	if (cJSON_IsNumber(left) && left->valuedouble > 0)
		printf(", %lld s left to decide", ((long long)left->valuedouble + 999) / 1000);
	putchar('\n');
}

static int cmd_status(struct ctl *ctl, int argc, char **argv)
{
	const cJSON *lanes, *lane, *portal, *journal;
	cJSON *reply;
	size_t namew = 4, statew = 5;
	int r;

	r = call(ctl, request_new("status", "lane", argc > 0 ? argv[0] : NULL, NULL), &reply, NULL);
	if (r)
		return r;
	if (!want_text(ctl, reply))
		goto out;
	lanes = cJSON_GetObjectItemCaseSensitive(reply, "lanes");
	for (lane = jchild(lanes); lane; lane = lane->next) {
		size_t w = text_width(jstr_or(lane, "name", "-"));

		namew = w > namew ? w : namew;
		w = text_width(jstr_or(lane, "state", "-"));
		statew = w > statew ? w : statew;
	}
	if (cJSON_GetArraySize(lanes) == 0)
		printf("no lanes\n");
	for (lane = jchild(lanes); lane; lane = lane->next) {
		const cJSON *check = cJSON_GetObjectItemCaseSensitive(lane, "check");
		const cJSON *outputs = cJSON_GetObjectItemCaseSensitive(lane, "outputs");
		const char *mode = jstr_or(lane, "mode", "-");
		const char *pending = jstr(lane, "pending_mode");
		const cJSON *o;
		bool any = false;

		print_padded(jstr_or(lane, "name", "-"), namew, false);
		print_padded(jstr_or(lane, "state", "-"), statew, false);
		printf("mode %s", mode);
		if (pending && pending[0] && strcmp(pending, mode) != 0)
			printf(" (%s when idle)", pending);
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(lane, "stop")))
			printf("  STOP");
		for (o = jchild(outputs); o; o = o->next) {
			if (!cJSON_IsNumber(o) || o->valuedouble == 0)
				continue;
			printf("%s%s", any ? "," : "  outputs on: ", o->string);
			any = true;
		}
		putchar('\n');
		if (cJSON_IsObject(check))
			print_check(lane, check);
	}
	/* Only bad news about the portal: the lines above stay as scripts know them. */
	portal = cJSON_GetObjectItemCaseSensitive(reply, "portal");
	if (strcmp(jstr_or(portal, "state", ""), "unreachable") == 0)
		printf("Gosuslugi portal unreachable: %s\n", jstr_or(portal, "reason", "-"));
	journal = cJSON_GetObjectItemCaseSensitive(reply, "journal");
	if (cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(journal, "ok")))
		printf("journal cannot record, nothing is granted: %s\n",
		       jstr_or(journal, "error", "-"));
out:
	cJSON_Delete(reply);
	return 0;
}

static int cmd_scan(struct ctl *ctl, int argc, char **argv)
{
	const char *result;
	cJSON *reply;
	int r;

	r = call(ctl, request_new("scan", "lane", argv[0], "payload", argv[1], NULL), &reply, NULL);
	if (r)
		return r;
	if (want_text(ctl, reply)) {
		result = jstr_or(reply, "result", "accepted");
		if (strcmp(result, "duplicate") == 0)
			printf("duplicate: the same code was just scanned on %s, ignored\n",
			       argv[0]);
		else if (strcmp(result, "busy") == 0)
			printf("busy: %s is handling another check, scan ignored\n", argv[0]);
		else
			printf("%s\n", result);
	}
	cJSON_Delete(reply);
	return 0;
}

static int attendant(struct ctl *ctl, int argc, char **argv, const char *cmd, const char *done)
{
	cJSON *reply;
	int r;

	r = call(ctl,
		 request_new(cmd, "lane", argv[0], "request_id", argc > 1 ? argv[1] : NULL, NULL),
		 &reply, NULL);
	if (r)
		return r;
	if (want_text(ctl, reply))
		printf("%s\n", done);
	cJSON_Delete(reply);
	return 0;
}

static int cmd_confirm(struct ctl *ctl, int argc, char **argv)
{
	return attendant(ctl, argc, argv, "confirm", "confirmed");
}

static int cmd_reject(struct ctl *ctl, int argc, char **argv)
{
	return attendant(ctl, argc, argv, "reject", "rejected");
}

static int cmd_open(struct ctl *ctl, int argc, char **argv)
{
	const char *lane = NULL, *dir = NULL, *reason = NULL;
	cJSON *reply;
	int i, r, pos = 0;

	/* argv[0] is "open". */
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			ctl->json = true;
		} else if (strcmp(argv[i], "--reason") == 0) {
			if (++i >= argc)
				return usage_error("open: --reason needs a text");
			reason = argv[i];
		} else if (strncmp(argv[i], "--reason=", 9) == 0) {
			reason = argv[i] + 9;
		} else if (pos == 0) {
			lane = argv[i];
			pos++;
		} else if (pos == 1) {
			dir = argv[i];
			pos++;
		} else {
			return usage_error("open: unexpected argument '%s'", argv[i]);
		}
	}
	if (!lane || !dir)
		return usage_error("open: usage: open LANE a|b --reason TEXT");
	if (strcmp(dir, "a") != 0 && strcmp(dir, "b") != 0)
		return usage_error("open: direction must be a or b, not '%s'", dir);
	if (!reason || !reason[0])
		return usage_error("open: a manual open needs --reason TEXT (it is journaled)");

	r = call(ctl, request_new("open", "lane", lane, "dir", dir, "reason", reason, NULL), &reply,
		 NULL);
	if (r)
		return r;
	if (want_text(ctl, reply))
		printf("opened %s towards %s\n", lane, dir);
	cJSON_Delete(reply);
	return 0;
}

static int cmd_mode(struct ctl *ctl, int argc, char **argv)
{
	static const char *const modes[] = {"normal", "free", "free-a", "free-b", "locked"};
	cJSON *reply;
	size_t i;
	int r;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(argv[1], modes[i]) == 0)
			break;
	if (i == sizeof(modes) / sizeof(modes[0]))
		return usage_error("mode: '%s' is not one of normal, free, free-a, free-b, locked",
				   argv[1]);
	r = call(ctl, request_new("mode", "lane", argv[0], "mode", argv[1], NULL), &reply, NULL);
	if (r)
		return r;
	if (want_text(ctl, reply)) {
		const cJSON *applied = cJSON_GetObjectItemCaseSensitive(reply, "applied");

		if (cJSON_IsFalse(applied))
			printf("mode %s deferred until the lane is idle\n", argv[1]);
		else
			printf("mode %s applied\n", argv[1]);
	}
	cJSON_Delete(reply);
	return 0;
}

static int cmd_stop(struct ctl *ctl, int argc, char **argv)
{
	bool on = strcmp(argv[1], "on") == 0;
	cJSON *req, *reply;
	int r;

	if (!on && strcmp(argv[1], "off") != 0)
		return usage_error("stop: '%s' is not on or off", argv[1]);
	req = request_new("stop", "lane", argv[0], NULL);
	if (req && !cJSON_AddBoolToObject(req, "active", on)) {
		cJSON_Delete(req);
		req = NULL;
	}
	r = call(ctl, req, &reply, NULL);
	if (r)
		return r;
	if (want_text(ctl, reply))
		printf(on ? "lane %s stopped: blocked until stop off\n" : "lane %s: stop cleared\n",
		       argv[0]);
	cJSON_Delete(reply);
	return 0;
}

static int cmd_sim_get(struct ctl *ctl, int argc, char **argv)
{
	const cJSON *outputs, *inputs, *edges, *item;
	cJSON *reply;
	char buf[32], ebuf[32];
	int r;

	r = call(ctl, request_new("sim_get", "lane", argv[0], NULL), &reply, NULL);
	if (r)
		return r;
	if (!want_text(ctl, reply))
		goto out;
	outputs = cJSON_GetObjectItemCaseSensitive(reply, "outputs");
	inputs = cJSON_GetObjectItemCaseSensitive(reply, "inputs");
	edges = cJSON_GetObjectItemCaseSensitive(reply, "edges");
	for (item = jchild(outputs); item; item = item->next) {
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(edges, item->string);

		printf("%s %s (edges %s)\n", item->string, jtext(item, buf, sizeof(buf)),
		       cJSON_IsNumber(e) ? jtext(e, ebuf, sizeof(ebuf)) : "0");
	}
	for (item = jchild(inputs); item; item = item->next)
		printf("%s %s\n", item->string, jtext(item, buf, sizeof(buf)));
out:
	cJSON_Delete(reply);
	return 0;
}

static int cmd_sim_set(struct ctl *ctl, int argc, char **argv)
{
	cJSON *req, *reply;
	int r;

	if (strcmp(argv[2], "0") != 0 && strcmp(argv[2], "1") != 0)
		return usage_error("sim set: value must be 0 or 1, not '%s'", argv[2]);
	req = request_new("sim_set", "lane", argv[0], "signal", argv[1], NULL);
	if (req && !cJSON_AddNumberToObject(req, "value", argv[2][0] - '0')) {
		cJSON_Delete(req);
		req = NULL;
	}
	r = call(ctl, req, &reply, NULL);
	if (r)
		return r;
	if (want_text(ctl, reply))
		printf("%s: %s set to %s\n", argv[0], argv[1], argv[2]);
	cJSON_Delete(reply);
	return 0;
}

/* Reads a whole file of at most max bytes; NUL-terminated. */
static int read_file(const char *path, size_t max, char **text, size_t *len)
{
	struct stat st;
	char *buf = NULL;
	size_t used = 0;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto fail;
	}
	if (S_ISDIR(st.st_mode)) {
		r = -EISDIR;
		goto fail;
	}
	buf = malloc(max + 2);
	if (!buf) {
		r = -ENOMEM;
		goto fail;
	}
	/* Read up to max + 1 so that a pipe or a growing file is caught too. */
	while (used <= max) {
		ssize_t n = read(fd, buf + used, max + 1 - used);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto fail;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	if (used > max) {
		r = -EFBIG;
		goto fail;
	}
	close(fd);
	buf[used] = '\0';
	*text = buf;
	*len = used;
	return 0;
fail:
	free(buf);
	close(fd);
	return r;
}

static int cmd_passes_import(struct ctl *ctl, int argc, char **argv)
{
	const char *file = argv[0];
	const cJSON *imported;
	cJSON *req, *reply;
	char *csv = NULL, *encoded;
	size_t len = 0, enclen;
	char buf[32];
	int r;

	r = read_file(file, CONTROL_IMPORT_MAX, &csv, &len);
	if (r == -EFBIG)
		return fail("%s: larger than %zu MiB: split it into smaller files", file,
			    CONTROL_IMPORT_MAX >> 20);
	if (r < 0)
		return fail("%s: %s", file, strerror(-r));
	if (strlen(csv) != len) {
		free(csv);
		return fail("%s: contains a NUL byte, not a CSV text file", file);
	}
	req = request_new("passes_import", "csv", csv, NULL);
	free(csv);
	if (!req)
		return fail("out of memory");
	/* Quotes and backslashes grow when escaped: check what the daemon will see. */
	encoded = cJSON_PrintUnformatted(req);
	enclen = encoded ? strlen(encoded) : 0;
	free(encoded);
	if (enclen > CONTROL_REQUEST_MAX) {
		cJSON_Delete(req);
		return fail("%s: too large once encoded (%zu bytes): split it into smaller files",
			    file, enclen);
	}
	r = call(ctl, req, &reply, file);
	if (r)
		return r;
	if (want_text(ctl, reply)) {
		imported = cJSON_GetObjectItemCaseSensitive(reply, "imported");
		printf("imported %s pass%s\n", jtext(imported, buf, sizeof(buf)),
		       cJSON_IsNumber(imported) && imported->valuedouble == 1 ? "" : "es");
	}
	cJSON_Delete(reply);
	return 0;
}

static int cmd_passes_list(struct ctl *ctl, int argc, char **argv)
{
	static const char *const cols[] = {"kind",	  "holder",	  "valid_from",
					   "valid_until", "uses_per_day", "pass_back_min",
					   "zone",	  "uses"};
	enum { NCOLS = sizeof(cols) / sizeof(cols[0]) };
	size_t width[NCOLS];
	const cJSON *passes, *pass;
	cJSON *reply;
	char buf[32];
	size_t c;
	int r;

	r = call(ctl, request_new("passes_list", NULL), &reply, NULL);
	if (r)
		return r;
	if (!want_text(ctl, reply))
		goto out;
	passes = cJSON_GetObjectItemCaseSensitive(reply, "passes");
	if (cJSON_GetArraySize(passes) == 0) {
		printf("no passes\n");
		goto out;
	}
	for (c = 0; c < NCOLS; c++)
		width[c] = strlen(cols[c]);
	for (pass = jchild(passes); pass; pass = pass->next) {
		for (c = 0; c < NCOLS; c++) {
			size_t w = text_width(jtext(cJSON_GetObjectItemCaseSensitive(pass, cols[c]),
						    buf, sizeof(buf)));

			width[c] = w > width[c] ? w : width[c];
		}
	}
	for (c = 0; c < NCOLS; c++)
		print_padded(cols[c], width[c], c + 1 == NCOLS);
	putchar('\n');
	for (pass = jchild(passes); pass; pass = pass->next) {
		for (c = 0; c < NCOLS; c++)
			print_padded(jtext(cJSON_GetObjectItemCaseSensitive(pass, cols[c]), buf,
					   sizeof(buf)),
				     width[c], c + 1 == NCOLS);
		putchar('\n');
	}
out:
	cJSON_Delete(reply);
	return 0;
}

/* Streams the export to out_fd (-1: stdout); a file is fsync'ed and closed. */
/* bom: a UTF-8 byte order mark first, the one sign by which Excel takes a CSV file
 * for UTF-8 (without it, Cyrillic shows as the local code page's letters). */
static int export_to(int out_fd, sqlite3 *db, const struct export_filter *filter,
		     enum export_format format, bool summary, bool bom, uint64_t *rows)
{
	int (*run)(sqlite3 *, const struct export_filter *, enum export_format, FILE *,
		   uint64_t *) = summary ? export_summary : export_run;
	FILE *out;
	int r;

	if (out_fd < 0) {
		if (bom)
			fputs("\xef\xbb\xbf", stdout);
		r = run(db, filter, format, stdout, rows);
		if ((fflush(stdout) != 0 || ferror(stdout)) && r >= 0)
			r = -EIO;
		return r;
	}
	out = fdopen(out_fd, "w");
	if (!out) {
		r = -errno;
		close(out_fd);
		return r;
	}
	if (bom)
		fputs("\xef\xbb\xbf", out);
	r = run(db, filter, format, out, rows);
	if (fflush(out) != 0 && r >= 0)
		r = -errno;
	if (ferror(out) && r >= 0)
		r = -EIO;
	if (fsync(out_fd) < 0 && r >= 0)
		r = -errno;
	if (fclose(out) != 0 && r >= 0)
		r = -errno;
	return r;
}

static int cmd_export(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"format", required_argument, NULL, 'f'}, {"since", required_argument, NULL, 'S'},
	    {"until", required_argument, NULL, 'U'},  {"lane", required_argument, NULL, 'l'},
	    {"db", required_argument, NULL, 'd'},     {"output", required_argument, NULL, 'o'},
	    {"json", no_argument, NULL, 'j'},	      {"verdict", required_argument, NULL, 'V'},
	    {"summary", no_argument, NULL, 'M'},      {"bom", no_argument, NULL, 'B'},
	    {NULL, 0, NULL, 0},
	};
	struct export_filter filter = {.since_ms = INT64_MIN, .until_ms = INT64_MAX};
	bool summary = false, bom = false;
	const char *format = NULL, *db_path = NULL, *out_path = NULL;
	enum export_format fmt;
	cJSON *reply = NULL;
	sqlite3 *db = NULL;
	uint64_t rows = 0;
	int c, r, out_fd = -1;

	/* argv[0] is "export" here so that getopt sees a program name. */
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+o:", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			format = optarg;
			break;
		case 'S':
			if (export_parse_time(optarg, &filter.since_ms) < 0)
				return usage_error("export: --since '%s': expected 2026-12-01, "
						   "2026-12-01T19:00[:SS] or Unix ms",
						   optarg);
			break;
		case 'U':
			if (export_parse_time(optarg, &filter.until_ms) < 0)
				return usage_error("export: --until '%s': expected 2026-12-01, "
						   "2026-12-01T19:00[:SS] or Unix ms",
						   optarg);
			break;
		case 'l':
			filter.lane = optarg;
			break;
		case 'd':
			db_path = optarg;
			break;
		case 'o':
			out_path = optarg;
			break;
		case 'j':
			ctl->json = true;
			break;
		case 'V':
			filter.verdict = optarg;
			break;
		case 'M':
			summary = true;
			break;
		case 'B':
			bom = true;
			break;
		default:
			return usage_error("export: bad option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("export: unexpected argument '%s'", argv[optind]);
	if (!format)
		return usage_error("export: --format csv|jsonl is required");
	if (strcmp(format, "csv") == 0)
		fmt = EXPORT_CSV;
	else if (strcmp(format, "jsonl") == 0)
		fmt = EXPORT_JSONL;
	else
		return usage_error("export: --format must be csv or jsonl, not '%s'", format);
	if (bom && fmt != EXPORT_CSV)
		return usage_error("export: --bom is for CSV only");
	if (filter.since_ms != INT64_MIN && filter.until_ms != INT64_MAX &&
	    filter.since_ms >= filter.until_ms)
		return usage_error("export: --since must be before --until");

	if (!db_path) {
		r = call(ctl, request_new("info", NULL), &reply, NULL);
		if (r)
			return r;
		db_path = jstr(reply, "store_path");
		if (!db_path || !db_path[0]) {
			cJSON_Delete(reply);
			return fail("turnstiled did not say where its journal is (use --db PATH)");
		}
	}

	r = export_open_db(db_path, &db);
	if (r < 0) {
		r = journal_open_failed(db_path, r);
		goto out;
	}
	if (out_path) {
		/* Only once the journal opened, so a bad --db leaves FILE alone. */
		out_fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
		if (out_fd < 0) {
			r = fail("cannot create %s: %s", out_path, strerror(errno));
			goto out;
		}
	}
	r = export_to(out_fd, db, &filter, fmt, summary, bom, &rows);
	if (r < 0) {
		r = fail("export to %s failed: %s", out_path ? out_path : "standard output",
			 strerror(-r));
		goto out;
	}
	r = 0;
	if (out_path && ctl->json) {
		cJSON *done = cJSON_CreateObject();

		cJSON_AddNumberToObject(done, "exported", (double)rows);
		cJSON_AddStringToObject(done, "file", out_path);
		print_json(done);
		cJSON_Delete(done);
	} else if (out_path) {
		printf("exported %llu check%s to %s\n", (unsigned long long)rows,
		       rows == 1 ? "" : "s", out_path);
	}
out:
	sqlite3_close(db);
	cJSON_Delete(reply);
	return r;
}

/* audit verify: the journal's hash chain, or an exported JSONL file (with --db also
 * checked against the journal). Exit 0 intact, 1 broken (the first broken row and
 * why on stderr), 2 usage. Opens the journal read-only: works while the daemon runs. */
static int cmd_audit_verify(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"db", required_argument, NULL, 'd'},
	    {"file", required_argument, NULL, 'F'},
	    {"json", no_argument, NULL, 'j'},
	    {NULL, 0, NULL, 0},
	};
	const char *db_path = NULL, *file = NULL;
	struct audit_report rep;
	cJSON *reply = NULL;
	sqlite3 *db = NULL;
	FILE *in = NULL;
	int c, r;

	/* argv[0] is "audit" here; "verify" is the first argument. */
	optind = 2;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			db_path = optarg;
			break;
		case 'F':
			file = optarg;
			break;
		case 'j':
			ctl->json = true;
			break;
		default:
			return usage_error("audit verify: bad option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("audit verify: unexpected argument '%s'", argv[optind]);
	if (!db_path && !file) {
		r = call(ctl, request_new("info", NULL), &reply, NULL);
		if (r)
			return r;
		db_path = jstr(reply, "store_path");
		if (!db_path || !db_path[0]) {
			cJSON_Delete(reply);
			return fail("turnstiled did not say where its journal is (use --db PATH)");
		}
	}
	if (db_path) {
		r = export_open_db(db_path, &db);
		if (r < 0) {
			r = journal_open_failed(db_path, r);
			goto out;
		}
	}
	if (file) {
		in = fopen(file, "re");
		if (!in) {
			r = fail("cannot open %s: %s", file, strerror(errno));
			goto out;
		}
		r = audit_verify_file(in, db, &rep);
	} else {
		r = audit_verify_db(db, &rep);
	}
	if (r < 0) {
		r = fail("audit verify: %s", strerror(-r));
		goto out;
	}
	if (ctl->json) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddBoolToObject(o, "intact", r == 0);
		cJSON_AddNumberToObject(o, "rows", (double)rep.rows);
		if (file)
			cJSON_AddNumberToObject(o, "records", (double)rep.records);
		cJSON_AddNumberToObject(o, "last_id", (double)rep.last_id);
		cJSON_AddStringToObject(o, "head", rep.head);
		if (r) {
			cJSON_AddNumberToObject(o, "bad_id", (double)rep.bad_id);
			if (file)
				cJSON_AddNumberToObject(o, "bad_line", (double)rep.bad_line);
			cJSON_AddStringToObject(o, "reason", rep.reason);
		}
		print_json(o);
		cJSON_Delete(o);
	} else if (r == 0) {
		printf("intact: %llu rows%s, last row %lld, head %s\n",
		       (unsigned long long)rep.rows, file ? " in the file" : "",
		       (long long)rep.last_id, rep.head[0] ? rep.head : "-");
	}
	if (r) {
		if (file && rep.bad_id)
			fprintf(stderr, "turnstilectl: %s: line %llu, check %lld: %s\n", file,
				(unsigned long long)rep.bad_line, (long long)rep.bad_id,
				rep.reason);
		else if (file)
			fprintf(stderr, "turnstilectl: %s: line %llu: %s\n", file,
				(unsigned long long)rep.bad_line, rep.reason);
		else
			fprintf(stderr, "turnstilectl: journal broken at row %lld: %s\n",
				(long long)rep.bad_id, rep.reason);
		r = EXIT_FAILURE;
	}
out:
	if (in)
		fclose(in);
	sqlite3_close(db);
	cJSON_Delete(reply);
	return r;
}

#define CTL_OWN_OPTIONS (-1) /* min: the command parses its own arguments */

/* console [--lang ru|en] [--poll MS] [LANE]: the attendant's view (console.c). */
static int cmd_console(struct ctl *ctl, int argc, char **argv)
{
	struct console_options opt = {.socket = ctl->socket, .poll_ms = 200};
	bool lang_given = false;
	char *end;
	long ms;
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--lang") == 0 || strncmp(a, "--lang=", 7) == 0) {
			const char *v = a[6] == '=' ? a + 7 : (++i < argc ? argv[i] : NULL);

			if (i18n_lang_parse(v, &opt.lang) < 0)
				return usage_error("console: --lang must be ru or en");
			lang_given = true;
		} else if (strcmp(a, "--poll") == 0) {
			if (++i >= argc)
				return usage_error("console: --poll needs milliseconds");
			ms = strtol(argv[i], &end, 10);
			if (*end || ms < 50 || ms > 60000)
				return usage_error("console: --poll must be 50..60000 ms");
			opt.poll_ms = (int)ms;
		} else if (a[0] == '-' || opt.lane) {
			return usage_error("console: unexpected argument '%s'", a);
		} else {
			opt.lane = a;
		}
	}
	if (!lang_given)
		opt.lang = i18n_lang_from_locale(getenv("LC_ALL"), getenv("LC_MESSAGES"),
						 getenv("LANG"));
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
		return fail("console: needs a terminal");
	return console_run(&opt);
}


static const struct ctl_command ctl_table[] = {
    {.name = "status",
     .args = "[LANE]",
     .min = 0,
     .max = 1,
     .run = cmd_status,
     .help = "lanes, state, mode, the pending check"},
    {.name = "scan",
     .args = "LANE PAYLOAD",
     .min = 2,
     .max = 2,
     .run = cmd_scan,
     .help = "enter a code by hand"},
    {.name = "confirm",
     .args = "LANE [REQUEST_ID]",
     .min = 1,
     .max = 2,
     .run = cmd_confirm,
     .help = "attendant confirms the pending check"},
    {.name = "reject",
     .args = "LANE [REQUEST_ID]",
     .min = 1,
     .max = 2,
     .run = cmd_reject,
     .help = "attendant rejects it"},
    {.name = "open",
     .args = "LANE a|b --reason TEXT",
     .min = CTL_OWN_OPTIONS,
     .run = cmd_open,
     .help = "manual single passage, reason required"},
    {.name = "mode",
     .args = "LANE normal|free|free-a|free-b|locked",
     .min = 2,
     .max = 2,
     .run = cmd_mode,
     .help = "change the mode (applies when the lane is idle)"},
    {.name = "stop",
     .args = "LANE on|off",
     .min = 2,
     .max = 2,
     .run = cmd_stop,
     .help = "block the lane at once (a check in flight is aborted), or clear that"},
    {.name = "sim",
     .sub = "get",
     .args = "LANE",
     .min = 1,
     .max = 1,
     .run = cmd_sim_get,
     .help = "sim backend: outputs, inputs, rising-edge counts"},
    {.name = "sim",
     .sub = "set",
     .args = "LANE SIGNAL 0|1",
     .min = 3,
     .max = 3,
     .run = cmd_sim_set,
     .help = "sim backend: drive an input"},
    {.name = "passes",
     .sub = "import",
     .args = "FILE.csv",
     .min = 1,
     .max = 1,
     .run = cmd_passes_import,
     .help = "import passes: all rows or none"},
    {.name = "passes",
     .sub = "list",
     .args = "",
     .min = 0,
     .max = 0,
     .run = cmd_passes_list,
     .help = "list the passes"},
    {.name = "export",
     .args = "--format csv|jsonl [--since T] [--until T] [--lane L] [--verdict V] [--summary]"
	     " [--bom] [-o FILE] [--db PATH]",
     .min = CTL_OWN_OPTIONS,
     .run = cmd_export,
     .help = "one record per check from the journal"},
    {.name = "audit",
     .sub = "verify",
     .args = "[--db PATH] [--file EXPORT.jsonl]",
     .min = CTL_OWN_OPTIONS,
     .run = cmd_audit_verify,
     .help = "check the journal's hash chain, or an exported file; names the first broken row"},
    {.name = "console",
     .args = "[--lang ru|en] [--poll MS] [LANE]",
     .min = CTL_OWN_OPTIONS,
     .run = cmd_console,
     .help = "the attendant's full-screen view (keys: c confirm, r reject, o open, m mode, q quit)"},
};

#define CTL_COMMAND_COUNT (sizeof(ctl_table) / sizeof(ctl_table[0]))

static void usage(FILE *out)
{
	size_t i;

	fprintf(out, "usage: turnstilectl [-s SOCKET] [--json] COMMAND ...\n\n"
		     "commands:\n");
	for (i = 0; i < CTL_COMMAND_COUNT; i++) {
		const struct ctl_command *c = &ctl_table[i];

		fprintf(out, "  %s%s%s%s%s\n      %s\n", c->name, c->sub ? " " : "",
			c->sub ? c->sub : "", c->args[0] ? " " : "", c->args, c->help);
	}
	fprintf(out,
		"\noptions:\n"
		"  -s SOCKET   control socket (default $TURNSTILED_SOCKET, else %s)\n"
		"  --json      print the reply as one JSON document\n"
		"  -h, --help  this text\n",
		CONTROL_SOCKET_DEFAULT);
}

int main(int argc, char **argv)
{
	struct ctl ctl = {.socket = NULL, .json = false};
	const struct ctl_command *e = NULL;
	const char *env = getenv("TURNSTILED_SOCKET");
	bool any_name = false;
	size_t i;
	int arg = 1, nargs;

	ctl.socket = env && env[0] ? env : CONTROL_SOCKET_DEFAULT;
	/* Global options come before the command, so that a PAYLOAD or a --reason
	 * text that starts with '-' is never taken for one. */
	while (arg < argc && argv[arg][0] == '-') {
		const char *a = argv[arg];

		if (strcmp(a, "--") == 0) {
			arg++;
			break;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(a, "--json") == 0) {
			ctl.json = true;
		} else if (strcmp(a, "-s") == 0 || strcmp(a, "--socket") == 0) {
			if (++arg >= argc)
				return usage_error("%s needs a socket path", a);
			ctl.socket = argv[arg];
		} else if (strncmp(a, "-s", 2) == 0) {
			ctl.socket = a + 2;
		} else if (strncmp(a, "--socket=", 9) == 0) {
			ctl.socket = a + 9;
		} else {
			return usage_error("unknown option '%s'", a);
		}
		arg++;
	}
	if (arg >= argc)
		return usage_error("no command given");
	if (!ctl.socket[0])
		return usage_error("empty socket path");

	for (i = 0; i < CTL_COMMAND_COUNT; i++) {
		const struct ctl_command *c = &ctl_table[i];

		if (strcmp(c->name, argv[arg]) != 0)
			continue;
		any_name = true;
		if (!c->sub || (arg + 1 < argc && strcmp(c->sub, argv[arg + 1]) == 0)) {
			e = &ctl_table[i];
			break;
		}
	}
	if (!e) {
		if (any_name)
			return usage_error("%s: unknown or missing subcommand%s%s", argv[arg],
					   arg + 1 < argc ? " " : "",
					   arg + 1 < argc ? argv[arg + 1] : "");
		return usage_error("unknown command '%s'", argv[arg]);
	}

	if (e->min == CTL_OWN_OPTIONS)
		return e->run(&ctl, argc - arg, argv + arg);
	arg += e->sub ? 2 : 1;
	nargs = argc - arg;
	/* --json is also accepted after the command, where it cannot be an argument. */
	if (nargs > 0 && strcmp(argv[argc - 1], "--json") == 0 && nargs > e->max) {
		ctl.json = true;
		nargs--;
	}
	if (nargs < e->min || nargs > e->max)
		return usage_error("usage: %s%s%s %s", e->name, e->sub ? " " : "",
				   e->sub ? e->sub : "", e->args);
	return e->run(&ctl, nargs, argv + arg);
}
