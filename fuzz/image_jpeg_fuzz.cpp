// JPEG through libjpeg-turbo (data/image.h).
#include "fuzz/image_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (i2v::fuzz::starts_with(data, size, "\xFF\xD8\xFF")) i2v::fuzz::decode_as(i2v::ImageFormat::jpeg, data, size);
  return 0;
}
