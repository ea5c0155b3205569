// WebP through libwebp and libwebpdemux (data/image.h). Debian's libwebp is not instrumented, so
// the fuzzer steers by our side of the calls (headers, limits, the first frame, compositing);
// AddressSanitizer still sees every read and write of our buffers.
#include "fuzz/image_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (i2v::fuzz::starts_with(data, size, "RIFF")) i2v::fuzz::decode_as(i2v::ImageFormat::webp, data, size);
  return 0;
}
