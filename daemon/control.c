/* control.c: the control socket server (JSON Lines over a Unix stream socket)
 * and the blocking one-shot client used by turnstilectl and the tests.
 *
 * The server owns framing only: it reads bytes into a per-client input buffer
 * (at most request_max + 1 bytes, so a request can never make it grow beyond
 * that), cuts complete lines, parses each with cJSON and hands well-formed
 * requests to one callback that fills in the reply. Replies go to a per-client
 * output queue written with non-blocking send(MSG_NOSIGNAL); EPOLLOUT is
 * armed only while something is queued. A client that does not read is paused
 * (no more requests are handled, no more input is read) while its queue is above
 * CONTROL_OUTPUT_HIGH, so a pipelining client is slowed down rather than dropped;
 * it is dropped only when one reply takes the queue past CONTROL_OUTPUT_MAX.
 *
 * A client is freed in exactly one place (the io callback, or control_close),
 * and every helper that can fail reports it by return value, so no helper ever
 * touches a client that has been freed under it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control.h"

#define CONTROL_READ_CHUNK ((size_t)64 << 10)
#define CONTROL_INPUT_INITIAL ((size_t)4096)
#define CONTROL_ACCEPT_RETRY_US ((uint64_t)100000)
#define CONTROL_REPLY_MAX ((size_t)256 << 20)

struct control_client {
	struct control *ctl;
	int fd;
	sd_event_source *src;
	char *in;
	size_t in_len;
	size_t in_cap;
	size_t in_scanned; /* bytes of in[] already known to hold no '\n' */
	char *out;
	size_t out_off; /* first unsent byte */
	size_t out_len; /* end of queued bytes */
	size_t out_cap;
	bool eof;     /* peer shut down its side: no more input */
	bool closing; /* close once the queued output is sent */
	struct control_client *prev;
	struct control_client *next;
};

struct control {
	sd_event *ev;
	int fd;
	sd_event_source *listen_src;
	sd_event_source *retry_src;
	char *path;
	dev_t dev;
	ino_t ino;
	size_t request_max;
	control_request_fn fn;
	void *userdata;
	struct control_client *clients;
	size_t client_count;
};

static size_t client_pending(const struct control_client *cl)
{
	return cl->out_len - cl->out_off;
}

static void client_free(struct control_client *cl)
{
	struct control *c;

	if (!cl)
		return;
	c = cl->ctl;
	if (cl->prev)
		cl->prev->next = cl->next;
	else if (c->clients == cl)
		c->clients = cl->next;
	if (cl->next)
		cl->next->prev = cl->prev;
	c->client_count--;
	sd_event_source_disable_unref(cl->src);
	if (cl->fd >= 0)
		close(cl->fd);
	free(cl->in);
	free(cl->out);
	free(cl);
}

/* Appends len bytes plus "\n"; -ENOBUFS when the client is over its cap. */
static int client_queue(struct control_client *cl, const char *data, size_t len)
{
	size_t need;

	if (client_pending(cl) + len + 1 > CONTROL_OUTPUT_MAX)
		return -ENOBUFS;
	if (cl->out_off > 0 && cl->out_off == cl->out_len) {
		cl->out_off = 0;
		cl->out_len = 0;
	}
	need = cl->out_len + len + 1;
	if (need > cl->out_cap && cl->out_off > 0) {
		memmove(cl->out, cl->out + cl->out_off, client_pending(cl));
		cl->out_len -= cl->out_off;
		cl->out_off = 0;
		need = cl->out_len + len + 1;
	}
	if (need > cl->out_cap) {
		size_t cap = cl->out_cap ? cl->out_cap : 4096;
		char *p;

		while (cap < need)
			cap *= 2;
		p = realloc(cl->out, cap);
		if (!p)
			return -ENOMEM;
		cl->out = p;
		cl->out_cap = cap;
	}
	memcpy(cl->out + cl->out_len, data, len);
	cl->out[cl->out_len + len] = '\n';
	cl->out_len += len + 1;
	return 0;
}

