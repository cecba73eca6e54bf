/* curl_lazy.c: libcurl, loaded the first time the daemon calls it.
 *
 * Linking libcurl costs turnstiled about 4 MB of resident memory before it does
 * anything (libcurl's own dependencies: GnuTLS and p11-kit run constructors,
 * Kerberos, LDAP, SSH, RTMP libraries are mapped and relocated). Only the
 * Gosuslugi verifier needs it, and only once a portal link is scanned, so the
 * daemon is not linked against libcurl: this file defines the part of the libcurl
 * API the tree uses (curl.h's own prototypes) and forwards every call to the real
 * library, which it dlopen()s on the first call. This is systemd's way with its
 * optional libraries (dlopen + dlsym table).
 *
 * When libcurl cannot be loaded, every call fails the way libcurl reports failure
 * (CURLE_FAILED_INIT, CURLM_INTERNAL_ERROR, NULL handles), so a check ends as
 * "unavailable": fail closed.
 *
 * The variadic setters are forwarded by option type, the way libcurl itself reads
 * them: below CURLOPTTYPE_OBJECTPOINT a long, then a data pointer, a function
 * pointer, a curl_off_t, and a blob pointer.
 */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#define CURL_LAZY_SONAME "libcurl.so.4"

typedef void (*curl_lazy_fn)(void);

static struct {
	CURLcode (*global_init)(long);
	void (*global_cleanup)(void);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	CURLcode (*easy_perform)(CURL *);
	const char *(*easy_strerror)(CURLcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_cleanup)(CURLM *);
	CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
	CURLMcode (*multi_add_handle)(CURLM *, CURL *);
	CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
	CURLMcode (*multi_assign)(CURLM *, curl_socket_t, void *);
	CURLMcode (*multi_socket_action)(CURLM *, curl_socket_t, int, int *);
	CURLMsg *(*multi_info_read)(CURLM *, int *);
} curl_fn;

static pthread_once_t curl_lazy_once = PTHREAD_ONCE_INIT;
static bool curl_lazy_ok;

/* dlsym() hands back an object pointer; POSIX guarantees it converts to the
 * function's type, which memcpy says without a cast between the two kinds. */
static bool curl_lazy_sym(void *lib, const char *name, void *slot, size_t size)
{
	void *p = dlsym(lib, name);

	if (!p || size != sizeof(p))
		return false;
	memcpy(slot, &p, size);
	return true;
}

#define SYM(field, name) curl_lazy_sym(lib, name, &curl_fn.field, sizeof(curl_fn.field))

