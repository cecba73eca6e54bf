/* console.c: the attendant's full-screen view (turnstilectl console).
 *
 * One persistent connection to the control socket; every poll_ms the view asks
 * "status" and redraws from the reply, so the screen is never more than one
 * poll behind the lane. When the daemon goes away (restart, crash) the
 * connection is dropped, the status line says so, and a new connection is tried
 * every CONSOLE_RETRY_MS until the daemon answers again.
 *
 * Stale decisions: the request id shown on screen is remembered when the screen
 * is drawn, and confirm/reject always send that id, never "the pending one". A
 * key pressed after the lane moved on to a newer visitor therefore names the
 * old check, the daemon refuses it ("stale request id"), and the view says the
 * press was not applied.
 *
 * Keys are read with poll() on stdin, so the loop both follows the daemon and
 * answers at once. The keys also work on a Russian keyboard layout (the same
 * physical keys: с, к, щ, ь, й). Prompts (manual open reason, mode) are modal.
 */
#include <errno.h>
#include <limits.h>
#include <langinfo.h>
#include <locale.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>
#include <wctype.h>
#include <curses.h>
#include <cjson/cJSON.h>

#include "console.h"

#define CONSOLE_RETRY_MS 500
#define CONSOLE_IO_TIMEOUT_MS 2000
#define CONSOLE_MESSAGE_MS 10000
#define CONSOLE_REPLY_MAX ((size_t)1 << 20)
#define CONSOLE_VALUE_COL 20

enum { PAIR_GREEN = 1, PAIR_RED, PAIR_YELLOW, PAIR_ALERT, PAIR_TITLE, PAIR_OK };

struct console {
	const struct console_options *opt;
	enum i18n_lang lang;
	int fd;
	bool ever_connected;
	bool lost; /* was connected, then lost: say so when it comes back */
	char *rbuf;
	size_t rlen, rcap;
	cJSON *status; /* last "status" reply, or NULL */
	char lane[128];	 /* the lane on screen */
	char shown_rid[64]; /* request id of the check awaiting a decision on screen, or "" */
	char message[512];
	int message_pair;
	long long message_until;
	bool colors;
};

static long long console_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *tr(const struct console *c, enum i18n_msg m)
{
	return i18n_text(c->lang, m);
}

/* ---- the connection ---- */

static void console_disconnect(struct console *c)
{
	if (c->fd >= 0) {
		close(c->fd);
		c->lost = true;
	}
	c->fd = -1;
	c->rlen = 0;
}

static int console_connect(struct console *c)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(c->opt->socket) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, c->opt->socket, strlen(c->opt->socket) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	c->fd = fd;
	c->rlen = 0;
	if (c->lost) {
		snprintf(c->message, sizeof(c->message), "%s", tr(c, I18N_MSG_RECONNECTED));
		c->message_pair = PAIR_OK;
		c->message_until = console_now_ms() + CONSOLE_MESSAGE_MS;
	}
	c->lost = false;
	c->ever_connected = true;
	return 0;
}

static int console_wait(int fd, short events, long long deadline)
{
	struct pollfd p = {.fd = fd, .events = events};
	long long left = deadline - console_now_ms();
	int n;

	if (left < 0)
		return -ETIMEDOUT;
	n = poll(&p, 1, (int)left);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	if (n == 0)
		return -ETIMEDOUT;
	return 0;
}

/* Sends request (consumed) and reads one reply line; the connection is dropped
 * on any failure so that the next call reconnects. */
