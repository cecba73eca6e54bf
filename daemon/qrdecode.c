/* qrdecode.c: the decoder cascade over an engine, and the worker thread.
 *
 * Tuned mode sends each frame through the engine's cascade (qrdecode_engine.h)
 * until one step reads a code. Each step prepares a copy of the frame:
 * downscaled by box averaging (fewer pixels to scan for large codes, and
 * averaging beats sensor noise) or, at full size, optionally through a 2x2 box
 * filter; a downscale that would leave fewer than QRDECODE_MIN_ROWS rows is
 * skipped. A step may cover only the region where a code may be (qrroi.h,
 * looked for once per frame, at the first such step); it is skipped when there
 * is none, or when the region would cost more than the engine's cap, which
 * bounds the worst case (the p99) rather than the typical frame. Every step stretches the contrast from the 1st to the 99th
 * percentile of the histogram, because both libraries binarize better with
 * the full range and low-contrast, washed-out frames otherwise fail. Default
 * mode hands the frame to the engine as it is, once.
 *
 * The worker owns one decoder and one frame buffer. submit() copies into the
 * buffer only when the worker is idle and otherwise drops the frame: the camera
 * keeps producing and the newest frame is worth more than an old one. A read
 * is written to a pipe as one fixed-size record (<= PIPE_BUF, so atomic); when
 * the pipe is full the read is counted as lost, never waited on.
 *
 * Engines are loaded when the first decoder is made with one, not at start:
 * libzbar through zbar_lazy.c, zxing-cpp as the module TS_ZXING_MODULE (the C++
 * shim with libZXing and libstdc++ behind it), dlopen()ed from the directory of
 * the executable. A daemon whose lanes have no camera maps neither (issue 2).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qrdecode.h"
#include "qrdecode_engine.h"
#include "qrroi.h"
#include "zbar_lazy.h"

#define QRDECODE_STEPS_MAX 4

#define QRDECODE_MIN_ROWS 200 /* steps that would leave fewer rows are skipped */

struct qrdecode {
	enum qrdecode_mode mode;
	const struct qrdecode_engine_ops *ops;
	void *engine;
	uint8_t *buf; /* the preprocessed frame */
	size_t buf_size;
	struct qrdecode_step steps[QRDECODE_STEPS_MAX];
	size_t nsteps;
	struct qrroi *roi;
};

#ifdef TS_HAVE_ZXING
static pthread_once_t qrdecode_zxing_once = PTHREAD_ONCE_INIT;
static const struct qrdecode_engine_ops *qrdecode_zxing;
static char qrdecode_zxing_why[PATH_MAX + 128];

/* The module sits next to the executable (the build directory, where the
 * daemon, the tests and the benches run). It stays loaded for good: its ops
 * are in use by any decoder made with it. */
static void qrdecode_zxing_init(void)
{
	char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	char *slash;
	void *mod, *ops;

	if (n < 0) {
		snprintf(qrdecode_zxing_why, sizeof(qrdecode_zxing_why), "/proc/self/exe: %s",
			 strerror(errno));
		return;
	}
	path[n] = '\0';
	slash = strrchr(path, '/');
	if (!slash || (size_t)(slash + 1 - path) + sizeof(TS_ZXING_MODULE) > sizeof(path)) {
		snprintf(qrdecode_zxing_why, sizeof(qrdecode_zxing_why),
			 "cannot place %s next to %s", TS_ZXING_MODULE, path);
		return;
	}
	memcpy(slash + 1, TS_ZXING_MODULE, sizeof(TS_ZXING_MODULE));
	mod = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!mod) {
		snprintf(qrdecode_zxing_why, sizeof(qrdecode_zxing_why), "%s", dlerror());
		return;
	}
	ops = dlsym(mod, "qrdecode_zxing_ops");
	if (!ops || strcmp(((const struct qrdecode_engine_ops *)ops)->name, "zxing") != 0) {
		snprintf(qrdecode_zxing_why, sizeof(qrdecode_zxing_why),
			 "%s: no zxing engine in it", path);
		dlclose(mod);
		return;
	}
	qrdecode_zxing = ops;
}
#endif

/* The engine's ops, its library loaded on first use: 0, -ENOENT for an engine
 * not built in, -ELIBACC with *why when its library cannot be loaded. */
