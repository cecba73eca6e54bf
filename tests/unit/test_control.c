/* test_control.c: the control socket, both ends in one process.
 *
 * The server runs on an sd_event loop in the test's main thread; each test's
 * client side runs in its own thread(s) with blocking sockets and 5 s receive
 * timeouts, and only records what it saw. The main thread pumps the loop until
 * the clients are done, then asserts (cmocka asserts must stay on the main
 * thread). The test handler echoes the request, fails "fail", and answers "big"
 * with a reply of "size" bytes.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "control.h"

#define REQUEST_MAX 4096
#define CLIENTS 20
#define PIPELINED 50

struct fixture {
	char dir[64];
	char path[128];
	sd_event *ev;
	struct control *ctl;
	unsigned handled;
};

static void handler(void *userdata, const cJSON *request, cJSON *reply)
{
	struct fixture *f = userdata;
	const char *cmd = cJSON_GetObjectItemCaseSensitive(request, "cmd")->valuestring;

	f->handled++;
	if (strcmp(cmd, "fail") == 0) {
		cJSON_AddFalseToObject(reply, "ok");
		cJSON_AddStringToObject(reply, "error", "failed on purpose");
	} else if (strcmp(cmd, "big") == 0) {
		const cJSON *size = cJSON_GetObjectItemCaseSensitive(request, "size");
		size_t n = cJSON_IsNumber(size) ? (size_t)size->valuedouble : 1024;
		char *s = malloc(n + 1);

		memset(s, 'x', n);
		s[n] = '\0';
		cJSON_AddStringToObject(reply, "data", s);
		free(s);
	} else {
		cJSON_AddItemToObject(reply, "echo", cJSON_Duplicate(request, true));
	}
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	int r;

	assert_non_null(f);
	strcpy(f->dir, "/tmp/test_control.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/run/control.sock", f->dir);
	assert_int_equal(sd_event_new(&f->ev), 0);
	r = control_open(&f->ctl, f->ev, f->path, 0660, REQUEST_MAX, handler, f);
	assert_int_equal(r, 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[256];

	control_close(f->ctl);
	sd_event_unref(f->ev);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Test paths are short (under /tmp); a long one is a bug in the test. */
static void sun_path_set(struct sockaddr_un *sa, const char *path)
{
	size_t len = strlen(path);

	if (len >= sizeof(sa->sun_path))
		abort();
	memcpy(sa->sun_path, path, len + 1);
}

/* ---- client side helpers (run in client threads; never assert) ---- */

static int client_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = 5};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	sun_path_set(&sa, path);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

static int client_send(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);

		if (n < 0)
			return -errno;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

static int client_send_str(int fd, const char *s)
{
	return client_send(fd, s, strlen(s));
}

/* Reads one line byte by byte (slow, simple, never reads past the line).
 * Returns its length, 0 on EOF before any byte, or -errno. */
static ssize_t client_line(int fd, char *buf, size_t size)
{
	size_t used = 0;

	while (used + 1 < size) {
		char ch;
		ssize_t n = recv(fd, &ch, 1, 0);

		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		if (ch == '\n') {
			buf[used] = '\0';
			return (ssize_t)used;
		}
		buf[used++] = ch;
	}
	buf[used] = '\0';
	return used ? -EPROTO : 0;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* ---- main-thread helpers ---- */

struct run {
	struct fixture *f;
	void *(*fn)(void *);
	void *arg;
	atomic_bool done;
};

static void *run_trampoline(void *p)
{
	struct run *run = p;

	run->fn(run->arg);
	atomic_store(&run->done, true);
	return NULL;
}

/* Runs fn(arg) in a thread while pumping the server's loop until it returns. */
static void run_client(struct fixture *f, void *(*fn)(void *), void *arg)
{
	struct run run = {.f = f, .fn = fn, .arg = arg};
	pthread_t t;
	int i;

	atomic_init(&run.done, false);
	assert_int_equal(pthread_create(&t, NULL, run_trampoline, &run), 0);
	for (i = 0; i < 3000 && !atomic_load(&run.done); i++)
		assert_true(sd_event_run(f->ev, 10000) >= 0);
	if (!atomic_load(&run.done))
		fail_msg("client thread still running after 30 s");
	pthread_join(t, NULL);
}

/* Pumps the loop until the server has no clients left (or 5 s pass). */
static void wait_no_clients(struct fixture *f)
{
	int i;

	for (i = 0; i < 500 && control_client_count(f->ctl) > 0; i++)
		sd_event_run(f->ev, 10000);
	assert_int_equal(control_client_count(f->ctl), 0);
}

static cJSON *parse_object(const char *line)
{
	cJSON *json = cJSON_Parse(line);

	if (!cJSON_IsObject(json))
		fail_msg("reply is not a JSON object: '%s'", line);
	return json;
}

static void assert_ok(const cJSON *reply, bool want)
{
	const cJSON *ok = cJSON_GetObjectItemCaseSensitive(reply, "ok");
	char *text = cJSON_PrintUnformatted(reply);

	if (!cJSON_IsBool(ok) || cJSON_IsTrue(ok) != want)
		fail_msg("expected \"ok\":%s, got %s", want ? "true" : "false", text);
	free(text);
}

static void assert_error_prefix(const cJSON *reply, const char *prefix)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(reply, "error");

	assert_ok(reply, false);
	if (!cJSON_IsString(e))
		fail_msg("reply has no string \"error\"");
	if (strncmp(e->valuestring, prefix, strlen(prefix)) != 0)
		fail_msg("error '%s' does not start with '%s'", e->valuestring, prefix);
}

