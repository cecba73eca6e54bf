/* zbar_lazy.c: libzbar, loaded the first time a lane decodes with it.
 *
 * libzbar drags in its video and window support whether or not it is used:
 * libX11, libxcb, libv4l2/libv4lconvert, libjpeg and their relatives, about
 * 0.9 MB of resident library pages in a daemon that may have no camera at all
 * (issue 2: idle RSS). So the daemon is not linked against libzbar: this file
 * defines the part of the zbar API that qrdecode_zbar.c uses (zbar.h's own
 * prototypes) and forwards every call to the real library, dlopen()ed by
 * zbar_lazy_load(), as curl_lazy.c does for libcurl. qrdecode.c calls it when
 * a decoder is created, so a lane without a camera never maps libzbar.
 *
 * Before a successful load every call fails the way zbar reports failure (NULL
 * objects, no symbols read, scan errors), so nothing is ever decoded: fail closed.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <zbar.h>

#include "zbar_lazy.h"

#define ZBAR_LAZY_SONAME "libzbar.so.0"

static struct {
	zbar_image_scanner_t *(*image_scanner_create)(void);
	void (*image_scanner_destroy)(zbar_image_scanner_t *);
	int (*image_scanner_set_config)(zbar_image_scanner_t *, zbar_symbol_type_t, zbar_config_t,
					int);
	int (*scan_image)(zbar_image_scanner_t *, zbar_image_t *);
	zbar_image_t *(*image_create)(void);
	void (*image_destroy)(zbar_image_t *);
	void (*image_set_format)(zbar_image_t *, unsigned long);
	void (*image_set_size)(zbar_image_t *, unsigned, unsigned);
	void (*image_set_data)(zbar_image_t *, const void *, unsigned long,
			       zbar_image_cleanup_handler_t *);
	const zbar_symbol_t *(*image_first_symbol)(const zbar_image_t *);
	const zbar_symbol_t *(*symbol_next)(const zbar_symbol_t *);
	zbar_symbol_type_t (*symbol_get_type)(const zbar_symbol_t *);
	const char *(*symbol_get_data)(const zbar_symbol_t *);
	unsigned int (*symbol_get_data_length)(const zbar_symbol_t *);
} zbar_fn;

static pthread_once_t zbar_lazy_once = PTHREAD_ONCE_INIT;
static bool zbar_lazy_ok;
static char zbar_lazy_why[256];

/* dlsym() hands back an object pointer; POSIX guarantees it converts to the
 * function's type, which memcpy says without a cast between the two kinds. */
static bool zbar_lazy_sym(void *lib, const char *name, void *slot, size_t size)
{
	void *p = dlsym(lib, name);

	if (!p || size != sizeof(p)) {
		snprintf(zbar_lazy_why, sizeof(zbar_lazy_why), "%s: no symbol %s", ZBAR_LAZY_SONAME,
			 name);
		return false;
	}
	memcpy(slot, &p, size);
	return true;
}

#define SYM(field) zbar_lazy_sym(lib, "zbar_" #field, &zbar_fn.field, sizeof(zbar_fn.field))

static void zbar_lazy_init(void)
{
	void *lib = dlopen(ZBAR_LAZY_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (!lib) {
		snprintf(zbar_lazy_why, sizeof(zbar_lazy_why), "%s", dlerror());
		return;
	}
	if (SYM(image_scanner_create) && SYM(image_scanner_destroy) &&
	    SYM(image_scanner_set_config) && SYM(scan_image) && SYM(image_create) &&
	    SYM(image_destroy) && SYM(image_set_format) && SYM(image_set_size) &&
	    SYM(image_set_data) && SYM(image_first_symbol) && SYM(symbol_next) &&
	    SYM(symbol_get_type) && SYM(symbol_get_data) && SYM(symbol_get_data_length)) {
		zbar_lazy_ok = true;
		return;
	}
	/* A libzbar without one of these is not the one we were built for. */
	dlclose(lib);
}

static bool zbar_lazy(void)
{
	pthread_once(&zbar_lazy_once, zbar_lazy_init);
	return zbar_lazy_ok;
}

int zbar_lazy_load(const char **why)
{
	if (zbar_lazy())
		return 0;
	*why = zbar_lazy_why;
	return -ELIBACC;
}

zbar_image_scanner_t *zbar_image_scanner_create(void)
{
	return zbar_lazy() ? zbar_fn.image_scanner_create() : NULL;
}

void zbar_image_scanner_destroy(zbar_image_scanner_t *scanner)
{
	if (scanner && zbar_lazy())
		zbar_fn.image_scanner_destroy(scanner);
}

int zbar_image_scanner_set_config(zbar_image_scanner_t *scanner, zbar_symbol_type_t symbology,
				  zbar_config_t config, int value)
{
	return zbar_lazy() ? zbar_fn.image_scanner_set_config(scanner, symbology, config, value)
			   : 1;
}

int zbar_scan_image(zbar_image_scanner_t *scanner, zbar_image_t *image)
{
	return zbar_lazy() ? zbar_fn.scan_image(scanner, image) : -1;
}

zbar_image_t *zbar_image_create(void)
{
	return zbar_lazy() ? zbar_fn.image_create() : NULL;
}

void zbar_image_destroy(zbar_image_t *image)
{
	if (image && zbar_lazy())
		zbar_fn.image_destroy(image);
}

void zbar_image_set_format(zbar_image_t *image, unsigned long format)
{
	if (zbar_lazy())
		zbar_fn.image_set_format(image, format);
}

void zbar_image_set_size(zbar_image_t *image, unsigned width, unsigned height)
{
	if (zbar_lazy())
		zbar_fn.image_set_size(image, width, height);
}

void zbar_image_set_data(zbar_image_t *image, const void *data, unsigned long data_byte_length,
			 zbar_image_cleanup_handler_t *cleanup_hndlr)
{
	if (zbar_lazy())
		zbar_fn.image_set_data(image, data, data_byte_length, cleanup_hndlr);
}

const zbar_symbol_t *zbar_image_first_symbol(const zbar_image_t *image)
{
	return zbar_lazy() ? zbar_fn.image_first_symbol(image) : NULL;
}

const zbar_symbol_t *zbar_symbol_next(const zbar_symbol_t *symbol)
{
	return zbar_lazy() ? zbar_fn.symbol_next(symbol) : NULL;
}

zbar_symbol_type_t zbar_symbol_get_type(const zbar_symbol_t *symbol)
{
	return zbar_lazy() ? zbar_fn.symbol_get_type(symbol) : ZBAR_NONE;
}

const char *zbar_symbol_get_data(const zbar_symbol_t *symbol)
{
	return zbar_lazy() ? zbar_fn.symbol_get_data(symbol) : NULL;
}

unsigned int zbar_symbol_get_data_length(const zbar_symbol_t *symbol)
{
	return zbar_lazy() ? zbar_fn.symbol_get_data_length(symbol) : 0;
}