static int qrdecode_engine_get(const char *name, const struct qrdecode_engine_ops **ops,
			       const char **why)
{
	int r;

	if (strcmp(name, "zbar") == 0) {
		r = zbar_lazy_load(why);
		if (r < 0)
			return r;
		*ops = &qrdecode_zbar_ops;
		return 0;
	}
#ifdef TS_HAVE_ZXING
	if (strcmp(name, "zxing") == 0) {
		pthread_once(&qrdecode_zxing_once, qrdecode_zxing_init);
		if (!qrdecode_zxing) {
			*why = qrdecode_zxing_why;
			return -ELIBACC;
		}
		*ops = qrdecode_zxing;
		return 0;
	}
#endif
	*why = "not built in";
	return -ENOENT;
}

bool qrdecode_engine_available(const char *engine)
{
#ifdef TS_HAVE_ZXING
	if (strcmp(engine, "zxing") == 0)
		return true;
#endif
	return strcmp(engine, "zbar") == 0;
}

int qrdecode_engine_load(const char *engine, const char **why)
{
	const struct qrdecode_engine_ops *ops;

	return qrdecode_engine_get(engine, &ops, why);
}

int qrdecode_new(struct qrdecode **out, const char *engine, enum qrdecode_mode mode)
{
	const struct qrdecode_engine_ops *ops;
	const char *why;
	struct qrdecode *q;
	int r;

	*out = NULL;
	r = qrdecode_engine_get(engine, &ops, &why);
	if (r < 0)
		return r;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->mode = mode;
	q->ops = ops;
	q->nsteps = ops->cascade_len;
	memcpy(q->steps, ops->cascade, ops->cascade_len * sizeof(ops->cascade[0]));
	q->engine = ops->create(mode == QRDECODE_TUNED);
	q->roi = qrroi_new();
	if (!q->engine || !q->roi) {
		qrdecode_free(q);
		return -ENOMEM;
	}
	*out = q;
	return 0;
}

int qrdecode_set_cascade(struct qrdecode *q, const char *spec)
{
	struct qrdecode_step steps[QRDECODE_STEPS_MAX];
	size_t n = 0;
	const char *p = spec;

	while (*p) {
		unsigned scale, density;
		int used;

		if (n == QRDECODE_STEPS_MAX ||
		    sscanf(p, "%1u:%1u%n", &scale, &density, &used) != 2 || scale < 1 ||
		    scale > 4 || density < 1 || density > 4)
			return -EINVAL;
		steps[n++] = (struct qrdecode_step){.scale = scale, .density = density};
		p += used;
		if (*p == 's') {
			steps[n - 1].smooth = true;
			p++;
		}
		if (*p == 'r') {
			steps[n - 1].roi = true;
			p++;
		}
		if (*p == ',' && p[1])
			p++;
		else if (*p)
			return -EINVAL;
	}
	if (n == 0 || q->mode != QRDECODE_TUNED)
		return -EINVAL;
	memcpy(q->steps, steps, n * sizeof(steps[0]));
	q->nsteps = n;
	return 0;
}

void qrdecode_free(struct qrdecode *q)
{
	if (!q)
		return;
	q->ops->destroy(q->engine);
	qrroi_free(q->roi);
	free(q->buf);
	free(q);
}
static int qrdecode_reserve(struct qrdecode *q, size_t size)
{
	uint8_t *p;

	if (size <= q->buf_size)
		return 0;
	p = realloc(q->buf, size);
	if (!p)
		return -ENOMEM;
	q->buf = p;
	q->buf_size = size;
	return 0;
}