/* ---- round trip through control_call ---- */

struct call {
	const char *path;
	const char *request;
	int timeout_ms;
	int r;
	cJSON *reply;
};

static void *call_thread(void *p)
{
	struct call *c = p;
	cJSON *req = cJSON_Parse(c->request);

	c->r = control_call(c->path, req, &c->reply, c->timeout_ms);
	cJSON_Delete(req);
	return NULL;
}

static void test_call_round_trip_echoes_request_and_adds_ok_true_first(void **state)
{
	struct fixture *f = *state;
	struct call c = {
	    .path = f->path, .request = "{\"cmd\":\"echo\",\"x\":42}", .timeout_ms = 5000};
	const cJSON *echo;

	run_client(f, call_thread, &c);
	assert_int_equal(c.r, 0);
	assert_ok(c.reply, true);
	assert_string_equal(c.reply->child->string, "ok");
	echo = cJSON_GetObjectItemCaseSensitive(c.reply, "echo");
	assert_non_null(echo);
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(echo, "x")->valueint, 42);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(echo, "cmd")->valuestring, "echo");
	cJSON_Delete(c.reply);
	wait_no_clients(f);
}

static void test_handler_ok_false_and_error_reach_the_client_unchanged(void **state)
{
	struct fixture *f = *state;
	struct call c = {.path = f->path, .request = "{\"cmd\":\"fail\"}", .timeout_ms = 5000};

	run_client(f, call_thread, &c);
	assert_int_equal(c.r, 0);
	assert_error_prefix(c.reply, "failed on purpose");
	assert_string_equal(c.reply->child->string, "ok");
	cJSON_Delete(c.reply);
}

static void test_call_without_daemon_returns_enoent(void **state)
{
	struct fixture *f = *state;
	char path[256];
	cJSON *req = cJSON_Parse("{\"cmd\":\"status\"}"), *reply = NULL;

	snprintf(path, sizeof(path), "%s/nobody.sock", f->dir);
	assert_int_equal(control_call(path, req, &reply, 1000), -ENOENT);
	assert_null(reply);
	cJSON_Delete(req);
}

static int make_stale_socket(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int r;

	sun_path_set(&sa, path);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd); /* bound but never listening, now closed: a dead daemon's file */
	return r;
}

static void test_call_to_stale_socket_returns_econnrefused(void **state)
{
	struct fixture *f = *state;
	char path[256];
	cJSON *req = cJSON_Parse("{\"cmd\":\"status\"}"), *reply = NULL;

	snprintf(path, sizeof(path), "%s/stale.sock", f->dir);
	assert_int_equal(make_stale_socket(path), 0);
	assert_int_equal(control_call(path, req, &reply, 1000), -ECONNREFUSED);
	cJSON_Delete(req);
}

