/* test_gosu_client.c: the portal client's contract, without a portal.
 *
 * What gosu_client promises apart from HTTP (which the integration tests cover
 * against the fake portal: paths, headers, body cap, redirects, TLS): bad
 * configurations and bad codes are refused up front; every check that is
 * neither cancelled nor freed calls back exactly once, as GOSU_UNAVAILABLE when
 * nothing answers; a cancelled or freed check never calls back. The peers are
 * loopback sockets: a closed port (connection refused) and a listener that
 * never accepts (the TCP connect completes, the TLS handshake never does).
 */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <systemd/sd-event.h>

#include "gosu_client.h"

#define UUID "00000000-0000-4000-8000-000000000001"

struct calls {
	int n;
	struct gosu_result last;
};

static void on_done(const struct gosu_result *res, void *userdata)
{
	struct calls *c = userdata;

	c->n++;
	c->last = *res;
}

/* A loopback TCP socket bound to a free port; listening or not. */
static int loopback(bool listening, unsigned *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	if (listening)
		assert_int_equal(listen(fd, 16), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static struct gosu_client_config config(const char *base_url)
{
	struct gosu_client_config cfg = {.base_url = base_url,
					 .ca_file = "",
					 .connect_timeout_ms = 3000,
					 .timeout_ms = 8000};

	gosu_endpoints_defaults(&cfg.endpoints);
	return cfg;
}

static struct gosu_code code_a(void)
{
	struct gosu_code code = {.form = GOSU_FORM_STATUS_UUID};

	memcpy(code.id, UUID, sizeof(UUID));
	return code;
}

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Runs the loop until calls->n reaches want or limit_ms of wall time pass. */
static void run_until(sd_event *ev, struct calls *calls, int want, unsigned limit_ms)
{
	uint64_t end = mono_us() + (uint64_t)limit_ms * 1000;

	do
		assert_true(sd_event_run(ev, 20000) >= 0);
	while (calls->n < want && mono_us() < end);
}

static void bad_configurations_are_refused(void **state)
{
	char long_url[400], long_path[5000];
	struct gosu_client_config cfg;
	struct gosu_client *c = NULL;
	sd_event *ev;

	(void)state;
	assert_int_equal(sd_event_new(&ev), 0);
	cfg = config("http://127.0.0.1:1");
	assert_int_equal(gosu_client_new(&c, ev, &cfg), -EINVAL);
	cfg = config("ftp://127.0.0.1:1");
	assert_int_equal(gosu_client_new(&c, ev, &cfg), -EINVAL);
	cfg = config(NULL);
	assert_int_equal(gosu_client_new(&c, ev, &cfg), -EINVAL);
	cfg = config("https://127.0.0.1:1");
	assert_int_equal(gosu_client_new(NULL, ev, &cfg), -EINVAL);
	assert_int_equal(gosu_client_new(&c, NULL, &cfg), -EINVAL);
	strcpy(cfg.endpoints.status, "//evil.example/{id}");
	assert_int_equal(gosu_client_new(&c, ev, &cfg), -EINVAL);
	memset(long_url, 'a', sizeof(long_url) - 1);
	long_url[sizeof(long_url) - 1] = '\0';
	memcpy(long_url, "https://", 8);
	cfg = config(long_url);
	assert_int_equal(gosu_client_new(&c, ev, &cfg), -EINVAL);
	memset(long_path, 'p', sizeof(long_path) - 1);
	long_path[sizeof(long_path) - 1] = '\0';
	cfg = config("https://127.0.0.1:1");
	cfg.ca_file = long_path;
	assert_int_equal(gosu_client_new(&c, ev, &cfg), -EINVAL);
	assert_null(c);
	/* a trailing slash of the base is fine */
	cfg = config("https://127.0.0.1:1//");
	assert_int_equal(gosu_client_new(&c, ev, &cfg), 0);
	gosu_client_free(c);
	gosu_client_free(NULL);
	sd_event_unref(ev);
}

static void a_code_that_does_not_fit_its_form_is_refused_before_any_request(void **state)
{
	struct gosu_client_config cfg = config("https://127.0.0.1:1");
	struct gosu_client *c;
	struct gosu_code code = code_a();
	struct calls calls = {0};
	struct gosu_check *chk = NULL;
	sd_event *ev;

	(void)state;
	assert_int_equal(sd_event_new(&ev), 0);
	assert_int_equal(gosu_client_new(&c, ev, &cfg), 0);
	code.id[3] = '/';
	assert_int_equal(gosu_client_check(c, &code, on_done, &calls, &chk), -EINVAL);
	code = code_a();
	code.form = GOSU_FORM_VERIFY_UNRZ; /* a uuid is no register number, and no ck */
	assert_int_equal(gosu_client_check(c, &code, on_done, &calls, &chk), -EINVAL);
	code = code_a();
	assert_int_equal(gosu_client_check(c, &code, NULL, &calls, &chk), -EINVAL);
	assert_int_equal(gosu_client_check(NULL, &code, on_done, &calls, &chk), -EINVAL);
	assert_null(chk);
	assert_int_equal(gosu_client_in_flight(c), 0);
	run_until(ev, &calls, 1, 50);
	assert_int_equal(calls.n, 0);
	gosu_client_free(c);
	sd_event_unref(ev);
}

static void connection_refused_calls_back_once_as_unavailable(void **state)
{
	char url[64];
	unsigned port;
	int fd = loopback(false, &port); /* bound, not listening: connect is refused */
	struct gosu_client_config cfg;
	struct gosu_client *c;
	struct gosu_code code = code_a();
	struct calls calls = {0};
	sd_event *ev;

	(void)state;
	snprintf(url, sizeof(url), "https://127.0.0.1:%u", port);
	cfg = config(url);
	assert_int_equal(sd_event_new(&ev), 0);
	assert_int_equal(gosu_client_new(&c, ev, &cfg), 0);
	assert_int_equal(gosu_client_check(c, &code, on_done, &calls, NULL), 0);
	assert_int_equal(gosu_client_in_flight(c), 1);
	assert_int_equal(calls.n, 0); /* never from inside gosu_client_check */
	run_until(ev, &calls, 1, 10000);
	assert_int_equal(calls.n, 1);
	assert_int_equal(calls.last.verdict, GOSU_UNAVAILABLE);
	assert_string_equal(calls.last.reason, "cannot connect to the portal");
	assert_string_equal(calls.last.initials, "");
	assert_int_equal(gosu_client_in_flight(c), 0);
	run_until(ev, &calls, 2, 100);
	assert_int_equal(calls.n, 1);
	gosu_client_free(c);
	sd_event_unref(ev);
	close(fd);
}

static void silent_portal_is_unavailable_at_the_deadline(void **state)
{
	char url[64];
	unsigned port;
	int fd = loopback(true, &port); /* listens, never accepts, never answers */
	struct gosu_client_config cfg;
	struct gosu_client *c;
	struct gosu_code code = code_a();
	struct calls calls = {0};
	sd_event *ev;

	(void)state;
	snprintf(url, sizeof(url), "https://127.0.0.1:%u", port);
	cfg = config(url);
	cfg.connect_timeout_ms = 300;
	cfg.timeout_ms = 500;
	assert_int_equal(sd_event_new(&ev), 0);
	assert_int_equal(gosu_client_new(&c, ev, &cfg), 0);
	assert_int_equal(gosu_client_check(c, &code, on_done, &calls, NULL), 0);
	run_until(ev, &calls, 1, 10000);
	assert_int_equal(calls.n, 1);
	assert_int_equal(calls.last.verdict, GOSU_UNAVAILABLE);
	assert_string_equal(calls.last.reason, "portal did not answer in time");
	gosu_client_free(c);
	sd_event_unref(ev);
	close(fd);
}

static void cancelled_and_freed_checks_never_call_back(void **state)
{
	char url[64];
	unsigned port;
	int fd = loopback(true, &port);
	struct gosu_client_config cfg;
	struct gosu_client *c;
	struct gosu_code code = code_a();
	struct calls calls = {0};
	struct gosu_check *chk[3];
	sd_event *ev;

	(void)state;
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/", port);
	cfg = config(url);
	cfg.connect_timeout_ms = 300;
	cfg.timeout_ms = 500;
	assert_int_equal(sd_event_new(&ev), 0);
	assert_int_equal(gosu_client_new(&c, ev, &cfg), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(gosu_client_check(c, &code, on_done, &calls, &chk[i]), 0);
	assert_int_equal(gosu_client_in_flight(c), 3);
	/* Callbacks run only from the loop, so all three are still in flight here. */
	gosu_client_cancel(chk[1]);
	gosu_client_cancel(NULL);
	assert_int_equal(gosu_client_in_flight(c), 2);
	/* the two left time out and call back; the cancelled one stays silent */
	run_until(ev, &calls, 2, 10000);
	run_until(ev, &calls, 3, 200);
	assert_int_equal(calls.n, 2);
	assert_int_equal(gosu_client_in_flight(c), 0);
	gosu_client_free(c);

	/* With connections under way (deadlines far off): cancel one, free the client
	 * with two in flight. No call back, nothing leaks (ASan). */
	calls.n = 0;
	cfg.connect_timeout_ms = 20000;
	cfg.timeout_ms = 30000;
	assert_int_equal(gosu_client_new(&c, ev, &cfg), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(gosu_client_check(c, &code, on_done, &calls, &chk[i]), 0);
	run_until(ev, &calls, 1, 100);
	assert_int_equal(calls.n, 0);
	gosu_client_cancel(chk[0]);
	run_until(ev, &calls, 1, 50);
	gosu_client_free(c);
	run_until(ev, &calls, 1, 100);
	assert_int_equal(calls.n, 0);
	sd_event_unref(ev);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(bad_configurations_are_refused),
	    cmocka_unit_test(a_code_that_does_not_fit_its_form_is_refused_before_any_request),
	    cmocka_unit_test(connection_refused_calls_back_once_as_unavailable),
	    cmocka_unit_test(silent_portal_is_unavailable_at_the_deadline),
	    cmocka_unit_test(cancelled_and_freed_checks_never_call_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