/* Copies f into q->buf, downscaled by scale, with the contrast stretched. */
static void qrdecode_prepare(struct qrdecode *q, const struct qrdecode_frame *f, unsigned scale,
			     bool smooth, unsigned *w, unsigned *h)
{
	uint32_t hist[256] = {0};
	uint8_t lut[256];
	unsigned ow = f->width / scale, oh = f->height / scale, lo = 0, hi = 255;
	size_t n = (size_t)ow * oh, acc;

	for (unsigned y = 0; y < oh; y++) {
		const uint8_t *s = f->data + (size_t)y * scale * f->stride;
		uint8_t *d = q->buf + (size_t)y * ow;

		if (scale == 2) {
			const uint8_t *s2 = s + f->stride;

			for (unsigned x = 0; x < ow; x++) {
				d[x] = (uint8_t)((s[2 * x] + s[2 * x + 1] + s2[2 * x] +
						  s2[2 * x + 1] + 2) >>
						 2);
				hist[d[x]]++;
			}
		} else if (scale == 1 && smooth) {
			const uint8_t *s2 = y + 1 < oh ? s + f->stride : s;

			for (unsigned x = 0; x < ow; x++) {
				unsigned x2 = x + 1 < ow ? x + 1 : x;

				d[x] = (uint8_t)((s[x] + s[x2] + s2[x] + s2[x2] + 2) >> 2);
				hist[d[x]]++;
			}
		} else if (scale > 2) {
			for (unsigned x = 0; x < ow; x++) {
				unsigned sum = 0;

				for (unsigned j = 0; j < scale; j++)
					for (unsigned i = 0; i < scale; i++)
						sum += s[j * f->stride + x * scale + i];
				d[x] = (uint8_t)(sum / (scale * scale));
				hist[d[x]]++;
			}
		} else {
			memcpy(d, s, ow);
			for (unsigned x = 0; x < ow; x++)
				hist[d[x]]++;
		}
	}
	for (acc = 0; lo < 255 && (acc += hist[lo]) < n / 100;)
		lo++;
	for (acc = 0; hi > 0 && (acc += hist[hi]) < n / 100;)
		hi--;
	*w = ow;
	*h = oh;
	if (hi <= lo + 8 || (lo == 0 && hi == 255))
		return;
	for (unsigned v = 0; v < 256; v++)
		lut[v] = v <= lo ? 0 : v >= hi ? 255 : (uint8_t)((v - lo) * 255 / (hi - lo));
	for (size_t i = 0; i < n; i++)
		q->buf[i] = lut[q->buf[i]];
}

int qrdecode_frame(struct qrdecode *q, const struct qrdecode_frame *f, char *out, size_t outlen)
{
	struct qrroi_rect rect;
	unsigned w, h;
	int r, roi = -1; /* not looked for yet */

	if (!f->data || f->width < 8 || f->height < 8 || f->stride < f->width || outlen < 2 ||
	    f->width > 16384 || f->height > 16384)
		return -EINVAL;
	if (qrdecode_reserve(q, (size_t)f->width * f->height) < 0)
		return -ENOMEM;
	if (q->mode == QRDECODE_DEFAULT) {
		const uint8_t *data = f->data;

		if (f->stride != f->width) {
			for (unsigned y = 0; y < f->height; y++)
				memcpy(q->buf + (size_t)y * f->width, f->data + y * f->stride,
				       f->width);
			data = q->buf;
		}
		return q->ops->scan(q->engine, data, f->width, f->height, 1, out, outlen);
	}
	for (size_t i = 0; i < q->nsteps; i++) {
		const struct qrdecode_step *st = &q->steps[i];
		struct qrdecode_frame sub = *f;

		if (st->scale > 1 && f->height / st->scale < QRDECODE_MIN_ROWS)
			continue;
		if (st->roi) {
			if (roi == -1)
				roi = qrroi_find(q->roi, f->data, f->width, f->height, f->stride,
						 &rect);
			if (roi < 0)
				return roi;
			if (roi == 0 || rect.w / st->scale < 8 || rect.h / st->scale < 8 ||
			    (size_t)(rect.w / st->scale) * (rect.h / st->scale) >
				q->ops->roi_max_pixels)
				continue;
			sub.data = f->data + (size_t)rect.y * f->stride + rect.x;
			sub.width = rect.w;
			sub.height = rect.h;
		}
		qrdecode_prepare(q, &sub, st->scale, st->smooth, &w, &h);
		r = q->ops->scan(q->engine, q->buf, w, h, st->density, out, outlen);
		if (r != 0)
			return r;
	}
	return 0;
}

struct qrdecode_record {
	uint32_t len;
	uint32_t cut; /* the payload was longer than QRDECODE_MAX_LEN */
	char data[QRDECODE_MAX_LEN + 1];
};

_Static_assert(sizeof(struct qrdecode_record) <= PIPE_BUF, "pipe records must be atomic");

struct qrdecode_worker {
	struct qrdecode *dec;
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool busy, stop;
	uint8_t *frame;
	size_t frame_size;
	unsigned width, height;
	int pipe[2];
	uint64_t taken, dropped, read, lost;
};

