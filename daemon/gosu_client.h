/* gosu_client.h: asks the Gosuslugi portal about a classified certificate code.
 *
 * libcurl's multi interface on the daemon's sd-event loop: many checks in
 * flight, none blocks. The API URL is the configured base URL plus the path of
 * the code's form (gosu_api_path()); the QR's own host is never used. The
 * answer is judged by gosu_parse() and delivered through a callback; every
 * transport failure (TLS, timeout, redirect, oversized body, ...) arrives as
 * GOSU_UNAVAILABLE with a short reason. Bodies are never logged (this module
 * does not log at all).
 */
#ifndef TS_GOSU_CLIENT_H
#define TS_GOSU_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "gosu_classify.h"
#include "gosu_parse.h"

struct gosu_client_config {
	const char *base_url;	     /* "https://host[:port]", no path; a trailing '/' is dropped */
	const char *ca_file;	     /* NULL or "": the system trust store; else replaces it */
	uint32_t connect_timeout_ms; /* TCP + TLS handshake */
	uint32_t timeout_ms;	     /* the whole request */
	struct gosu_endpoints endpoints; /* status_fallback "" = no v2 fallback */
};

struct gosu_client;
struct gosu_check;

/* Called once per check that was neither cancelled nor freed with the client.
 * The check handle is already gone when this runs. */
typedef void (*gosu_client_done_fn)(const struct gosu_result *res, void *userdata);

/* 0, -EINVAL (bad config: base URL not https, endpoint templates), -ENOMEM. */
int gosu_client_new(struct gosu_client **out, sd_event *ev, const struct gosu_client_config *cfg);
/* Cancels every check without calling back. Accepts NULL. */
void gosu_client_free(struct gosu_client *c);

/* Starts a check of code. *out (may be NULL) gets a handle valid until done is
 * called or the check is cancelled. 0, -EINVAL (bad code), -ENOMEM, -EIO (curl). */
int gosu_client_check(struct gosu_client *c, const struct gosu_code *code,
		      gosu_client_done_fn done, void *userdata, struct gosu_check **out);
/* Stops a check in flight; done is not called. Accepts NULL. */
void gosu_client_cancel(struct gosu_check *check);

size_t gosu_client_in_flight(const struct gosu_client *c);

#endif /* TS_GOSU_CLIENT_H */