static int console_call(struct console *c, cJSON *request, cJSON **reply)
{
	long long deadline = console_now_ms() + CONSOLE_IO_TIMEOUT_MS;
	char *text = cJSON_PrintUnformatted(request);
	size_t len, off = 0;
	int r = 0;

	cJSON_Delete(request);
	*reply = NULL;
	if (!text)
		return -ENOMEM;
	if (c->fd < 0 && (r = console_connect(c)) < 0) {
		free(text);
		return r;
	}
	len = strlen(text);
	text[len++] = '\n'; /* replaces the NUL; the length is tracked */
	while (off < len) {
		ssize_t n = send(c->fd, text + off, len - off, MSG_NOSIGNAL);

		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			r = -errno;
			goto fail;
		}
		off += (size_t)n;
	}
	free(text);
	text = NULL;
	for (;;) {
		char *nl = c->rlen ? memchr(c->rbuf, '\n', c->rlen) : NULL;
		ssize_t n;

		if (nl) {
			size_t line = (size_t)(nl - c->rbuf);

			*nl = '\0';
			*reply = cJSON_Parse(c->rbuf);
			memmove(c->rbuf, nl + 1, c->rlen - line - 1);
			c->rlen -= line + 1;
			if (!cJSON_IsObject(*reply)) {
				cJSON_Delete(*reply);
				*reply = NULL;
				r = -EPROTO;
				goto fail;
			}
			return 0;
		}
		if (c->rcap - c->rlen < 4096) {
			char *nb;

			if (c->rcap >= CONSOLE_REPLY_MAX) {
				r = -EMSGSIZE;
				goto fail;
			}
			nb = realloc(c->rbuf, c->rcap ? c->rcap * 2 : 8192);
			if (!nb) {
				r = -ENOMEM;
				goto fail;
			}
			c->rbuf = nb;
			c->rcap = c->rcap ? c->rcap * 2 : 8192;
		}
		r = console_wait(c->fd, POLLIN, deadline);
		if (r < 0)
			goto fail;
		n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen - 1, 0);
		if (n == 0) {
			r = -ECONNRESET;
			goto fail;
		}
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			r = -errno;
			goto fail;
		}
		c->rlen += (size_t)n;
	}
fail:
	free(text);
	console_disconnect(c);
	return r;
}

static cJSON *console_request(const char *cmd, const char *lane)
{
	cJSON *req = cJSON_CreateObject();

	if (!req)
		return NULL;
	cJSON_AddStringToObject(req, "cmd", cmd);
	if (lane)
		cJSON_AddStringToObject(req, "lane", lane);
	return req;
}

static void console_poll(struct console *c)
{
	cJSON *reply = NULL;

	if (console_call(c, console_request("status", c->opt->lane), &reply) < 0) {
		cJSON_Delete(c->status);
		c->status = NULL;
		return;
	}
	cJSON_Delete(c->status);
	c->status = reply;
}

/* ---- what is on screen ---- */