static void *qrdecode_worker_main(void *arg)
{
	struct qrdecode_worker *w = arg;
	struct qrdecode_record rec = {.len = 0};

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct qrdecode_frame f;
		int r;

		while (!w->busy && !w->stop)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->stop)
			break;
		f = (struct qrdecode_frame){
		    .data = w->frame, .width = w->width, .height = w->height, .stride = w->width};
		pthread_mutex_unlock(&w->lock);
		/* The frame buffer is ours while busy: submit() does not touch it. */
		r = qrdecode_frame(w->dec, &f, rec.data, sizeof(rec.data));
		if (r > 0 || r == -E2BIG) {
			/* r, not strlen: a NUL inside the payload must reach the
			 * caller's checks, not cut the payload down to a valid code */
			rec.len = r > 0 ? (uint32_t)r : (uint32_t)(sizeof(rec.data) - 1);
			rec.cut = r == -E2BIG;
			r = (int)write(w->pipe[1], &rec, sizeof(rec));
		}
		pthread_mutex_lock(&w->lock);
		if (rec.len && r < 0)
			w->lost++;
		else if (rec.len)
			w->read++;
		rec.len = 0;
		w->busy = false;
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int qrdecode_worker_new(struct qrdecode_worker **out, const char *engine, enum qrdecode_mode mode)
{
	struct qrdecode_worker *w = calloc(1, sizeof(*w));
	int r;

	*out = NULL;
	if (!w)
		return -ENOMEM;
	w->pipe[0] = w->pipe[1] = -1;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	r = qrdecode_new(&w->dec, engine, mode);
	if (r < 0)
		goto error;
	if (pipe2(w->pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		r = -errno;
		goto error;
	}
	r = -pthread_create(&w->thread, NULL, qrdecode_worker_main, w);
	if (r < 0)
		goto error;
	w->started = true;
	*out = w;
	return 0;
error:
	qrdecode_worker_free(w);
	return r;
}

void qrdecode_worker_free(struct qrdecode_worker *w)
{
	if (!w)
		return;
	if (w->started) {
		pthread_mutex_lock(&w->lock);
		w->stop = true;
		pthread_cond_signal(&w->cond);
		pthread_mutex_unlock(&w->lock);
		pthread_join(w->thread, NULL);
	}
	for (int i = 0; i < 2; i++)
		if (w->pipe[i] >= 0)
			close(w->pipe[i]);
	qrdecode_free(w->dec);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w->frame);
	free(w);
}

int qrdecode_worker_submit(struct qrdecode_worker *w, const struct qrdecode_frame *f)
{
	size_t size;
	int r = 0;

	if (!f->data || f->width < 8 || f->height < 8 || f->stride < f->width || f->width > 16384 ||
	    f->height > 16384)
		return -EINVAL;
	size = (size_t)f->width * f->height;
	pthread_mutex_lock(&w->lock);
	if (w->busy) {
		w->dropped++;
		r = -EBUSY;
		goto out;
	}
	if (size > w->frame_size) {
		uint8_t *p = realloc(w->frame, size);

		if (!p) {
			r = -ENOMEM;
			goto out;
		}
		w->frame = p;
		w->frame_size = size;
	}
	for (unsigned y = 0; y < f->height; y++)
		memcpy(w->frame + (size_t)y * f->width, f->data + y * f->stride, f->width);
	w->width = f->width;
	w->height = f->height;
	w->busy = true;
	w->taken++;
	pthread_cond_signal(&w->cond);
out:
	pthread_mutex_unlock(&w->lock);
	return r;
}

int qrdecode_worker_fd(const struct qrdecode_worker *w)
{
	return w->pipe[0];
}

int qrdecode_worker_result(struct qrdecode_worker *w, char *out, size_t outlen)
{
	struct qrdecode_record rec;
	ssize_t n;
	size_t len;

	do
		n = read(w->pipe[0], &rec, sizeof(rec));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n != (ssize_t)sizeof(rec) || outlen == 0)
		return -EIO;
	len = rec.len < outlen - 1 ? rec.len : outlen - 1;
	memcpy(out, rec.data, len);
	out[len] = '\0';
	return rec.cut || len < rec.len ? -E2BIG : (int)len;
}

void qrdecode_worker_stats(struct qrdecode_worker *w, uint64_t *taken, uint64_t *dropped,
			   uint64_t *read, uint64_t *lost)
{
	pthread_mutex_lock(&w->lock);
	*taken = w->taken;
	*dropped = w->dropped;
	*read = w->read;
	*lost = w->lost;
	pthread_mutex_unlock(&w->lock);
}