static int client_queue_error(struct control_client *cl, const char *error)
{
	cJSON *reply = cJSON_CreateObject();
	char *text = NULL;
	int r = -ENOMEM;

	if (reply && cJSON_AddFalseToObject(reply, "ok") &&
	    cJSON_AddStringToObject(reply, "error", error))
		text = cJSON_PrintUnformatted(reply);
	if (text)
		r = client_queue(cl, text, strlen(text));
	free(text);
	cJSON_Delete(reply);
	return r;
}

/* Puts "ok" first, adding "ok":true when the handler did not say. */
static int reply_fix_ok(cJSON *reply)
{
	cJSON *ok = cJSON_GetObjectItemCaseSensitive(reply, "ok");

	if (!ok) {
		ok = cJSON_AddTrueToObject(reply, "ok");
		if (!ok)
			return -ENOMEM;
	}
	if (reply->child == ok)
		return 0;
	/* Detaching keeps the member's name, so it can be re-linked at the front. */
	cJSON_DetachItemViaPointer(reply, ok);
	if (!cJSON_InsertItemInArray(reply, 0, ok)) {
		cJSON_Delete(ok);
		return -ENOMEM;
	}
	return 0;
}

static int client_handle_line(struct control_client *cl, const char *line, size_t len)
{
	struct control *c = cl->ctl;
	const char *end = NULL;
	cJSON *request, *reply, *cmd;
	char *text;
	int r;

	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	if (len == 0)
		return 0;

	/* cJSON's own trailing-garbage check wants a NUL inside len; check by hand. */
	request = cJSON_ParseWithLengthOpts(line, len, &end, false);
	while (request && end < line + len && (*end == ' ' || *end == '\t'))
		end++;
	if (!request || end != line + len) {
		cJSON_Delete(request);
		return client_queue_error(cl, "bad request: not valid JSON");
	}
	if (!cJSON_IsObject(request)) {
		cJSON_Delete(request);
		return client_queue_error(cl, "bad request: not a JSON object");
	}
	cmd = cJSON_GetObjectItemCaseSensitive(request, "cmd");
	if (!cJSON_IsString(cmd) || !cmd->valuestring || !cmd->valuestring[0]) {
		cJSON_Delete(request);
		return client_queue_error(cl, "bad request: no string member \"cmd\"");
	}

	reply = cJSON_CreateObject();
	if (!reply) {
		cJSON_Delete(request);
		return -ENOMEM;
	}
	c->fn(c->userdata, request, reply);
	cJSON_Delete(request);

	r = reply_fix_ok(reply);
	text = r < 0 ? NULL : cJSON_PrintUnformatted(reply);
	cJSON_Delete(reply);
	if (!text)
		return client_queue_error(cl, "out of memory");
	r = client_queue(cl, text, strlen(text));
	free(text);
	return r;
}

static int client_too_large(struct control_client *cl)
{
	cl->in_len = 0;
	cl->in_scanned = 0;
	cl->closing = true;
	return client_queue_error(cl, "request too large");
}

/* Handles complete lines while the client is not paused by unread output. */
static int client_process(struct control_client *cl)
{
	size_t start = 0;
	int r = 0;

	while (!cl->closing && client_pending(cl) < CONTROL_OUTPUT_HIGH) {
		char *nl = memchr(cl->in + cl->in_scanned, '\n', cl->in_len - cl->in_scanned);
		size_t len;

		if (!nl) {
			cl->in_scanned = cl->in_len;
			break;
		}
		len = (size_t)(nl - (cl->in + start));
		if (len > cl->ctl->request_max)
			return client_too_large(cl);
		r = client_handle_line(cl, cl->in + start, len);
		if (r < 0)
			return r;
		start += len + 1;
		cl->in_scanned = start;
	}
	if (cl->closing)
		return 0;
	if (start > 0) {
		memmove(cl->in, cl->in + start, cl->in_len - start);
		cl->in_len -= start;
		cl->in_scanned -= start;
	}
	if (cl->in_scanned == cl->in_len && cl->in_len > cl->ctl->request_max)
		return client_too_large(cl);
	/* A last request without its "\n" still counts once the peer is done. */
	if (cl->eof && cl->in_scanned == cl->in_len && cl->in_len > 0 &&
	    client_pending(cl) < CONTROL_OUTPUT_HIGH) {
		r = client_handle_line(cl, cl->in, cl->in_len);
		cl->in_len = 0;
		cl->in_scanned = 0;
	}
	return r;
}