static void test_call_times_out_when_nobody_answers(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char path[256];
	cJSON *req = cJSON_Parse("{\"cmd\":\"status\"}"), *reply = NULL;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct timespec a, b;
	long ms;

	snprintf(path, sizeof(path), "%s/mute.sock", f->dir);
	sun_path_set(&sa, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0); /* listens, never accepts */
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(control_call(path, req, &reply, 200), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	if (ms < 150 || ms > 2000)
		fail_msg("timeout took %ld ms, expected about 200", ms);
	close(fd);
	cJSON_Delete(req);
}

static void test_call_reports_eproto_for_a_reply_that_is_not_json(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct call c = {.request = "{\"cmd\":\"x\"}", .timeout_ms = 2000};
	char path[256], buf[256];
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), afd;
	pthread_t t;

	/* A hand-made server that answers with a line that is not JSON. */
	snprintf(path, sizeof(path), "%s/liar.sock", f->dir);
	sun_path_set(&sa, path);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	c.path = path;
	assert_int_equal(pthread_create(&t, NULL, call_thread, &c), 0);
	afd = accept(lfd, NULL, NULL);
	assert_true(afd >= 0);
	assert_true(recv(afd, buf, sizeof(buf), 0) > 0);
	assert_int_equal(send(afd, "hello\n", 6, MSG_NOSIGNAL), 6);
	pthread_join(t, NULL);
	assert_int_equal(c.r, -EPROTO);
	assert_null(c.reply);
	close(afd);
	close(lfd);
}

/* ---- framing ---- */

struct pipelined {
	const char *path;
	int errors;
	int got;
	char first_bad[512];
};

static void *pipelined_thread(void *p)
{
	struct pipelined *pl = p;
	char *all = malloc(PIPELINED * 64), *w = all, line[512];
	int fd = client_connect(pl->path), i;

	if (fd < 0) {
		pl->errors++;
		free(all);
		return NULL;
	}
	for (i = 0; i < PIPELINED; i++)
		w += sprintf(w, "{\"cmd\":\"echo\",\"i\":%d}\n", i);
	if (client_send(fd, all, (size_t)(w - all)) < 0)
		pl->errors++;
	for (i = 0; i < PIPELINED; i++) {
		char want[64];

		if (client_line(fd, line, sizeof(line)) <= 0)
			break;
		snprintf(want, sizeof(want), "\"i\":%d}", i);
		if (!strstr(line, want) || strncmp(line, "{\"ok\":true", 10) != 0) {
			if (!pl->first_bad[0])
				snprintf(pl->first_bad, sizeof(pl->first_bad), "#%d: %.400s", i,
					 line);
			pl->errors++;
		}
		pl->got++;
	}
	close(fd);
	free(all);
	return NULL;
}

static void test_pipelined_requests_in_one_write_get_replies_in_order(void **state)
{
	struct fixture *f = *state;
	struct pipelined pl = {.path = f->path};

	run_client(f, pipelined_thread, &pl);
	assert_int_equal(pl.got, PIPELINED);
	if (pl.errors)
		fail_msg("%d bad replies, first: %s", pl.errors, pl.first_bad);
	assert_int_equal(f->handled, PIPELINED);
	wait_no_clients(f);
}

struct script {
	const char *path;
	const char *const *sends; /* NULL-terminated; each sent with a pause after */
	int pause_ms;
	bool shutdown_write;
	int lines_wanted;
	char lines[8][512];
	int lines_got;
	ssize_t after; /* result of reading once more after the wanted lines */
	int r;
};

static void *script_thread(void *p)
{
	struct script *s = p;
	int fd = client_connect(s->path), i;

	if (fd < 0) {
		s->r = fd;
		return NULL;
	}
	for (i = 0; s->sends[i]; i++) {
		s->r = client_send_str(fd, s->sends[i]);
		if (s->r < 0)
			break;
		if (s->pause_ms)
			sleep_ms(s->pause_ms);
	}
	if (s->shutdown_write)
		shutdown(fd, SHUT_WR);
	for (i = 0; i < s->lines_wanted; i++) {
		if (client_line(fd, s->lines[i], sizeof(s->lines[i])) <= 0)
			break;
		s->lines_got++;
	}
	s->after = client_line(fd, s->lines[7], sizeof(s->lines[7]));
	close(fd);
	return NULL;
}

