/* gosu_client.c: the portal check over libcurl's multi interface (see gosu_client.h).
 *
 * Loop glue: libcurl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION:
 * one sd-event io source per socket, kept in a list so nothing leaks if curl
 * forgets to say REMOVE) and when to wake it (CURLMOPT_TIMERFUNCTION: one
 * sd-event timer). Both handlers call curl_multi_socket_action() and then reap
 * finished transfers; user callbacks run only while reaping, never inside a
 * curl callback, so they may start or cancel checks freely.
 *
 * Fail closed: TLS peer and host verification are always on, https is the only
 * protocol, redirects are not followed (a 3xx is "unavailable"), the body is
 * capped in the write callback, and anything but a parsed answer is
 * GOSU_UNAVAILABLE. CURLOPT_CAINFO replaces the default CA bundle with
 * libcurl's OpenSSL backend, so ca_file is the whole trust store when set.
 */
#include "gosu_client.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#define CLIENT_URL_MAX 512

struct client_sock {
	struct client_sock *next;
	struct gosu_client *client;
	curl_socket_t fd;
	sd_event_source *src;
};

struct gosu_check {
	struct gosu_check *prev, *next;
	struct gosu_client *client;
	CURL *easy;
	struct gosu_code code;
	bool fallback_tried;
	gosu_client_done_fn done;
	void *userdata;
	char *body;
	size_t len, cap;
	bool too_large;
};

struct gosu_client {
	sd_event *ev;
	CURLM *multi;
	sd_event_source *timer;
	struct curl_slist *headers;
	struct client_sock *socks;
	struct gosu_check *checks;
	size_t in_flight;
	char base_url[256];
	char ca_file[4096];
	uint32_t connect_timeout_ms, timeout_ms;
	struct gosu_endpoints ep;
	bool curl_inited;
};

static void client_reap(struct gosu_client *c);

static int client_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct client_sock *cs = userdata;
	struct gosu_client *c = cs->client;
	int action = 0, running = 0;

	if (revents & EPOLLIN)
		action |= CURL_CSELECT_IN;
	if (revents & EPOLLOUT)
		action |= CURL_CSELECT_OUT;
	if (revents & (EPOLLERR | EPOLLHUP))
		action |= CURL_CSELECT_ERR;
	/* cs may be freed inside: curl can drop the socket during this call. */
	curl_multi_socket_action(c->multi, fd, action, &running);
	client_reap(c);
	return 0;
}

static int client_on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct gosu_client *c = userdata;
	int running = 0;

	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	client_reap(c);
	return 0;
}

static void client_sock_drop(struct gosu_client *c, struct client_sock *cs)
{
	for (struct client_sock **p = &c->socks; *p; p = &(*p)->next) {
		if (*p == cs) {
			*p = cs->next;
			break;
		}
	}
	sd_event_source_disable_unref(cs->src);
	free(cs);
}

static int client_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct gosu_client *c = userp;
	struct client_sock *cs = socketp;
	uint32_t events = 0;
	int r;

	if (what == CURL_POLL_REMOVE) {
		if (cs) {
			curl_multi_assign(c->multi, fd, NULL);
			client_sock_drop(c, cs);
		}
		return 0;
	}
	if (what & CURL_POLL_IN)
		events |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		events |= EPOLLOUT;
	if (cs) {
		r = sd_event_source_set_io_events(cs->src, events);
		return r < 0 ? -1 : 0;
	}
	cs = calloc(1, sizeof(*cs));
	if (!cs)
		return -1;
	cs->client = c;
	cs->fd = fd;
	r = sd_event_add_io(c->ev, &cs->src, fd, events, client_on_io, cs);
	if (r < 0) {
		free(cs);
		return -1;
	}
	cs->next = c->socks;
	c->socks = cs;
	curl_multi_assign(c->multi, fd, cs);
	return 0;
}

static int client_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct gosu_client *c = userp;
	uint64_t now;
	int r;

	if (timeout_ms < 0)
		return sd_event_source_set_enabled(c->timer, SD_EVENT_OFF) < 0 ? -1 : 0;
	r = sd_event_now(c->ev, CLOCK_MONOTONIC, &now);
	if (r < 0)
		return -1;
	r = sd_event_source_set_time(c->timer, now + (uint64_t)timeout_ms * 1000u);
	if (r >= 0)
		r = sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT);
	return r < 0 ? -1 : 0;
}

static size_t client_write_cb(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct gosu_check *chk = userdata;
	size_t n = size * nmemb;

	if (n > GOSU_BODY_MAX - chk->len) {
		chk->too_large = true;
		return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
	}
	if (chk->len + n + 1 > chk->cap) {
		size_t cap = chk->cap ? chk->cap : 16384;
		char *p;

		while (cap < chk->len + n + 1)
			cap *= 2;
		if (cap > GOSU_BODY_MAX + 1)
			cap = GOSU_BODY_MAX + 1;
		p = realloc(chk->body, cap);
		if (!p)
			return 0;
		chk->body = p;
		chk->cap = cap;
	}
	memcpy(chk->body + chk->len, data, n);
	chk->len += n;
	chk->body[chk->len] = '\0';
	return n;
}