static int client_flush(struct control_client *cl)
{
	while (client_pending(cl) > 0) {
		ssize_t n = send(cl->fd, cl->out + cl->out_off, client_pending(cl),
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -errno;
		}
		cl->out_off += (size_t)n;
	}
	cl->out_off = 0;
	cl->out_len = 0;
	return 0;
}

static int client_read(struct control_client *cl)
{
	size_t want = cl->ctl->request_max + 1;
	ssize_t n;

	if (cl->in_len == cl->in_cap) {
		size_t cap = cl->in_cap ? cl->in_cap * 2 : CONTROL_INPUT_INITIAL;
		char *p;

		if (cap > want)
			cap = want;
		if (cap <= cl->in_cap)
			return 0; /* full: client_process decides */
		p = realloc(cl->in, cap);
		if (!p)
			return -ENOMEM;
		cl->in = p;
		cl->in_cap = cap;
	}
	want = cl->in_cap - cl->in_len;
	if (want > CONTROL_READ_CHUNK)
		want = CONTROL_READ_CHUNK;
	n = recv(cl->fd, cl->in + cl->in_len, want, MSG_DONTWAIT);
	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		return -errno;
	}
	if (n == 0)
		cl->eof = true;
	cl->in_len += (size_t)n;
	return 0;
}

static bool client_wants_input(const struct control_client *cl)
{
	return !cl->eof && !cl->closing && client_pending(cl) < CONTROL_OUTPUT_HIGH &&
	       cl->in_scanned == cl->in_len;
}

/* Handles what can be handled and sends what can be sent; -ECONNRESET when the
 * client is finished and should be freed. */
static int client_pump(struct control_client *cl)
{
	uint32_t events = 0;
	int r;

	for (;;) {
		size_t before = client_pending(cl);

		r = client_process(cl);
		if (r < 0)
			return r;
		r = client_flush(cl);
		if (r < 0)
			return r;
		/* Lines left over from a pause can be handled once the queue drained. */
		if (cl->closing || cl->in_scanned == cl->in_len ||
		    client_pending(cl) >= CONTROL_OUTPUT_HIGH || client_pending(cl) == before)
			break;
	}

	if (client_wants_input(cl))
		events |= EPOLLIN;
	if (client_pending(cl) > 0)
		events |= EPOLLOUT;
	if (!events) {
		if (cl->closing || cl->eof)
			return -ECONNRESET;
		return 0;
	}
	r = sd_event_source_set_io_events(cl->src, events);
	return r < 0 ? r : 0;
}

static int client_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct control_client *cl = userdata;
	int r = 0;

	if (revents & EPOLLERR) {
		client_free(cl);
		return 0;
	}
	if ((revents & (EPOLLIN | EPOLLHUP)) && client_wants_input(cl))
		r = client_read(cl);
	if (r >= 0)
		r = client_pump(cl);
	if (r < 0)
		client_free(cl);
	return 0;
}

static int control_accept_one(struct control *c)
{
	struct control_client *cl;
	int fd, r;

	fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (c->client_count >= CONTROL_CLIENTS_MAX) {
		close(fd);
		return 0;
	}
	cl = calloc(1, sizeof(*cl));
	if (!cl) {
		close(fd);
		return -ENOMEM;
	}
	cl->ctl = c;
	cl->fd = fd;
	cl->next = c->clients;
	if (c->clients)
		c->clients->prev = cl;
	c->clients = cl;
	c->client_count++;
	r = sd_event_add_io(c->ev, &cl->src, fd, EPOLLIN, client_io, cl);
	if (r < 0) {
		client_free(cl);
		return r;
	}
	return 0;
}

static int control_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct control *c = userdata;

	sd_event_source_set_enabled(c->listen_src, SD_EVENT_ON);
	return 0;
}

