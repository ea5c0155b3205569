// PNG through stb_image (data/image.h).
#include "fuzz/image_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (i2v::fuzz::starts_with(data, size, "\x89PNG\r\n\x1a\n")) i2v::fuzz::decode_as(i2v::ImageFormat::png, data, size);
  return 0;
}