/* Points the easy handle at tmpl expanded for the check's code and adds it to the multi. */
static int client_start(struct gosu_check *chk, const char *tmpl)
{
	struct gosu_client *c = chk->client;
	char path[CLIENT_URL_MAX], url[CLIENT_URL_MAX];
	int r;

	r = gosu_api_path_from(tmpl, &chk->code, path, sizeof(path));
	if (r < 0)
		return r;
	if ((size_t)snprintf(url, sizeof(url), "%s%s", c->base_url, path) >= sizeof(url))
		return -ENOSPC;
	chk->len = 0;
	chk->too_large = false;
	if (curl_easy_setopt(chk->easy, CURLOPT_URL, url) != CURLE_OK)
		return -EIO;
	if (curl_multi_add_handle(c->multi, chk->easy) != CURLM_OK)
		return -EIO;
	return 0;
}

static int client_easy_setup(struct gosu_check *chk)
{
	struct gosu_client *c = chk->client;
	CURL *e = chk->easy;
	CURLcode rc = CURLE_OK;

#define SET(opt, val)                                                                              \
	do {                                                                                       \
		if (rc == CURLE_OK)                                                                \
			rc = curl_easy_setopt(e, opt, val);                                        \
	} while (0)
	SET(CURLOPT_PRIVATE, chk);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_PROTOCOLS_STR, "https");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->ca_file[0])
		SET(CURLOPT_CAINFO, c->ca_file);
	SET(CURLOPT_CONNECTTIMEOUT_MS, (long)c->connect_timeout_ms);
	SET(CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
	SET(CURLOPT_MAXFILESIZE, (long)GOSU_BODY_MAX);
	SET(CURLOPT_USERAGENT, "turnstiled/" TS_VERSION);
	SET(CURLOPT_HTTPHEADER, c->headers);
	SET(CURLOPT_HTTPGET, 1L);
	SET(CURLOPT_WRITEFUNCTION, client_write_cb);
	SET(CURLOPT_WRITEDATA, chk);
#undef SET
	return rc == CURLE_OK ? 0 : -EIO;
}

static void client_unlink(struct gosu_check *chk)
{
	struct gosu_client *c = chk->client;

	if (chk->prev)
		chk->prev->next = chk->next;
	else
		c->checks = chk->next;
	if (chk->next)
		chk->next->prev = chk->prev;
	c->in_flight--;
}

static void client_check_free(struct gosu_check *chk)
{
	curl_multi_remove_handle(chk->client->multi, chk->easy);
	curl_easy_cleanup(chk->easy);
	free(chk->body);
	free(chk);
}

static void unavailable(struct gosu_result *res, const char *reason)
{
	memset(res, 0, sizeof(*res));
	res->verdict = GOSU_UNAVAILABLE;
	snprintf(res->reason, sizeof(res->reason), "%s", reason);
}

static void client_judge(struct gosu_check *chk, CURLcode code, struct gosu_result *res)
{
	long status = 0;
	struct tm today;
	time_t now = time(NULL);

	if (chk->too_large || code == CURLE_FILESIZE_EXCEEDED) {
		unavailable(res, "answer too large");
		return;
	}
	switch (code) {
	case CURLE_OK:
		break;
	case CURLE_OPERATION_TIMEDOUT:
		unavailable(res, "portal did not answer in time");
		return;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
		unavailable(res, "TLS verification of the portal failed");
		return;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
		unavailable(res, "cannot connect to the portal");
		return;
	default: {
		char why[96];

		snprintf(why, sizeof(why), "portal unreachable: %s", curl_easy_strerror(code));
		unavailable(res, why);
		return;
	}
	}
	curl_easy_getinfo(chk->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 300 && status < 400) {
		char why[64];

		snprintf(why, sizeof(why), "portal redirected (%ld), not followed", status);
		unavailable(res, why);
		return;
	}
	localtime_r(&now, &today);
	if (gosu_parse(chk->code.form, status, chk->body ? chk->body : "", chk->len, &today, res) <
	    0)
		unavailable(res, "cannot read the answer");
}

static void client_reap(struct gosu_client *c)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(c->multi, &left))) {
		struct gosu_check *chk = NULL;
		struct gosu_result res;
		gosu_client_done_fn done;
		void *userdata;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&chk);
		if (!chk)
			continue;
		client_judge(chk, msg->data.result, &res);
		curl_multi_remove_handle(c->multi, chk->easy);
		/* The items[] fallback for the new form, when configured and the primary did not know. */
		if (chk->code.form == GOSU_FORM_STATUS_UUID && c->ep.status_fallback[0] &&
		    !chk->fallback_tried &&
		    (res.verdict == GOSU_NOT_FOUND || res.verdict == GOSU_UNAVAILABLE)) {
			chk->fallback_tried = true;
			if (client_start(chk, c->ep.status_fallback) == 0)
				continue;
		}
		done = chk->done;
		userdata = chk->userdata;
		client_unlink(chk);
		client_check_free(chk);
		done(&res, userdata);
	}
}

