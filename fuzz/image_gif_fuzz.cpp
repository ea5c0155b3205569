// GIF (the first frame) through stb_image (data/image.h).
#include "fuzz/image_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace i2v::fuzz;
  if (starts_with(data, size, "GIF87a") || starts_with(data, size, "GIF89a")) decode_as(i2v::ImageFormat::gif, data, size);
  return 0;
}