static const char *jstr(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const char *jstr_or_dash(const cJSON *o, const char *name)
{
	const char *s = jstr(o, name);

	return s && s[0] ? s : "—";
}

static const cJSON *console_lanes(const struct console *c)
{
	return c->status ? cJSON_GetObjectItemCaseSensitive(c->status, "lanes") : NULL;
}

/* The lane on screen: the one named c->lane, else the first. */
static const cJSON *console_lane(struct console *c)
{
	const cJSON *lanes = console_lanes(c), *l;

	if (!cJSON_IsArray(lanes) || !lanes->child)
		return NULL;
	cJSON_ArrayForEach(l, lanes) {
		const char *name = jstr(l, "name");

		if (name && strcmp(name, c->lane) == 0)
			return l;
	}
	l = lanes->child;
	snprintf(c->lane, sizeof(c->lane), "%s", jstr(l, "name") ? jstr(l, "name") : "");
	return l;
}

static void console_next_lane(struct console *c)
{
	const cJSON *cur = console_lane(c);

	if (!cur)
		return;
	cur = cur->next ? cur->next : console_lanes(c)->child;
	snprintf(c->lane, sizeof(c->lane), "%s", jstr(cur, "name") ? jstr(cur, "name") : "");
}

/* Draws UTF-8 text at (y, x), cut at the right edge. */
static void put(int y, int x, const char *s)
{
	wchar_t w[512];
	size_t n;
	int cols = COLS;

	if (y < 0 || y >= LINES || x >= cols || !s)
		return;
	n = mbstowcs(w, s, sizeof(w) / sizeof(w[0]) - 1);
	if (n == (size_t)-1) {
		mvaddnstr(y, x, "?", cols - x);
		return;
	}
	w[n] = L'\0';
	mvaddnwstr(y, x, w, cols - x);
}

static int text_cols(const char *s)
{
	wchar_t w[512];
	size_t n = mbstowcs(w, s, sizeof(w) / sizeof(w[0]) - 1);
	int width;

	if (n == (size_t)-1)
		return (int)strlen(s);
	w[n] = L'\0';
	width = wcswidth(w, n);
	return width < 0 ? (int)n : width;
}

static void put_centered(int y, const char *s)
{
	int x = (COLS - text_cols(s)) / 2;

	put(y, x < 0 ? 0 : x, s);
}

static void attr_pair(struct console *c, int pair, bool on)
{
	attr_t a = A_BOLD | (c->colors ? COLOR_PAIR(pair) : A_REVERSE);

	if (on)
		attron(a);
	else
		attroff(a);
}

static void put_field(struct console *c, int y, enum i18n_msg label, const char *value)
{
	char l[128];

	snprintf(l, sizeof(l), "%s:", tr(c, label));
	put(y, 2, l);
	attron(A_BOLD);
	put(y, CONSOLE_VALUE_COL, value);
	attroff(A_BOLD);
}

/* The big block: verdict text in colour, banner_h rows high. */
static void draw_banner(struct console *c, int y, int h, int pair, const char *text)
{
	char line[1024];

	attr_pair(c, pair, true);
	memset(line, ' ', (size_t)COLS < sizeof(line) - 1 ? (size_t)COLS : sizeof(line) - 1);
	line[(size_t)COLS < sizeof(line) - 1 ? (size_t)COLS : sizeof(line) - 1] = '\0';
	for (int i = 0; i < h; i++)
		mvaddstr(y + i, 0, line);
	put_centered(y + h / 2, text);
	attr_pair(c, pair, false);
}

static void draw_check(struct console *c, const cJSON *lane, int y, int banner_h)
{
	const char *state = jstr(lane, "state");
	const cJSON *check = cJSON_GetObjectItemCaseSensitive(lane, "check");
	const cJSON *holder, *reuse, *left;
	const char *verdict, *kind, *title, *rid;
	char buf[512];
	int pair;

	c->shown_rid[0] = '\0';
	if (!state)
		state = "";
	if (strcmp(state, "emergency") == 0) {
		draw_banner(c, y, banner_h, PAIR_RED, i18n_word(c->lang, "emergency"));
		return;
	}
	if (strcmp(state, "io_fault") == 0) {
		draw_banner(c, y, banner_h, PAIR_RED, i18n_word(c->lang, "io_fault"));
		return;
	}
	if (!cJSON_IsObject(check)) {
		if (strcmp(state, "free") == 0 || strcmp(state, "open") == 0)
			draw_banner(c, y, banner_h, PAIR_GREEN, i18n_word(c->lang, state));
		else if (strcmp(state, "blocked") == 0)
			draw_banner(c, y, banner_h, PAIR_RED, i18n_word(c->lang, state));
		else
			put_centered(y + banner_h / 2, tr(c, I18N_NO_CHECK));
		return;
	}
	rid = jstr(check, "request_id");
	/* Only a check waiting for the attendant can be decided from the screen. */
	if (strcmp(state, "await_attendant") == 0)
		snprintf(c->shown_rid, sizeof(c->shown_rid), "%s", rid ? rid : "");
	verdict = jstr(check, "verdict");
	if (!verdict || strcmp(state, "verifying") == 0) {
		draw_banner(c, y, banner_h, PAIR_YELLOW, tr(c, I18N_CHECKING));
		return;
	}
	if (strcmp(state, "await_attendant") == 0)
		pair = PAIR_YELLOW;
	else if (strcmp(state, "open") == 0 || strcmp(state, "passing") == 0)
		pair = PAIR_GREEN;
	else if (strcmp(verdict, "valid") == 0)
		pair = PAIR_GREEN;
	else
		pair = PAIR_RED;
	draw_banner(c, y, banner_h, pair, i18n_word(c->lang, verdict));
	y += banner_h;
	if (strcmp(state, "await_attendant") == 0)
		put_centered(y, tr(c, I18N_HINT_VALID));
	else if (pair == PAIR_RED)
		put_centered(y, tr(c, I18N_HINT_DENIED));
	else if (pair == PAIR_GREEN)
		put_centered(y, tr(c, I18N_HINT_OPEN));
	y += 2;
	holder = cJSON_GetObjectItemCaseSensitive(check, "holder");
	put_field(c, y++, I18N_HOLDER, jstr_or_dash(holder, "initials"));
	put_field(c, y++, I18N_BIRTH, jstr_or_dash(holder, "birth_date"));
	put_field(c, y++, I18N_DOC, jstr_or_dash(holder, "doc"));
	kind = jstr(check, "code_kind");
	title = jstr(check, "title");
	snprintf(buf, sizeof(buf), "%s%s%s", kind ? i18n_word(c->lang, kind) : "—",
		 title && title[0] ? " — " : "", title && title[0] ? title : "");
	put_field(c, y++, I18N_PASS, buf);
	put_field(c, y++, I18N_VALID_UNTIL, jstr_or_dash(check, "valid_until"));
	if (pair == PAIR_RED && jstr(check, "reason") && jstr(check, "reason")[0])
		put_field(c, y++, I18N_REASON, jstr(check, "reason"));
	left = cJSON_GetObjectItemCaseSensitive(lane, "attendant_left_ms");
	if (strcmp(state, "await_attendant") == 0 && cJSON_IsNumber(left)) {
		snprintf(buf, sizeof(buf), "%lld", ((long long)left->valuedouble + 999) / 1000);
		put_field(c, y++, I18N_TIME_LEFT, buf);
	}
	put_field(c, y++, I18N_REQUEST, rid ? rid : "—");
	reuse = cJSON_GetObjectItemCaseSensitive(check, "reuse");
	if (cJSON_IsTrue(reuse)) {
		attr_pair(c, PAIR_ALERT, true);
		put(y, 2, tr(c, I18N_REUSE));
		attr_pair(c, PAIR_ALERT, false);
	}
}

/* The most serious condition, for the status line: emergency on any lane, an IO
 * fault on any lane, the portal unreachable (the daemon's "portal" status: it
 * stays so after the check that found it, until the portal answers again), the
 * lane on screen locked. */
static enum i18n_msg console_condition(struct console *c, const cJSON *shown)
{
	const cJSON *lanes = console_lanes(c), *l;
	const cJSON *portal = cJSON_GetObjectItemCaseSensitive(c->status, "portal");
	const char *portal_state = jstr(portal, "state");
	enum i18n_msg m = I18N_STATUS_OK;

	if (c->fd < 0 || !c->status)
		return I18N_STATUS_NO_DAEMON;
	if (portal_state && strcmp(portal_state, "unreachable") == 0)
		m = I18N_STATUS_PORTAL;
	cJSON_ArrayForEach(l, lanes) {
		const char *state = jstr(l, "state");

		if (!state)
			continue;
		if (strcmp(state, "emergency") == 0)
			return I18N_STATUS_EMERGENCY;
		if (strcmp(state, "io_fault") == 0)
			m = I18N_STATUS_IO_FAULT;
		else if (m == I18N_STATUS_OK && l == shown &&
			 cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(l, "stop")))
			m = I18N_STATUS_STOPPED;
		else if (m == I18N_STATUS_OK && l == shown && strcmp(state, "blocked") == 0)
			m = I18N_STATUS_LOCKED;
	}
	return m;
}