static void curl_lazy_load(void)
{
	void *lib = dlopen(CURL_LAZY_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (!lib)
		return;
	if (SYM(global_init, "curl_global_init") && SYM(global_cleanup, "curl_global_cleanup") &&
	    SYM(easy_init, "curl_easy_init") && SYM(easy_cleanup, "curl_easy_cleanup") &&
	    SYM(easy_setopt, "curl_easy_setopt") && SYM(easy_getinfo, "curl_easy_getinfo") &&
	    SYM(easy_perform, "curl_easy_perform") && SYM(easy_strerror, "curl_easy_strerror") &&
	    SYM(slist_append, "curl_slist_append") &&
	    SYM(slist_free_all, "curl_slist_free_all") && SYM(multi_init, "curl_multi_init") &&
	    SYM(multi_cleanup, "curl_multi_cleanup") && SYM(multi_setopt, "curl_multi_setopt") &&
	    SYM(multi_add_handle, "curl_multi_add_handle") &&
	    SYM(multi_remove_handle, "curl_multi_remove_handle") &&
	    SYM(multi_assign, "curl_multi_assign") &&
	    SYM(multi_socket_action, "curl_multi_socket_action") &&
	    SYM(multi_info_read, "curl_multi_info_read")) {
		curl_lazy_ok = true;
		return;
	}
	/* A libcurl without one of these is not the one we were built for. */
	dlclose(lib);
}

static bool curl_lazy(void)
{
	pthread_once(&curl_lazy_once, curl_lazy_load);
	return curl_lazy_ok;
}

CURLcode curl_global_init(long flags)
{
	return curl_lazy() ? curl_fn.global_init(flags) : CURLE_FAILED_INIT;
}

void curl_global_cleanup(void)
{
	if (curl_lazy())
		curl_fn.global_cleanup();
}

CURL *curl_easy_init(void)
{
	return curl_lazy() ? curl_fn.easy_init() : NULL;
}

void curl_easy_cleanup(CURL *curl)
{
	if (curl && curl_lazy())
		curl_fn.easy_cleanup(curl);
}

CURLcode curl_easy_perform(CURL *curl)
{
	return curl_lazy() ? curl_fn.easy_perform(curl) : CURLE_FAILED_INIT;
}

const char *curl_easy_strerror(CURLcode code)
{
	return curl_lazy() ? curl_fn.easy_strerror(code) : "libcurl could not be loaded";
}

CURLcode curl_easy_setopt(CURL *curl, CURLoption option, ...)
{
	CURLcode rc;
	va_list ap;

	if (!curl_lazy())
		return CURLE_FAILED_INIT;
	va_start(ap, option);
	if (option < CURLOPTTYPE_OBJECTPOINT)
		rc = curl_fn.easy_setopt(curl, option, va_arg(ap, long));
	else if (option < CURLOPTTYPE_FUNCTIONPOINT)
		rc = curl_fn.easy_setopt(curl, option, va_arg(ap, void *));
	else if (option < CURLOPTTYPE_OFF_T)
		rc = curl_fn.easy_setopt(curl, option, va_arg(ap, curl_lazy_fn));
	else if (option < CURLOPTTYPE_BLOB)
		rc = curl_fn.easy_setopt(curl, option, va_arg(ap, curl_off_t));
	else
		rc = curl_fn.easy_setopt(curl, option, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

CURLcode curl_easy_getinfo(CURL *curl, CURLINFO info, ...)
{
	CURLcode rc;
	va_list ap;

	if (!curl_lazy())
		return CURLE_FAILED_INIT;
	/* Every CURLINFO takes a pointer to where the answer goes. */
	va_start(ap, info);
	rc = curl_fn.easy_getinfo(curl, info, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

struct curl_slist *curl_slist_append(struct curl_slist *list, const char *data)
{
	return curl_lazy() ? curl_fn.slist_append(list, data) : NULL;
}

void curl_slist_free_all(struct curl_slist *list)
{
	if (list && curl_lazy())
		curl_fn.slist_free_all(list);
}

CURLM *curl_multi_init(void)
{
	return curl_lazy() ? curl_fn.multi_init() : NULL;
}

CURLMcode curl_multi_cleanup(CURLM *multi)
{
	return curl_lazy() ? curl_fn.multi_cleanup(multi) : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_setopt(CURLM *multi, CURLMoption option, ...)
{
	CURLMcode rc;
	va_list ap;

	if (!curl_lazy())
		return CURLM_INTERNAL_ERROR;
	va_start(ap, option);
	if (option < CURLOPTTYPE_OBJECTPOINT)
		rc = curl_fn.multi_setopt(multi, option, va_arg(ap, long));
	else if (option < CURLOPTTYPE_FUNCTIONPOINT)
		rc = curl_fn.multi_setopt(multi, option, va_arg(ap, void *));
	else if (option < CURLOPTTYPE_OFF_T)
		rc = curl_fn.multi_setopt(multi, option, va_arg(ap, curl_lazy_fn));
	else
		rc = curl_fn.multi_setopt(multi, option, va_arg(ap, curl_off_t));
	va_end(ap);
	return rc;
}

CURLMcode curl_multi_add_handle(CURLM *multi, CURL *curl)
{
	return curl_lazy() ? curl_fn.multi_add_handle(multi, curl) : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_remove_handle(CURLM *multi, CURL *curl)
{
	return curl_lazy() ? curl_fn.multi_remove_handle(multi, curl) : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_assign(CURLM *multi, curl_socket_t fd, void *p)
{
	return curl_lazy() ? curl_fn.multi_assign(multi, fd, p) : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_socket_action(CURLM *multi, curl_socket_t fd, int ev_bitmask,
				   int *running)
{
	return curl_lazy() ? curl_fn.multi_socket_action(multi, fd, ev_bitmask, running)
			   : CURLM_INTERNAL_ERROR;
}

CURLMsg *curl_multi_info_read(CURLM *multi, int *msgs_in_queue)
{
	return curl_lazy() ? curl_fn.multi_info_read(multi, msgs_in_queue) : NULL;
}
