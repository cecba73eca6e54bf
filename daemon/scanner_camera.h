/* scanner_camera.h: the "camera" scanner source (scanner.c's ops table).
 * Built only with zbar (TS_HAVE_CAMERA). */
#ifndef TS_SCANNER_CAMERA_H
#define TS_SCANNER_CAMERA_H

#include "scanner.h"

int scanner_camera_open(void **ctx, sd_event *ev, const struct config_lane *lane,
			const struct scanner_callbacks *cb, void *userdata);
void scanner_camera_close(void *ctx);

#endif