static void console_draw(struct console *c, const char *prompt)
{
	const cJSON *lane;
	enum i18n_msg cond;
	char buf[512];
	int banner_h = LINES >= 40 ? 7 : 3;
	time_t t = time(NULL);
	struct tm tm;

	erase();
	lane = console_lane(c);
	/* Title bar. */
	attr_pair(c, PAIR_TITLE, true);
	memset(buf, ' ', sizeof(buf));
	buf[COLS < (int)sizeof(buf) - 1 ? COLS : (int)sizeof(buf) - 1] = '\0';
	mvaddstr(0, 0, buf);
	snprintf(buf, sizeof(buf), " %s — %s %s", tr(c, I18N_TITLE), tr(c, I18N_LANE),
		 lane ? c->lane : "—");
	put(0, 0, buf);
	localtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%H:%M:%S ", &tm);
	put(0, COLS - text_cols(buf), buf);
	attr_pair(c, PAIR_TITLE, false);

	cond = console_condition(c, lane);
	if (lane) {
		const char *mode = jstr(lane, "mode"), *pending = jstr(lane, "pending_mode");
		int n;

		n = snprintf(buf, sizeof(buf), "%s: %s    %s: %s", tr(c, I18N_STATE),
			     i18n_word(c->lang, jstr(lane, "state")), tr(c, I18N_MODE),
			     i18n_word(c->lang, mode));
		if (pending && mode && strcmp(pending, mode) != 0 && n > 0 && (size_t)n < sizeof(buf))
			snprintf(buf + n, sizeof(buf) - (size_t)n, " (%s %s)",
				 i18n_word(c->lang, pending), tr(c, I18N_MODE_PENDING));
		attron(A_BOLD);
		put(2, 2, buf);
		attroff(A_BOLD);
		draw_check(c, lane, 4, banner_h);
	} else {
		c->shown_rid[0] = '\0';
		if (c->status)
			put_centered(LINES / 2, tr(c, I18N_NO_LANE));
	}

	if (c->message[0] && console_now_ms() < c->message_until) {
		attr_pair(c, c->message_pair, true);
		put(LINES - 4, 1, c->message);
		attr_pair(c, c->message_pair, false);
	}
	if (prompt) {
		attron(A_BOLD);
		put(LINES - 3, 1, prompt);
		attroff(A_BOLD);
	}
	attr_pair(c, cond == I18N_STATUS_OK ? PAIR_OK : PAIR_ALERT, true);
	snprintf(buf, sizeof(buf), " %s ", tr(c, cond));
	put(LINES - 2, 0, buf);
	attr_pair(c, cond == I18N_STATUS_OK ? PAIR_OK : PAIR_ALERT, false);
	put(LINES - 1, 1, tr(c, I18N_KEYS));
	if (!prompt)
		move(LINES - 1, COLS - 1);
	refresh();
}

