/* io_gpio.h: the `gpio` IO backend (libgpiod 1.6). Built only when libgpiod is
 * found (TS_HAVE_GPIOD). */
#ifndef TS_IO_GPIO_H
#define TS_IO_GPIO_H

#include "io.h"

extern const struct io_backend_ops io_gpio_ops;

#endif
