/* qrdecode.h: QR codes out of 8-bit grey camera frames, with zbar or zxing-cpp.
 *
 * Two layers. struct qrdecode is a synchronous decoder over one engine (a
 * decoding library: "zbar", or "zxing" when built with zxing-cpp) with two
 * modes: QRDECODE_DEFAULT, the library as it comes (all symbologies, full
 * frame, for comparison) and QRDECODE_TUNED, QR only, through a cascade of
 * cheap attempts that stops at the first read. struct qrdecode_worker runs a
 * decoder on its own thread: the caller offers a frame, which is copied and
 * decoded if the worker is idle and dropped (-EBUSY) if it is busy, so a slow
 * decode never builds a queue; payloads come back through a pipe whose read
 * end the caller watches on its event loop. Neither layer logs. An engine's
 * library is loaded when the first decoder is made with it.
 */
#ifndef TS_QRDECODE_H
#define TS_QRDECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QRDECODE_MAX_LEN 1024 /* longer payloads are cut here and flagged */

enum qrdecode_mode { QRDECODE_DEFAULT, QRDECODE_TUNED };

struct qrdecode_frame {
	const uint8_t *data; /* 8-bit grey, row-major */
	unsigned width, height;
	size_t stride; /* bytes from one row to the next, >= width */
};

struct qrdecode;

/* True if the named engine is built in (its library may still fail to load). */
bool qrdecode_engine_available(const char *engine);
/* Loads the engine's library, once per process: 0, -ENOENT for an engine that
 * is not built in, -ELIBACC when its library cannot be loaded; *why then says
 * why (static text). */
int qrdecode_engine_load(const char *engine, const char **why);
/* 0, -ENOENT for an engine that is not built in, -ELIBACC for one that cannot
 * be loaded (qrdecode_engine_load() says why), -ENOMEM. */
int qrdecode_new(struct qrdecode **out, const char *engine, enum qrdecode_mode mode);
/* Accepts NULL. */
void qrdecode_free(struct qrdecode *q);
/* Tuned mode only: replaces the engine's cascade with "SCALE:DENSITY[s][r][,...]"
 * (1..4 each, at most 4 steps; "s": a 2x2 box filter, at scale 1 only; "r":
 * only the region where a code may be, qrroi.h), e.g. "3:1,2:1r,1:1sr". For
 * benchmarks and tuning. 0 or -EINVAL. */
int qrdecode_set_cascade(struct qrdecode *q, const char *spec);
/* Decodes one frame. > 0: the length of the payload copied to out (NUL-terminated,
 * cut to outlen - 1 and -E2BIG if it did not fit); 0: no QR code read; -EINVAL
 * for a bad frame; -ENOMEM. */
int qrdecode_frame(struct qrdecode *q, const struct qrdecode_frame *f, char *out, size_t outlen);

struct qrdecode_worker;

/* 0, -ENOENT (engine not built in), -ELIBACC (not loadable), -ENOMEM, or a
 * negative errno from pipe2/pthread_create. */
int qrdecode_worker_new(struct qrdecode_worker **out, const char *engine, enum qrdecode_mode mode);
/* Stops and joins the thread. Accepts NULL. */
void qrdecode_worker_free(struct qrdecode_worker *w);
/* Offers a frame: 0 taken (copied; the caller keeps its buffer), -EBUSY dropped
 * because a decode is running, -EINVAL bad frame, -ENOMEM. Never blocks on a decode. */
int qrdecode_worker_submit(struct qrdecode_worker *w, const struct qrdecode_frame *f);
/* The fd that becomes readable when a payload is ready (non-blocking, CLOEXEC). */
int qrdecode_worker_fd(const struct qrdecode_worker *w);
/* Takes one payload: > 0 its length (NUL-terminated in out), -EAGAIN none ready,
 * -E2BIG a payload longer than QRDECODE_MAX_LEN or outlen - 1 (out holds its
 * start). The length counts every byte, NULs included. */
int qrdecode_worker_result(struct qrdecode_worker *w, char *out, size_t outlen);
/* Frames taken, frames dropped as busy, payloads read, and payloads lost
 * because the caller did not collect them. */
void qrdecode_worker_stats(struct qrdecode_worker *w, uint64_t *taken, uint64_t *dropped,
			   uint64_t *read, uint64_t *lost);

#endif