static void test_request_split_across_writes_is_reassembled(void **state)
{
	struct fixture *f = *state;
	static const char *const sends[] = {"{\"cmd\":", "\"echo\",\"par", "t\":3}", "\n", NULL};
	struct script s = {.path = f->path,
			   .sends = sends,
			   .pause_ms = 30,
			   .shutdown_write = true,
			   .lines_wanted = 1};
	cJSON *reply;

	run_client(f, script_thread, &s);
	assert_int_equal(s.r, 0);
	assert_int_equal(s.lines_got, 1);
	reply = parse_object(s.lines[0]);
	assert_ok(reply, true);
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(
			     cJSON_GetObjectItemCaseSensitive(reply, "echo"), "part")
			     ->valueint,
			 3);
	cJSON_Delete(reply);
	assert_int_equal(f->handled, 1);
	assert_int_equal(s.after, 0); /* closed by the server after the peer's EOF */
	wait_no_clients(f);
}

static void test_last_request_without_newline_is_handled_at_eof(void **state)
{
	struct fixture *f = *state;
	static const char *const sends[] = {"{\"cmd\":\"echo\",\"n\":1}", NULL};
	struct script s = {
	    .path = f->path, .sends = sends, .shutdown_write = true, .lines_wanted = 1};
	cJSON *reply;

	run_client(f, script_thread, &s);
	assert_int_equal(s.lines_got, 1);
	reply = parse_object(s.lines[0]);
	assert_ok(reply, true);
	cJSON_Delete(reply);
}

static void test_malformed_requests_get_bad_request_and_connection_stays_usable(void **state)
{
	struct fixture *f = *state;
	static const char *const sends[] = {"{not json\n",
					    "[1,2]\n",
					    "{\"x\":1}\n",
					    "{\"cmd\":7}\n",
					    "{\"cmd\":\"echo\"} trailing\n",
					    "\n",
					    "{\"cmd\":\"echo\",\"after\":true}\r\n",
					    NULL};
	struct script s = {
	    .path = f->path, .sends = sends, .shutdown_write = true, .lines_wanted = 6};
	int i;

	run_client(f, script_thread, &s);
	assert_int_equal(s.r, 0);
	assert_int_equal(s.lines_got, 6);
	for (i = 0; i < 5; i++) {
		cJSON *reply = parse_object(s.lines[i]);

		assert_error_prefix(reply, "bad request: ");
		cJSON_Delete(reply);
	}
	{
		cJSON *reply = parse_object(s.lines[5]);

		assert_ok(reply, true);
		cJSON_Delete(reply);
	}
	assert_int_equal(f->handled, 1);
}

static void test_over_long_request_gets_too_large_and_connection_closes(void **state)
{
	struct fixture *f = *state;
	char *big = malloc(3 * REQUEST_MAX + 2);
	const char *sends[] = {big, NULL};
	struct script s = {.path = f->path, .sends = sends, .lines_wanted = 1};
	cJSON *reply;

	memset(big, 'a', 3 * REQUEST_MAX);
	memcpy(big, "{\"cmd\":\"echo\",\"pad\":\"", 21);
	strcpy(big + 3 * REQUEST_MAX, "\n");
	run_client(f, script_thread, &s);
	free(big);
	/* The send may fail once the server closed: the reply must still be there. */
	assert_int_equal(s.lines_got, 1);
	reply = parse_object(s.lines[0]);
	assert_error_prefix(reply, "request too large");
	cJSON_Delete(reply);
	if (s.after != 0 && s.after != -ECONNRESET)
		fail_msg("after the error expected EOF (0) or -ECONNRESET, got %zd", s.after);
	assert_int_equal(f->handled, 0);
	wait_no_clients(f);
}

static void test_request_of_exactly_request_max_bytes_is_accepted(void **state)
{
	struct fixture *f = *state;
	char *line = malloc(REQUEST_MAX + 2);
	const char *sends[] = {line, NULL};
	struct script s = {
	    .path = f->path, .sends = sends, .shutdown_write = true, .lines_wanted = 1};
	size_t head = strlen("{\"cmd\":\"fail\",\"pad\":\"");
	cJSON *reply;

	memcpy(line, "{\"cmd\":\"fail\",\"pad\":\"", head);
	memset(line + head, 'b', REQUEST_MAX - head - 2);
	strcpy(line + REQUEST_MAX - 2, "\"}\n");
	assert_int_equal(strlen(line), REQUEST_MAX + 1);
	run_client(f, script_thread, &s);
	free(line);
	assert_int_equal(s.lines_got, 1);
	reply = parse_object(s.lines[0]);
	assert_error_prefix(reply, "failed on purpose");
	cJSON_Delete(reply);
}

