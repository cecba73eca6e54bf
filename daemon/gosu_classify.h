/* gosu_classify.h: Gosuslugi certificate QR payloads: accept, extract, or call forged.
 *
 * Pure: no I/O, no logging. See gosu_classify.c for the design and
 * ../shared/spec/gosuslugi.md sections 2 and 3 for the reference.
 */
#ifndef TS_GOSU_CLASSIFY_H
#define TS_GOSU_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>

#define GOSU_PAYLOAD_MAX 512  /* longer trimmed payloads are never certificates */
#define GOSU_TEMPLATE_MAX 160 /* endpoint template, including the NUL */

enum gosu_form {
	GOSU_FORM_STATUS_UUID,	/* A: /covid-cert/status/<uuid>[?lang=ru|en] */
	GOSU_FORM_VERIFY_UNRZ,	/* B: /covid-cert/verify/<16 digits>?lang=..&ck=<32 hex> */
	GOSU_FORM_VACCINE_UUID, /* C: /vaccine/cert/verify/<uuid> */
	GOSU_FORM_VACCINE_UNRZ, /* /vaccine/cert/verify/unrz/<16 digits>, only when allowed */
};

enum gosu_class {
	GOSU_CLASS_CERT,    /* one of the accepted forms; code filled in */
	GOSU_CLASS_FORGED,  /* imitates a certificate link but deviates; *why says how */
	GOSU_CLASS_UNKNOWN, /* does not look like a certificate link at all */
};

struct gosu_code {
	enum gosu_form form;
	char id[37];  /* uuid (A, C) or 16-digit register number (B, unrz form) */
	char ck[33];  /* check key, B only, else "" */
	char lang[3]; /* "ru"/"en" as given in the QR (A optional, B always), else "" */
};

/* Compiles the spec's regexes into static storage. gosu_classify() calls it
 * lazily, but the daemon should call it once at start-up so that an allocation
 * failure is reported there. Not thread-safe; 0 or negative errno. */
int gosu_classify_init(void);
void gosu_classify_free(void);

/* Classifies a scanned payload (len bytes, need not be NUL-terminated). One
 * trailing CR and/or LF is stripped first. code (may be NULL) is filled only for
 * GOSU_CLASS_CERT and zeroed otherwise. why (may be NULL) gets a short static
 * English reason for GOSU_CLASS_FORGED, "" otherwise. allow_unrz_form enables
 * the fourth form, which the spec has seen only in page code. */
enum gosu_class gosu_classify(const char *payload, size_t len, bool allow_unrz_form,
			      struct gosu_code *code, const char **why);

/* Endpoint path templates, appended by the client to the configured base URL
 * (never to the QR's host). "{id}" is replaced by the validated id and "{ck}" by
 * the check key. Templates are configuration; see gosu_endpoints_validate(). */
struct gosu_endpoints {
	char status[GOSU_TEMPLATE_MAX];		 /* form A */
	char status_fallback[GOSU_TEMPLATE_MAX]; /* form A, items[] shape; "" = off */
	char check[GOSU_TEMPLATE_MAX];		 /* form B, needs {id} and {ck} */
	char vaccine[GOSU_TEMPLATE_MAX];	 /* form C */
	char vaccine_unrz[GOSU_TEMPLATE_MAX];	 /* fourth form */
};

#define GOSU_EP_STATUS_V3 "/api/covid-cert-checker/v3/cert/status/{id}"
#define GOSU_EP_STATUS_V2 "/api/covid-cert/v2/cert/status/{id}?lang=ru"
#define GOSU_EP_CHECK_V3 "/api/covid-cert/v3/cert/check/{id}?lang=ru&ck={ck}"
#define GOSU_EP_CHECK_V4 "/api/covid-cert/v4/cert/check/{id}?lang=ru&ck={ck}"
#define GOSU_EP_VACCINE_V1 "/api/vaccine/v1/cert/verify/{id}"
#define GOSU_EP_VACCINE_UNRZ_V1 "/api/vaccine/v1/cert/verify/unrz/{id}" /* [U] guessed */

/* Fills ep with the spec's defaults (status v3, no fallback, check v3, v1). */
void gosu_endpoints_defaults(struct gosu_endpoints *ep);

/* Checks every non-empty template (status_fallback may be empty): starts with
 * '/', plain URL characters only, exactly one {id}, {ck} exactly once in check
 * and nowhere else. 0 or -EINVAL with *why (may be NULL) naming the field. */
int gosu_endpoints_validate(const struct gosu_endpoints *ep, const char **why);

/* Expands one template for code (id and ck checked again against the form's
 * format). 0, -EINVAL (bad template or code), -ENOSPC (out too small). */
int gosu_api_path_from(const char *tmpl, const struct gosu_code *code, char *out, size_t outlen);

/* The primary request path for code: the template of its form. Same returns. */
int gosu_api_path(const struct gosu_code *code, const struct gosu_endpoints *ep, char *out,
		  size_t outlen);

#endif /* TS_GOSU_CLASSIFY_H */
