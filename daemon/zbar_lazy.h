/* zbar_lazy.h: libzbar, loaded when a lane first decodes with it (zbar_lazy.c). */
#ifndef TS_ZBAR_LAZY_H
#define TS_ZBAR_LAZY_H

/* Loads libzbar once per process: 0, or -ELIBACC with *why saying what failed
 * (static text). Until it succeeds, the zbar calls fail as zbar reports failure. */
int zbar_lazy_load(const char **why);

#endif
