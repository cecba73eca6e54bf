/* qrdecode_zxing.cpp: the zxing-cpp engine, a thin C++ shim with a C face.
 *
 * Built as the module TS_ZXING_MODULE, not into the daemon: qrdecode.c
 * dlopen()s it when a lane first decodes with zxing, so libZXing and libstdc++
 * are mapped only then. It takes nothing from the executable.
 *
 * The only C++ in the daemon, so it stays small: it fills zxing-cpp's
 * DecodeHints once, wraps the caller's buffer in an ImageView per pass and
 * copies the raw bytes of the first valid result out (no character set
 * conversion: the scanner source checks them as it checks a serial line).
 * No exception crosses into C: bad_alloc becomes -ENOMEM, anything else "no
 * read", which never opens a gate.
 */
#include <cerrno>
#include <cstdlib>
#include <new>

#include <ZXing/ReadBarcode.h>

extern "C" {
#include "qrdecode_engine.h"
}

namespace {

struct qrdecode_zxing {
	ZXing::DecodeHints normal, harder;
};

/* The whole frame downscaled 2x2 (a quarter of the pixels; reads most codes
 * of 30 % of the frame height and more), then the region where a code may be
 * (qrroi.h) at full size through a 2x2 box filter, for small codes. Both
 * without tryHarder, which cost 10-35 % more time here and read nothing more.
 * On make_frames.py's set (seed 7), at 720p: full size without the filter
 * read 82 % against 95 % (sensor noise); a region-only first step was faster
 * on the median (1.5 against 2.2 ms) but missed one code more, so the first
 * step keeps the whole frame as a safety net. */
const qrdecode_step qrdecode_zxing_cascade[] = {
    {2, 2, false, false},
    {1, 2, true, true},
};

void *qrdecode_zxing_create(bool tuned)
{
	auto *z = new (std::nothrow) qrdecode_zxing;

	if (!z)
		return nullptr;
	if (tuned) {
		/* QR codes only; tryRotate turns 1-D scan lines, which QR does not need;
		 * the cascade downscales, so zxing-cpp's own pyramid is off. */
		for (ZXing::DecodeHints *h : {&z->normal, &z->harder})
			h->setFormats(ZXing::BarcodeFormat::QRCode)
			    .setTryRotate(false)
			    .setTryDownscale(false)
			    .setMaxNumberOfSymbols(1);
		z->normal.setTryHarder(false);
		z->harder.setTryHarder(true);
	}
	return z;
}

void qrdecode_zxing_destroy(void *ctx)
{
	delete static_cast<qrdecode_zxing *>(ctx);
}

int qrdecode_zxing_scan(void *ctx, const uint8_t *data, unsigned w, unsigned h, unsigned density,
			char *out, size_t outlen)
{
	auto *z = static_cast<qrdecode_zxing *>(ctx);

	try {
		ZXing::ImageView img(data, static_cast<int>(w), static_cast<int>(h),
				     ZXing::ImageFormat::Lum);
		ZXing::Result res = ZXing::ReadBarcode(img, density > 1 ? z->normal : z->harder);
		const ZXing::ByteArray &bytes = res.bytes();

		if (!res.isValid() || bytes.empty())
			return 0;
		return qrdecode_engine_copy(reinterpret_cast<const char *>(bytes.data()),
					    bytes.size(), out, outlen);
	} catch (const std::bad_alloc &) {
		return -ENOMEM;
	} catch (...) {
		return 0;
	}
}

} // namespace

/* The module's one exported symbol (built with hidden visibility). */
extern "C" __attribute__((visibility("default"))) const qrdecode_engine_ops qrdecode_zxing_ops = {
    "zxing",
    qrdecode_zxing_cascade,
    sizeof(qrdecode_zxing_cascade) / sizeof(qrdecode_zxing_cascade[0]),
    400000, /* about 4 ms here: zxing-cpp costs about a third of zbar a pixel */
    qrdecode_zxing_create,
    qrdecode_zxing_destroy,
    qrdecode_zxing_scan,
};
