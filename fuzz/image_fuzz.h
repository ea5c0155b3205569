// What the image decoders' targets share: one format's bytes decoded as i2v decodes pictures
// (data/image.h): the header, then the pixels at full size and, for JPEG, at a DCT scale.
#pragma once

#include <cstring>

#include "data/image.h"
#include "fuzz/fuzz_input.h"

namespace i2v::fuzz {

// Far below the 50 MP of real use, so that each input decodes in milliseconds; the checks are
// the same at any limit.
constexpr int64_t kFuzzMaxPixels = 1'000'000;

inline bool starts_with(const uint8_t* data, size_t size, const char* magic) {
  return size >= std::strlen(magic) && std::memcmp(data, magic, std::strlen(magic)) == 0;
}

// Decodes `data` when it starts as `format` does (the other formats have their own targets).
inline void decode_as(ImageFormat format, const uint8_t* data, size_t size) {
  const std::string name = "fuzz-picture";
  expect_clean_error(name, [&] {
    const ImageHeader header = read_image_header(data, size, name, kFuzzMaxPixels);
    if (header.format != format) finding("read_image_header names another format", image_format_name(header.format));
    DecodeOptions options;
    options.max_pixels = kFuzzMaxPixels;
    for (int min_size : {0, 16}) {
      options.min_width = options.min_height = min_size;
      const Image image = decode_image(data, size, name, options);
      if (image.width <= 0 || image.height <= 0 || image.rgb.size() != size_t(image.width) * size_t(image.height) * 3)
        finding("a decoded image without pixels or of the wrong size", "");
      if (format != ImageFormat::jpeg && format != ImageFormat::webp) break;  // only these decode at a scale
      if (min_size == 0 && (image.width != header.width || image.height != header.height))
        finding("the pixels are not the header's size", "");
    }
  });
}

}  // namespace i2v::fuzz