/* ---- many clients ---- */

struct many {
	const char *path;
	pthread_barrier_t *barrier;
	int id;
	int good;
	char bad[256];
};

static void *many_thread(void *p)
{
	struct many *m = p;
	int fd = client_connect(m->path), i;
	char line[512], req[128], want[64];

	pthread_barrier_wait(m->barrier); /* all 20 are connected before any sends */
	if (fd < 0) {
		snprintf(m->bad, sizeof(m->bad), "connect: %s", strerror(-fd));
		return NULL;
	}
	for (i = 0; i < 5; i++) {
		snprintf(req, sizeof(req), "{\"cmd\":\"echo\",\"client\":%d,\"n\":%d}\n", m->id, i);
		if (client_send_str(fd, req) < 0 || client_line(fd, line, sizeof(line)) <= 0) {
			snprintf(m->bad, sizeof(m->bad), "request %d: no reply", i);
			break;
		}
		snprintf(want, sizeof(want), "\"client\":%d,\"n\":%d}", m->id, i);
		if (!strstr(line, want)) {
			snprintf(m->bad, sizeof(m->bad), "want %s, got %.120s", want, line);
			break;
		}
		m->good++;
	}
	close(fd);
	return NULL;
}

static void *many_main(void *p)
{
	struct many *ms = p;
	pthread_t t[CLIENTS];
	int i;

	for (i = 0; i < CLIENTS; i++)
		pthread_create(&t[i], NULL, many_thread, &ms[i]);
	for (i = 0; i < CLIENTS; i++)
		pthread_join(t[i], NULL);
	return NULL;
}

static void test_twenty_concurrent_clients_each_get_their_own_replies(void **state)
{
	struct fixture *f = *state;
	struct many ms[CLIENTS];
	pthread_barrier_t barrier;
	int i;

	pthread_barrier_init(&barrier, NULL, CLIENTS);
	for (i = 0; i < CLIENTS; i++)
		ms[i] = (struct many){.path = f->path, .barrier = &barrier, .id = i};
	run_client(f, many_main, ms);
	pthread_barrier_destroy(&barrier);
	for (i = 0; i < CLIENTS; i++) {
		if (ms[i].good != 5)
			fail_msg("client %d: %d of 5 replies right (%s)", i, ms[i].good, ms[i].bad);
	}
	assert_int_equal(f->handled, CLIENTS * 5);
	wait_no_clients(f);
}

/* ---- misbehaving clients ---- */

static void *hangup_thread(void *p)
{
	struct fixture *f = p;
	int fd = client_connect(f->path);

	if (fd >= 0) {
		/* A reply of 2 MiB can not fit the socket buffer: the server is mid-reply
		 * when the client goes away. */
		client_send_str(fd, "{\"cmd\":\"big\",\"size\":2097152}\n{\"cmd\":\"echo\"}\n");
		sleep_ms(50);
		close(fd);
	}
	return NULL;
}

static void test_client_disconnecting_mid_reply_is_cleaned_up(void **state)
{
	struct fixture *f = *state;
	struct call c = {.path = f->path, .request = "{\"cmd\":\"echo\"}", .timeout_ms = 5000};

	run_client(f, hangup_thread, f);
	wait_no_clients(f);
	/* The server is still fine for the next client. */
	run_client(f, call_thread, &c);
	assert_int_equal(c.r, 0);
	assert_ok(c.reply, true);
	cJSON_Delete(c.reply);
}

static void *fire_and_forget_thread(void *p)
{
	struct fixture *f = p;
	int fd = client_connect(f->path);

	if (fd >= 0) {
		client_send_str(fd, "{\"cmd\":\"echo\",\"fire\":1}\n");
		close(fd);
	}
	return NULL;
}

static void test_request_from_client_that_closes_at_once_is_still_handled(void **state)
{
	struct fixture *f = *state;

	run_client(f, fire_and_forget_thread, f);
	wait_no_clients(f);
	assert_int_equal(f->handled, 1);
}

struct slow {
	const char *path;
	int count;
	int got;
	size_t bytes;
};