static int control_listen_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct control *c = userdata;
	int i, r;

	for (i = 0; i < 16; i++) {
		r = control_accept_one(c);
		if (r == -EAGAIN || r == -EWOULDBLOCK)
			break;
		if (r == -EMFILE || r == -ENFILE || r == -ENOBUFS || r == -ENOMEM) {
			/* Out of descriptors: a level-triggered listener would spin, so
			 * stop accepting for a moment instead. */
			uint64_t now = 0;

			sd_event_now(c->ev, CLOCK_MONOTONIC, &now);
			sd_event_source_set_enabled(c->listen_src, SD_EVENT_OFF);
			if (c->retry_src) {
				sd_event_source_set_time(c->retry_src,
							 now + CONTROL_ACCEPT_RETRY_US);
				sd_event_source_set_enabled(c->retry_src, SD_EVENT_ONESHOT);
			} else if (sd_event_add_time(c->ev, &c->retry_src, CLOCK_MONOTONIC,
						     now + CONTROL_ACCEPT_RETRY_US, 0,
						     control_retry, c) < 0) {
				sd_event_source_set_enabled(c->listen_src, SD_EVENT_ON);
			}
			break;
		}
		/* Other errors (ECONNABORTED, EINTR, ...) concern one connection. */
	}
	return 0;
}

static int sockaddr_fill(struct sockaddr_un *sa, const char *path)
{
	size_t len = strlen(path);

	if (len == 0)
		return -EINVAL;
	if (len >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, path, len + 1);
	return 0;
}

/* mkdir -p of path's parent directory. */
static int mkdir_parent(const char *path)
{
	char dir[PATH_MAX];
	char *slash;
	size_t i, len;

	len = strlen(path);
	if (len >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, path, len + 1);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	len = strlen(dir);
	for (i = 1; i <= len; i++) {
		if (dir[i] != '/' && dir[i] != '\0')
			continue;
		dir[i] = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return -errno;
		if (i < len)
			dir[i] = '/';
	}
	return 0;
}

/* Replaces a socket left behind by a dead daemon; refuses a live one. */
static int remove_stale(const char *path, const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, r;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	r = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	r = r < 0 ? -errno : 0;
	close(fd);
	/* EAGAIN: the listener exists but its backlog is full, so it lives. */
	if (r == 0 || r == -EAGAIN)
		return -EADDRINUSE;
	if (r == -ECONNREFUSED) {
		if (unlink(path) < 0 && errno != ENOENT)
			return -errno;
		return 0;
	}
	if (r == -ENOENT)
		return 0;
	return r;
}

int control_open(struct control **out, sd_event *ev, const char *path, mode_t mode,
		 size_t request_max, control_request_fn fn, void *userdata)
{
	struct sockaddr_un sa;
	struct control *c;
	struct stat st;
	int r;

	if (!out || !ev || !path || !fn || request_max == 0 || request_max >= SIZE_MAX / 2)
		return -EINVAL;
	*out = NULL;
	r = sockaddr_fill(&sa, path);
	if (r < 0)
		return r;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fd = -1;
	c->request_max = request_max;
	c->fn = fn;
	c->userdata = userdata;
	c->ev = sd_event_ref(ev);

	r = mkdir_parent(path);
	if (r < 0)
		goto error;
	r = remove_stale(path, &sa);
	if (r < 0)
		goto error;
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0) {
		r = -errno;
		goto error;
	}
	if (bind(c->fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		goto error;
	}
	c->path = strdup(path);
	if (!c->path) {
		unlink(path);
		r = -ENOMEM;
		goto error;
	}
	/* From here on control_close() unlinks, so remember what we created. */
	if (lstat(path, &st) < 0) {
		r = -errno;
		unlink(path);
		free(c->path);
		c->path = NULL;
		goto error;
	}
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	if (chmod(path, mode) < 0 || listen(c->fd, SOMAXCONN) < 0) {
		r = -errno;
		goto error;
	}
	r = sd_event_add_io(ev, &c->listen_src, c->fd, EPOLLIN, control_listen_io, c);
	if (r < 0)
		goto error;
	*out = c;
	return 0;

error:
	control_close(c);
	return r;
}

void control_close(struct control *c)
{
	struct stat st;

	if (!c)
		return;
	while (c->clients)
		client_free(c->clients);
	sd_event_source_disable_unref(c->listen_src);
	sd_event_source_disable_unref(c->retry_src);
	if (c->fd >= 0)
		close(c->fd);
	/* Only remove our own socket: another daemon may have replaced it. */
	if (c->path && lstat(c->path, &st) == 0 && st.st_dev == c->dev && st.st_ino == c->ino)
		unlink(c->path);
	free(c->path);
	sd_event_unref(c->ev);
	free(c);
}