/* Shows text (and ": detail" when detail is not NULL) on the message line. */
static void console_say(struct console *c, int pair, const char *text, const char *detail)
{
	snprintf(c->message, sizeof(c->message), "%s%s%s", text, detail ? ": " : "",
		 detail ? detail : "");
	c->message_pair = pair;
	c->message_until = console_now_ms() + CONSOLE_MESSAGE_MS;
}

/* Sends request; on failure says why (stale ids in plain words). 0 on success. */
static int console_act(struct console *c, cJSON *request, cJSON **reply_out)
{
	const cJSON *ok;
	cJSON *reply;
	int r = console_call(c, request, &reply);

	if (reply_out)
		*reply_out = NULL;
	if (r < 0) {
		console_say(c, PAIR_ALERT, tr(c, I18N_MSG_FAILED), strerror(-r));
		return r;
	}
	ok = cJSON_GetObjectItemCaseSensitive(reply, "ok");
	if (!cJSON_IsTrue(ok)) {
		const char *err = jstr(reply, "error");

		if (err && strstr(err, "stale"))
			console_say(c, PAIR_ALERT, tr(c, I18N_MSG_STALE), NULL);
		else
			console_say(c, PAIR_ALERT, tr(c, I18N_MSG_FAILED),
				    err ? err : "?");
		cJSON_Delete(reply);
		return -EPERM;
	}
	if (reply_out)
		*reply_out = reply;
	else
		cJSON_Delete(reply);
	return 0;
}

static void console_decide(struct console *c, bool confirm)
{
	cJSON *req;

	if (!c->shown_rid[0]) {
		console_say(c, PAIR_ALERT, tr(c, I18N_MSG_NOTHING), NULL);
		return;
	}
	req = console_request(confirm ? "confirm" : "reject", c->lane);
	if (req)
		cJSON_AddStringToObject(req, "request_id", c->shown_rid);
	if (console_act(c, req, NULL) == 0)
		console_say(c, confirm ? PAIR_OK : PAIR_ALERT,
			    tr(c, confirm ? I18N_MSG_CONFIRMED : I18N_MSG_REJECTED), NULL);
}

/* Blocks for one key; returns ERR on end of input. */
static int console_key(wint_t *wc)
{
	for (;;) {
		int r = get_wch(wc);

		if (r != ERR)
			return r;
		struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			return ERR;
		if (p.revents & (POLLHUP | POLLERR))
			return ERR;
	}
}