static void *slow_reader_thread(void *p)
{
	struct slow *s = p;
	int fd = client_connect(s->path), i;
	char *buf = malloc(1 << 20);

	if (fd < 0) {
		free(buf);
		return NULL;
	}
	for (i = 0; i < s->count; i++)
		client_send_str(fd, "{\"cmd\":\"big\",\"size\":500000}\n");
	sleep_ms(200); /* let the server fill its queue and pause */
	while (s->got < s->count) {
		ssize_t n = recv(fd, buf, 1 << 20, 0);
		ssize_t j;

		if (n <= 0)
			break;
		for (j = 0; j < n; j++)
			s->got += buf[j] == '\n';
		s->bytes += (size_t)n;
	}
	close(fd);
	free(buf);
	return NULL;
}

static void test_slow_reader_is_paused_not_dropped(void **state)
{
	struct fixture *f = *state;
	struct slow s = {.path = f->path, .count = 60}; /* 30 MB of replies in all */

	run_client(f, slow_reader_thread, &s);
	assert_int_equal(s.got, s.count);
	assert_true(s.bytes > (size_t)s.count * 500000);
}

static void *huge_thread(void *p)
{
	struct script *s = p;
	int fd = client_connect(s->path);
	char buf[4096];
	size_t total = 0;

	if (fd < 0) {
		s->r = fd;
		return NULL;
	}
	client_send_str(fd, "{\"cmd\":\"big\",\"size\":17825792}\n"); /* 17 MiB */
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n <= 0) {
			s->r = n < 0 ? -errno : 0;
			break;
		}
		total += (size_t)n;
	}
	s->after = (ssize_t)total;
	close(fd);
	return NULL;
}

static void test_client_whose_reply_exceeds_output_cap_is_dropped(void **state)
{
	struct fixture *f = *state;
	struct script s = {.path = f->path};

	run_client(f, huge_thread, &s);
	assert_int_equal(s.r, 0);     /* EOF, not a timeout */
	assert_int_equal(s.after, 0); /* and not one byte of the reply */
	wait_no_clients(f);
}

/* ---- socket file ---- */