size_t control_client_count(const struct control *c)
{
	return c ? c->client_count : 0;
}

/* ---- client side ---- */

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until deadline (-1: forever). */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = {.fd = fd, .events = events};

	for (;;) {
		int timeout = -1, n;

		if (deadline >= 0) {
			int64_t left = deadline - mono_ms();

			if (left <= 0)
				return -ETIMEDOUT;
			timeout = left > INT_MAX ? INT_MAX : (int)left;
		}
		n = poll(&pfd, 1, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ETIMEDOUT;
		return 0;
	}
}

static int call_connect(int fd, const struct sockaddr_un *sa, int64_t deadline)
{
	/* A non-blocking AF_UNIX connect fails with EAGAIN while the listener's
	 * backlog is full; it never returns EINPROGRESS. Retry until the deadline. */
	for (;;) {
		int r;

		if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
			return 0;
		r = -errno;
		if (r == -EINTR)
			continue;
		if (r != -EAGAIN)
			return r;
		if (deadline >= 0 && mono_ms() >= deadline)
			return -ETIMEDOUT;
		poll(NULL, 0, 10);
	}
}

static int call_send(int fd, const char *data, size_t len, int64_t deadline)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = send(fd, data + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		int r;

		if (n >= 0) {
			off += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		r = wait_fd(fd, POLLOUT, deadline);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Reads one line; *line is NUL-terminated without its "\n". */
static int call_recv_line(int fd, char **line, size_t *len, int64_t deadline)
{
	char *buf = NULL;
	size_t used = 0, cap = 0;
	int r;

	for (;;) {
		ssize_t n;
		char *nl;

		if (cap - used < 4096) {
			size_t ncap = cap ? cap * 2 : 16384;
			char *p;

			if (ncap > CONTROL_REPLY_MAX + 1) {
				r = -EPROTO;
				goto fail;
			}
			p = realloc(buf, ncap);
			if (!p) {
				r = -ENOMEM;
				goto fail;
			}
			buf = p;
			cap = ncap;
		}
		n = recv(fd, buf + used, cap - used - 1, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				r = -errno;
				goto fail;
			}
			r = wait_fd(fd, POLLIN, deadline);
			if (r < 0)
				goto fail;
			continue;
		}
		if (n == 0) {
			r = used ? -EPROTO : -ECONNRESET;
			goto fail;
		}
		nl = memchr(buf + used, '\n', (size_t)n);
		used += (size_t)n;
		if (nl) {
			*nl = '\0';
			*len = (size_t)(nl - buf);
			*line = buf;
			return 0;
		}
	}
fail:
	free(buf);
	return r;
}

int control_call(const char *path, const cJSON *request, cJSON **reply, int timeout_ms)
{
	int64_t deadline = timeout_ms < 0 ? -1 : mono_ms() + timeout_ms;
	struct sockaddr_un sa;
	char *text = NULL, *line = NULL;
	size_t len = 0;
	cJSON *json;
	int fd = -1, r;

	if (!path || !request || !reply)
		return -EINVAL;
	*reply = NULL;
	r = sockaddr_fill(&sa, path);
	if (r < 0)
		return r;
	text = cJSON_PrintUnformatted(request);
	if (!text)
		return -ENOMEM;
	/* The line is the framing: a request must not contain one. */
	if (strchr(text, '\n')) {
		r = -EINVAL;
		goto out;
	}
	len = strlen(text);
	text[len] = '\n'; /* cJSON's buffer is exactly len + 1: reuse the NUL slot */

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	r = call_connect(fd, &sa, deadline);
	if (r < 0)
		goto out;
	r = call_send(fd, text, len + 1, deadline);
	/* EPIPE/ECONNRESET: the daemon may have answered and closed (too large). */
	if (r < 0 && r != -EPIPE && r != -ECONNRESET)
		goto out;
	r = call_recv_line(fd, &line, &len, deadline);
	if (r < 0)
		goto out;
	json = cJSON_ParseWithLength(line, len);
	if (!cJSON_IsObject(json)) {
		cJSON_Delete(json);
		r = -EPROTO;
		goto out;
	}
	*reply = json;
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	free(text);
	free(line);
	return r;
}