/* libcurl is loaded (curl_lazy.c) and set up at the first check, not at start: a
 * daemon that never sees a portal link never maps it. */
static int client_curl_start(struct gosu_client *c)
{
	if (c->multi)
		return 0;
	if (!c->curl_inited) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return -EIO;
		c->curl_inited = true;
	}
	if (!c->headers) {
		c->headers = curl_slist_append(NULL, "Accept: application/json");
		if (!c->headers)
			return -ENOMEM;
	}
	c->multi = curl_multi_init();
	if (!c->multi)
		return -ENOMEM;
	if (curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, client_socket_cb) != CURLM_OK ||
	    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c) != CURLM_OK ||
	    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, client_timer_cb) != CURLM_OK ||
	    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c) != CURLM_OK) {
		curl_multi_cleanup(c->multi);
		c->multi = NULL;
		return -EIO;
	}
	return 0;
}

int gosu_client_new(struct gosu_client **out, sd_event *ev, const struct gosu_client_config *cfg)
{
	struct gosu_client *c;
	size_t n;
	int r = -EINVAL;

	if (!out || !ev || !cfg || !cfg->base_url || strncmp(cfg->base_url, "https://", 8) != 0)
		return -EINVAL;
	if (gosu_endpoints_validate(&cfg->endpoints, NULL) < 0)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	n = strlen(cfg->base_url);
	while (n > 8 && cfg->base_url[n - 1] == '/')
		n--;
	if (n >= sizeof(c->base_url) ||
	    (cfg->ca_file && strlen(cfg->ca_file) >= sizeof(c->ca_file)))
		goto error;
	memcpy(c->base_url, cfg->base_url, n);
	if (cfg->ca_file)
		snprintf(c->ca_file, sizeof(c->ca_file), "%s", cfg->ca_file);
	c->connect_timeout_ms = cfg->connect_timeout_ms;
	c->timeout_ms = cfg->timeout_ms;
	c->ep = cfg->endpoints;
	c->ev = sd_event_ref(ev);

	/* Accuracy 1 us: curl asks for 0 ms wake-ups at every step of a request, and
	 * sd-event's coalescing window (1 ms here before) added ~0.8 ms to each check. */
	r = sd_event_add_time(ev, &c->timer, CLOCK_MONOTONIC, UINT64_MAX, 1, client_on_timer, c);
	if (r < 0)
		goto error;
	sd_event_source_set_enabled(c->timer, SD_EVENT_OFF);
	*out = c;
	return 0;
error:
	gosu_client_free(c);
	return r;
}

void gosu_client_free(struct gosu_client *c)
{
	if (!c)
		return;
	while (c->checks) {
		struct gosu_check *chk = c->checks;

		client_unlink(chk);
		client_check_free(chk);
	}
	if (c->multi)
		curl_multi_cleanup(c->multi);
	while (c->socks)
		client_sock_drop(c, c->socks);
	sd_event_source_disable_unref(c->timer);
	curl_slist_free_all(c->headers);
	if (c->curl_inited)
		curl_global_cleanup();
	sd_event_unref(c->ev);
	free(c);
}

int gosu_client_check(struct gosu_client *c, const struct gosu_code *code,
		      gosu_client_done_fn done, void *userdata, struct gosu_check **out)
{
	struct gosu_check *chk;
	char path[CLIENT_URL_MAX];
	int r;

	if (!c || !code || !done)
		return -EINVAL;
	/* Validates the code against its form before anything is allocated. */
	r = gosu_api_path(code, &c->ep, path, sizeof(path));
	if (r < 0)
		return r;
	r = client_curl_start(c);
	if (r < 0)
		return r;
	chk = calloc(1, sizeof(*chk));
	if (!chk)
		return -ENOMEM;
	chk->client = c;
	chk->code = *code;
	chk->done = done;
	chk->userdata = userdata;
	chk->easy = curl_easy_init();
	if (!chk->easy) {
		free(chk);
		return -ENOMEM;
	}
	r = client_easy_setup(chk);
	if (r == 0) {
		const char *tmpl = NULL;

		switch (code->form) {
		case GOSU_FORM_STATUS_UUID:
			tmpl = c->ep.status;
			break;
		case GOSU_FORM_VERIFY_UNRZ:
			tmpl = c->ep.check;
			break;
		case GOSU_FORM_VACCINE_UUID:
			tmpl = c->ep.vaccine;
			break;
		case GOSU_FORM_VACCINE_UNRZ:
			tmpl = c->ep.vaccine_unrz;
			break;
		}
		r = tmpl ? client_start(chk, tmpl) : -EINVAL;
	}
	if (r < 0) {
		client_check_free(chk);
		return r;
	}
	chk->next = c->checks;
	if (c->checks)
		c->checks->prev = chk;
	c->checks = chk;
	c->in_flight++;
	if (out)
		*out = chk;
	return 0;
}

void gosu_client_cancel(struct gosu_check *chk)
{
	if (!chk)
		return;
	client_unlink(chk);
	client_check_free(chk);
}

size_t gosu_client_in_flight(const struct gosu_client *c)
{
	return c ? c->in_flight : 0;
}