static void test_second_open_on_live_socket_fails_with_eaddrinuse(void **state)
{
	struct fixture *f = *state;
	struct control *second = NULL;
	int r = control_open(&second, f->ev, f->path, 0660, REQUEST_MAX, handler, f);
	struct stat st;

	assert_int_equal(r, -EADDRINUSE);
	assert_null(second);
	/* The live daemon's socket is left alone. */
	assert_int_equal(stat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
}

static void test_stale_socket_file_is_replaced(void **state)
{
	struct fixture *f = *state;
	struct control *c = NULL;
	struct call call;
	char path[256];

	snprintf(path, sizeof(path), "%s/stale.sock", f->dir);
	assert_int_equal(make_stale_socket(path), 0);
	assert_int_equal(control_open(&c, f->ev, path, 0600, REQUEST_MAX, handler, f), 0);
	call = (struct call){.path = path, .request = "{\"cmd\":\"echo\"}", .timeout_ms = 5000};
	run_client(f, call_thread, &call);
	assert_int_equal(call.r, 0);
	assert_ok(call.reply, true);
	cJSON_Delete(call.reply);
	control_close(c);
}

static void test_regular_file_at_socket_path_is_not_removed(void **state)
{
	struct fixture *f = *state;
	struct control *c = NULL;
	char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/notasocket", f->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fclose(fp);
	assert_int_equal(control_open(&c, f->ev, path, 0600, REQUEST_MAX, handler, f), -EEXIST);
	assert_int_equal(access(path, F_OK), 0);
}

static void check_mode(struct fixture *f, mode_t mode)
{
	struct control *c = NULL;
	struct stat st;
	char path[256];

	snprintf(path, sizeof(path), "%s/mode%o/control.sock", f->dir, (unsigned)mode);
	assert_int_equal(control_open(&c, f->ev, path, mode, REQUEST_MAX, handler, f), 0);
	assert_int_equal(stat(path, &st), 0);
	if ((st.st_mode & 07777) != mode)
		fail_msg("socket mode %04o, asked for %04o", (unsigned)(st.st_mode & 07777),
			 (unsigned)mode);
	control_close(c);
}

static void test_socket_mode_is_what_was_asked(void **state)
{
	struct fixture *f = *state;

	check_mode(f, 0600);
	check_mode(f, 0660);
	check_mode(f, 0666);
}

static void test_parent_directory_is_created_0755(void **state)
{
	struct fixture *f = *state;
	char dir[256];
	struct stat st;

	/* setup() opened DIR/run/control.sock with DIR/run missing. */
	snprintf(dir, sizeof(dir), "%s/run", f->dir);
	assert_int_equal(stat(dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	/* mkdir honours the umask, so 0755 is the most it can be. */
	if ((st.st_mode & 0777) & ~0755)
		fail_msg("directory mode %04o, expected at most 0755",
			 (unsigned)(st.st_mode & 0777));
}

static void test_close_unlinks_the_socket_and_accepts_null(void **state)
{
	struct fixture *f = *state;
	struct control *c = NULL;
	char path[256];

	snprintf(path, sizeof(path), "%s/gone.sock", f->dir);
	assert_int_equal(control_open(&c, f->ev, path, 0600, REQUEST_MAX, handler, f), 0);
	assert_int_equal(access(path, F_OK), 0);
	control_close(c);
	if (access(path, F_OK) == 0)
		fail_msg("%s still exists after control_close", path);
	control_close(NULL);
}

static void test_close_with_connected_clients_frees_them(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fds[3], i;

	sun_path_set(&sa, f->path);
	for (i = 0; i < 3; i++) {
		fds[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_int_equal(connect(fds[i], (struct sockaddr *)&sa, sizeof(sa)), 0);
		assert_int_equal(send(fds[i], "{\"cmd\":\"ec", 10, MSG_NOSIGNAL), 10);
	}
	for (i = 0; i < 50 && control_client_count(f->ctl) < 3; i++)
		sd_event_run(f->ev, 10000);
	assert_int_equal(control_client_count(f->ctl), 3);
	/* teardown() closes the server with the clients still connected (ASan
	 * checks nothing leaks). */
	for (i = 0; i < 3; i++)
		close(fds[i]);
}

static void test_open_rejects_bad_arguments(void **state)
{
	struct fixture *f = *state;
	struct control *c = NULL;
	char longpath[200];

	memset(longpath, 'p', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(control_open(&c, f->ev, longpath, 0600, REQUEST_MAX, handler, f),
			 -ENAMETOOLONG);
	assert_int_equal(control_open(&c, f->ev, "", 0600, REQUEST_MAX, handler, f), -EINVAL);
	assert_int_equal(control_open(&c, f->ev, f->path, 0600, 0, handler, f), -EINVAL);
	assert_int_equal(control_open(&c, f->ev, f->path, 0600, REQUEST_MAX, NULL, f), -EINVAL);
	assert_null(c);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_call_round_trip_echoes_request_and_adds_ok_true_first),
	    T(test_handler_ok_false_and_error_reach_the_client_unchanged),
	    T(test_call_without_daemon_returns_enoent),
	    T(test_call_to_stale_socket_returns_econnrefused),
	    T(test_call_times_out_when_nobody_answers),
	    T(test_call_reports_eproto_for_a_reply_that_is_not_json),
	    T(test_pipelined_requests_in_one_write_get_replies_in_order),
	    T(test_request_split_across_writes_is_reassembled),
	    T(test_last_request_without_newline_is_handled_at_eof),
	    T(test_malformed_requests_get_bad_request_and_connection_stays_usable),
	    T(test_over_long_request_gets_too_large_and_connection_closes),
	    T(test_request_of_exactly_request_max_bytes_is_accepted),
	    T(test_twenty_concurrent_clients_each_get_their_own_replies),
	    T(test_client_disconnecting_mid_reply_is_cleaned_up),
	    T(test_request_from_client_that_closes_at_once_is_still_handled),
	    T(test_slow_reader_is_paused_not_dropped),
	    T(test_client_whose_reply_exceeds_output_cap_is_dropped),
	    T(test_second_open_on_live_socket_fails_with_eaddrinuse),
	    T(test_stale_socket_file_is_replaced),
	    T(test_regular_file_at_socket_path_is_not_removed),
	    T(test_socket_mode_is_what_was_asked),
	    T(test_parent_directory_is_created_0755),
	    T(test_close_unlinks_the_socket_and_accepts_null),
	    T(test_close_with_connected_clients_frees_them),
	    T(test_open_rejects_bad_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