static bool is_cancel(int r, wint_t wc)
{
	return r == OK && wc == 27;
}

static void console_open(struct console *c)
{
	wchar_t reason[200];
	size_t n = 0;
	char prompt[4096], mb[sizeof(reason) / sizeof(reason[0]) * MB_LEN_MAX];
	const char *dir = NULL;
	wint_t wc;
	int r;
	cJSON *req;

	console_draw(c, tr(c, I18N_PROMPT_DIR));
	while (!dir) {
		r = console_key(&wc);
		if (r == ERR || is_cancel(r, wc))
			goto cancel;
		if (r == OK && (wc == 'a' || wc == 'A' || wc == L'ф' || wc == L'Ф'))
			dir = "a";
		else if (r == OK && (wc == 'b' || wc == 'B' || wc == L'и' || wc == L'И'))
			dir = "b";
	}
	for (;;) {
		size_t len;

		reason[n] = L'\0';
		len = wcstombs(mb, reason, sizeof(mb));
		snprintf(prompt, sizeof(prompt), "%s%s", tr(c, I18N_PROMPT_REASON),
			 len == (size_t)-1 ? "?" : mb);
		console_draw(c, prompt);
		r = console_key(&wc);
		if (r == ERR || is_cancel(r, wc))
			goto cancel;
		if ((r == OK && (wc == '\n' || wc == '\r')) || (r == KEY_CODE_YES && wc == KEY_ENTER))
			break;
		if ((r == KEY_CODE_YES && wc == KEY_BACKSPACE) ||
		    (r == OK && (wc == 127 || wc == 8))) {
			if (n)
				n--;
			continue;
		}
		if (r == OK && iswprint(wc) && n + 1 < sizeof(reason) / sizeof(reason[0]))
			reason[n++] = (wchar_t)wc;
	}
	reason[n] = L'\0';
	if (wcstombs(mb, reason, sizeof(mb)) == (size_t)-1 || !mb[strspn(mb, " ")]) {
		console_say(c, PAIR_ALERT, tr(c, I18N_MSG_REASON_EMPTY), NULL);
		return;
	}
	req = console_request("open", c->lane);
	if (req) {
		cJSON_AddStringToObject(req, "dir", dir);
		cJSON_AddStringToObject(req, "reason", mb);
	}
	if (console_act(c, req, NULL) == 0)
		console_say(c, PAIR_OK, tr(c, I18N_MSG_OPENED), NULL);
	return;
cancel:
	console_say(c, PAIR_TITLE, tr(c, I18N_MSG_CANCELLED), NULL);
}

static void console_mode(struct console *c)
{
	static const char *const modes[] = {"normal", "free", "free-a", "free-b", "locked"};
	const cJSON *applied;
	cJSON *req, *reply;
	wint_t wc;
	int r;

	console_draw(c, tr(c, I18N_PROMPT_MODE));
	for (;;) {
		r = console_key(&wc);
		if (r == ERR || is_cancel(r, wc)) {
			console_say(c, PAIR_TITLE, tr(c, I18N_MSG_CANCELLED), NULL);
			return;
		}
		if (r == OK && wc >= '1' && wc <= '5')
			break;
	}
	req = console_request("mode", c->lane);
	if (req)
		cJSON_AddStringToObject(req, "mode", modes[wc - '1']);
	if (console_act(c, req, &reply) < 0)
		return;
	applied = cJSON_GetObjectItemCaseSensitive(reply, "applied");
	console_say(c, PAIR_OK,
		    tr(c, cJSON_IsFalse(applied) ? I18N_MSG_MODE_DEFERRED : I18N_MSG_MODE_SET),
		    NULL);
	cJSON_Delete(reply);
}

/* The STOP key: blocks the lane at once, or releases a stop (no prompt: a stop
 * must take one key press, and releasing one is as plain to see on the screen). */
static void console_stop(struct console *c)
{
	const cJSON *lane = console_lane(c);
	bool stop = !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(lane, "stop"));
	cJSON *req;

	if (!lane)
		return;
	req = console_request("stop", c->lane);
	if (req)
		cJSON_AddBoolToObject(req, "active", stop);
	if (console_act(c, req, NULL) == 0)
		console_say(c, stop ? PAIR_ALERT : PAIR_OK,
			    tr(c, stop ? I18N_MSG_STOPPED : I18N_MSG_STOP_CLEARED), NULL);
}

/* Redraws every cell, not only what changed: after a resize the terminal may
 * have kept, cut or shifted rows that curses believes are still in place (a
 * terminal that shrinks drops its top rows), and Ctrl-L is the attendant's
 * remedy for a screen spoiled by anything else writing to it. */
static void console_repaint(struct console *c)
{
	clearok(curscr, TRUE);
	console_draw(c, NULL);
}

static void console_colors(struct console *c)
{
	c->colors = has_colors();
	if (!c->colors)
		return;
	start_color();
	use_default_colors();
	init_pair(PAIR_GREEN, COLOR_BLACK, COLOR_GREEN);
	init_pair(PAIR_RED, COLOR_WHITE, COLOR_RED);
	init_pair(PAIR_YELLOW, COLOR_BLACK, COLOR_YELLOW);
	init_pair(PAIR_ALERT, COLOR_WHITE, COLOR_RED);
	init_pair(PAIR_TITLE, COLOR_WHITE, COLOR_BLUE);
	init_pair(PAIR_OK, COLOR_BLACK, COLOR_GREEN);
}

int console_run(const struct console_options *opt)
{
	struct console c = {.opt = opt, .lang = opt->lang, .fd = -1};
	long long next_poll = 0;
	bool quit = false;

	/* The texts are UTF-8; a host without the user's locale still has C.UTF-8. */
	if (!setlocale(LC_ALL, "") || strcmp(nl_langinfo(CODESET), "UTF-8") != 0)
		setlocale(LC_CTYPE, "C.UTF-8");
	if (opt->lane)
		snprintf(c.lane, sizeof(c.lane), "%s", opt->lane);
	if (!initscr()) {
		fprintf(stderr, "turnstilectl: console: cannot initialise the terminal\n");
		return EXIT_FAILURE;
	}
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	set_escdelay(50);
	console_colors(&c);

	while (!quit) {
		long long now = console_now_ms();
		struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
		wint_t wc;
		int r;

		if (now >= next_poll) {
			console_poll(&c);
			next_poll = now + (c.status ? opt->poll_ms : CONSOLE_RETRY_MS);
			console_draw(&c, NULL);
		}
		r = get_wch(&wc);
		if (r == ERR) {
			long long wait = next_poll - console_now_ms();

			if (poll(&p, 1, wait < 0 ? 0 : (int)wait) > 0 && (p.revents & (POLLHUP | POLLERR)))
				quit = true;
			continue;
		}
		if (r == KEY_CODE_YES) {
			if (wc == KEY_ENTER)
				console_decide(&c, true);
			else if (wc == KEY_BACKSPACE || wc == KEY_DC)
				console_decide(&c, false);
			else if (wc == KEY_RESIZE)
				console_repaint(&c);
			else
				continue;
		} else {
			switch (wc) {
			case 'q': case 'Q': case L'й': case L'Й':
				quit = true;
				continue;
			case 'c': case 'C': case L'с': case L'С': case '\r': case '\n':
				console_decide(&c, true);
				break;
			case 'r': case 'R': case L'к': case L'К': case 127: case 8:
				console_decide(&c, false);
				break;
			case 'o': case 'O': case L'щ': case L'Щ':
				console_open(&c);
				break;
			case 'm': case 'M': case L'ь': case L'Ь':
				console_mode(&c);
				break;
			case 's': case 'S': case L'ы': case L'Ы':
				console_stop(&c);
				break;
			case 12: /* Ctrl-L */
				console_repaint(&c);
				continue;
			case '\t':
				if (!opt->lane)
					console_next_lane(&c);
				console_draw(&c, NULL);
				continue;
			default:
				continue;
			}
		}
		next_poll = 0; /* show the effect at once */
	}
	endwin();
	console_disconnect(&c);
	cJSON_Delete(c.status);
	free(c.rbuf);
	return 0;
}
