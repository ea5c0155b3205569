#include "data/image.h"

#include <algorithm>
#include <cctype>
#include <climits>
#include <cmath>
#include <cstring>
#include <memory>

#include <stb_image.h>
#include <stb_image_write.h>
#include <turbojpeg.h>
#include <webp/decode.h>
#include <webp/demux.h>

#include "base/atomic_file.h"
#include "base/file.h"
#include "base/text.h"
#include "data/data_error.h"

namespace i2v {

const char* image_format_name(ImageFormat format) {
  switch (format) {
    case ImageFormat::jpeg: return "JPEG";
    case ImageFormat::png: return "PNG";
    case ImageFormat::gif: return "GIF";
    case ImageFormat::bmp: return "BMP";
    case ImageFormat::webp: return "WebP";
  }
  return "?";
}

bool is_image_extension(const std::string& extension) {
  const std::string name = to_lower(!extension.empty() && extension[0] == '.' ? extension.substr(1) : extension);
  return name == "jpg" || name == "jpeg" || name == "png" || name == "gif" || name == "bmp" || name == "webp";
}

namespace {

bool starts_with(const uint8_t* data, size_t size, const char* magic, size_t offset = 0) {
  const size_t n = std::strlen(magic);
  return size >= offset + n && std::memcmp(data + offset, magic, n) == 0;
}

// The format from the magic bytes; for formats we do not decode, a name for the message.
ImageFormat detect_format(const uint8_t* data, size_t size, const std::string& name) {
  if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) return ImageFormat::jpeg;
  if (starts_with(data, size, "\x89PNG\r\n\x1a\n")) return ImageFormat::png;
  if (starts_with(data, size, "GIF87a") || starts_with(data, size, "GIF89a")) return ImageFormat::gif;
  if (starts_with(data, size, "BM")) return ImageFormat::bmp;
  if (starts_with(data, size, "RIFF") && starts_with(data, size, "WEBP", 8)) return ImageFormat::webp;
  std::string what;
  if (starts_with(data, size, "ftyp", 4)) what = "ISO media (AVIF, HEIC or MP4)";
  else if (starts_with(data, size, "\x1a\x45\xdf\xa3")) what = "Matroska/WebM video";
  else if (starts_with(data, size, "PK\x03\x04")) what = "zip archive";
  else if (starts_with(data, size, "FWS") || starts_with(data, size, "CWS") || starts_with(data, size, "ZWS")) what = "Flash";
  else if (starts_with(data, size, "II*") || starts_with(data, size, "MM")) what = "TIFF";
  else if (starts_with(data, size, "8BPS")) what = "Photoshop";
  else if (starts_with(data, size, "%PDF")) what = "PDF";
  else {
    what = "unknown, first bytes";
    for (size_t i = 0; i < std::min<size_t>(size, 8); ++i) what += fmt::format(" {:02x}", data[i]);
  }
  I2V_DATA_ERROR(DataProblem::unsupported_format, "{}: unsupported image format ({}): only JPEG, PNG, GIF, BMP and WebP are read",
                 name, what);
}

// One TurboJPEG decompressor per thread (a handle is not safe to share between threads).
struct Decompressor {
  tjhandle handle = tjInitDecompress();
  ~Decompressor() {
    if (handle) tjDestroy(handle);
  }
};

std::unique_ptr<Decompressor>& thread_decompressor_slot() {
  thread_local std::unique_ptr<Decompressor> slot;
  return slot;
}

tjhandle thread_decompressor() {
  std::unique_ptr<Decompressor>& slot = thread_decompressor_slot();
  if (!slot) slot = std::make_unique<Decompressor>();
  I2V_CHECK(slot->handle != nullptr, "cannot create a JPEG decompressor: {}", tjGetErrorStr2(nullptr));
  return slot->handle;
}

// A JPEG the decoder rejects is truncated when its data runs out ("Premature end") or when it
// lacks the end-of-image marker (cut before the decoder even found the image data).
[[noreturn]] void throw_jpeg_error(const std::string& reason, const uint8_t* data, size_t size, const std::string& name) {
  // After an error a TurboJPEG handle can be left mid-stream and fail the next, valid, file.
  thread_decompressor_slot().reset();
  const bool ends_with_eoi = size >= 2 && data[size - 2] == 0xFF && data[size - 1] == 0xD9;
  const DataProblem problem = reason.find("Premature end") != std::string::npos || !ends_with_eoi
                                  ? DataProblem::truncated_image
                                  : DataProblem::corrupt_image;
  I2V_DATA_ERROR(problem, "{}: {} JPEG: {}", name, problem == DataProblem::truncated_image ? "truncated" : "corrupt",
                 reason);
}

void check_pixels(const ImageHeader& header, int64_t max_pixels, const std::string& name) {
  if (header.width <= 0 || header.height <= 0)
    I2V_DATA_ERROR(DataProblem::corrupt_image, "{}: {} header gives a size of {}x{}", name,
                   image_format_name(header.format), header.width, header.height);
  const int64_t pixels = int64_t(header.width) * int64_t(header.height);
  if (pixels > max_pixels)
    I2V_DATA_ERROR(DataProblem::too_many_pixels, "{}: {} header claims {}x{} pixels ({:.1f} MP), over the limit of {:.1f} MP",
                   name, image_format_name(header.format), header.width, header.height, double(pixels) / 1e6,
                   double(max_pixels) / 1e6);
}

ImageHeader read_jpeg_header(tjhandle handle, const uint8_t* data, size_t size, const std::string& name, int* colorspace) {
  ImageHeader header{ImageFormat::jpeg, 0, 0};
  int subsampling = 0;
  if (tjDecompressHeader3(handle, data, static_cast<unsigned long>(size), &header.width, &header.height, &subsampling,
                          colorspace) != 0)
    throw_jpeg_error(tjGetErrorStr2(handle), data, size, name);
  // Data that ends before the frame header "succeeds" with no size.
  if (header.width <= 0 || header.height <= 0) throw_jpeg_error("no frame header (SOF)", data, size, name);
  return header;
}

// The DCT scale factor (M/8, M in 1, 2, 4, 8) for a decoded size of at least min_width × min_height.
tjscalingfactor jpeg_scale(int width, int height, int min_width, int min_height) {
  if (min_width <= 0 && min_height <= 0) return {1, 1};
  for (int eighths : {1, 2, 4}) {
    const tjscalingfactor factor{eighths, 8};
    if (TJSCALED(width, factor) >= min_width && TJSCALED(height, factor) >= min_height) return factor;
  }
  return {1, 1};
}

Image decode_jpeg(const uint8_t* data, size_t size, const std::string& name, const DecodeOptions& options) {
  const tjhandle handle = thread_decompressor();
  int colorspace = 0;
  const ImageHeader header = read_jpeg_header(handle, data, size, name, &colorspace);
  check_pixels(header, options.max_pixels, name);
  const tjscalingfactor factor = jpeg_scale(header.width, header.height, options.min_width, options.min_height);
  Image image;
  image.width = TJSCALED(header.width, factor);
  image.height = TJSCALED(header.height, factor);
  // CMYK cannot be converted to RGB by libjpeg: decode it as (Adobe-inverted) CMYK and convert here.
  const bool cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
  const int channels = cmyk ? 4 : 3;
  std::vector<uint8_t> cmyk_pixels;
  uint8_t* destination = nullptr;
  if (cmyk) {
    cmyk_pixels.resize(size_t(image.width) * size_t(image.height) * 4);
    destination = cmyk_pixels.data();
  } else {
    image.rgb.resize(size_t(image.width) * size_t(image.height) * 3);
    destination = image.rgb.data();
  }
  // LIMITSCANS: a progressive JPEG with thousands of scans is a denial of service, not a picture.
  if (tjDecompress2(handle, data, static_cast<unsigned long>(size), destination, image.width, image.width * channels,
                    image.height, cmyk ? TJPF_CMYK : TJPF_RGB, TJFLAG_LIMITSCANS) != 0) {
    // A warning (the decoder went on) is an error too, except for stray bytes between markers,
    // which many encoders leave and which do not touch the pixels.
    const bool harmless = tjGetErrorCode(handle) == TJERR_WARNING &&
                          std::string(tjGetErrorStr2(handle)).find("extraneous bytes") != std::string::npos;
    if (!harmless) throw_jpeg_error(tjGetErrorStr2(handle), data, size, name);
  }
  if (cmyk) {
    image.rgb.resize(size_t(image.width) * size_t(image.height) * 3);
    for (size_t i = 0; i < size_t(image.width) * size_t(image.height); ++i) {
      const unsigned k = cmyk_pixels[i * 4 + 3];
      for (size_t c = 0; c < 3; ++c) image.rgb[i * 3 + c] = uint8_t((cmyk_pixels[i * 4 + c] * k + 127) / 255);
    }
  }
  return image;
}

uint32_t little_endian(const uint8_t* p, int bytes) {
  uint32_t value = 0;
  for (int i = bytes - 1; i >= 0; --i) value = value << 8 | p[i];
  return value;
}

// The size a PNG, GIF or BMP header claims, read here: stb_image refuses very large sizes
// itself, as if the file were not an image at all, and the limit must say what it is.
void claimed_size(ImageFormat format, const uint8_t* data, size_t size, int64_t* width, int64_t* height) {
  if (format == ImageFormat::png && size >= 24 && std::memcmp(data + 12, "IHDR", 4) == 0) {
    *width = int64_t(data[16]) << 24 | data[17] << 16 | data[18] << 8 | data[19];
    *height = int64_t(data[20]) << 24 | data[21] << 16 | data[22] << 8 | data[23];
  } else if (format == ImageFormat::gif && size >= 10) {
    *width = little_endian(data + 6, 2);
    *height = little_endian(data + 8, 2);
  } else if (format == ImageFormat::bmp && size >= 26) {
    const bool os2 = little_endian(data + 14, 4) == 12;
    *width = os2 ? little_endian(data + 18, 2) : std::abs(int64_t(int32_t(little_endian(data + 18, 4))));
    *height = os2 ? little_endian(data + 20, 2) : std::abs(int64_t(int32_t(little_endian(data + 22, 4))));
  }
}

ImageHeader read_stb_header(ImageFormat format, const uint8_t* data, size_t size, const std::string& name,
                            int64_t max_pixels, int* channels) {
  I2V_CHECK(size <= size_t(INT_MAX), "{}: {} file of {} bytes is too large", name, image_format_name(format), size);
  int64_t claimed_width = 0, claimed_height = 0;
  claimed_size(format, data, size, &claimed_width, &claimed_height);
  // Each side is below 2^32, so their product may not fit in an int64: compared by division.
  if (claimed_width > 0 && claimed_height > max_pixels / claimed_width)
    I2V_DATA_ERROR(DataProblem::too_many_pixels, "{}: {} header claims {}x{} pixels ({:.1f} MP), over the limit of {:.1f} MP",
                   name, image_format_name(format), claimed_width, claimed_height,
                   double(claimed_width) * double(claimed_height) / 1e6, double(max_pixels) / 1e6);
  ImageHeader header{format, 0, 0};
  if (!stbi_info_from_memory(data, int(size), &header.width, &header.height, channels)) {
    const std::string reason = stbi_failure_reason() ? stbi_failure_reason() : "unknown";
    I2V_DATA_ERROR(DataProblem::corrupt_image, "{}: corrupt {} header: {}", name, image_format_name(format), reason);
  }
  // A BMP stored top-down has a negative height, which stbi_info reports as it is (stbi_load
  // reads such files the right way up).
  if (format == ImageFormat::bmp && header.height < 0 && header.height != INT_MIN) header.height = -header.height;
  return header;
}

// stb_image decodes a cut-off BMP without complaint (the missing rows come out as garbage), so an
// uncompressed BMP's size is checked against its header first.
void check_bmp_size(const uint8_t* data, size_t size, const std::string& name) {
  if (size < 34 || little_endian(data + 14, 4) < 40) return;  // OS/2 headers: left to stb_image
  const uint32_t pixel_offset = little_endian(data + 10, 4), compression = little_endian(data + 30, 4);
  if (compression != 0 && compression != 3) return;  // run-length encoded: no fixed size
  const int64_t width = int32_t(little_endian(data + 18, 4)), height = int32_t(little_endian(data + 22, 4));
  const int64_t bits = little_endian(data + 28, 2);
  const int64_t row_bytes = (std::abs(width) * bits + 31) / 32 * 4;
  const int64_t needed = int64_t(pixel_offset) + row_bytes * std::abs(height);
  if (int64_t(size) < needed)
    I2V_DATA_ERROR(DataProblem::truncated_image, "{}: truncated BMP: {} bytes, its header needs {}", name, size, needed);
}

// stb_image allocates a PNG chunk's declared length before it reads its bytes (2 GiB for a
// 100-byte file), so the chunks are walked first and one that runs past the end of the file is
// refused as a truncation.
void check_png_chunks(const uint8_t* data, size_t size, const std::string& name) {
  for (size_t offset = 8; offset + 8 <= size;) {
    const uint64_t length = uint64_t(data[offset]) << 24 | data[offset + 1] << 16 | data[offset + 2] << 8 | data[offset + 3];
    const uint8_t* type = data + offset + 4;
    std::string type_name;
    for (int i = 0; i < 4; ++i)
      type_name += std::isalpha(type[i]) ? std::string(1, char(type[i])) : fmt::format("\\x{:02x}", type[i]);
    const bool end = std::memcmp(type, "IEND", 4) == 0;  // the last: its CRC is not read
    if (length > size - offset - 8 || (!end && size - offset - 8 - length < 4))  // the data, then a CRC-32
      I2V_DATA_ERROR(DataProblem::truncated_image, "{}: truncated PNG: chunk '{}' of {} bytes runs past the end of the "
                     "file ({} bytes)", name, type_name, length, size);
    if (end) return;
    offset += 12 + size_t(length);
  }
}

Image decode_with_stb(ImageFormat format, const uint8_t* data, size_t size, const std::string& name,
                      const DecodeOptions& options) {
  int channels = 0;
  const ImageHeader header = read_stb_header(format, data, size, name, options.max_pixels, &channels);
  check_pixels(header, options.max_pixels, name);
  if (format == ImageFormat::bmp) check_bmp_size(data, size, name);
  if (format == ImageFormat::png) check_png_chunks(data, size, name);
  const bool alpha = channels == 2 || channels == 4;
  int width = 0, height = 0, ignored = 0;
  std::unique_ptr<unsigned char, void (*)(void*)> pixels(
      stbi_load_from_memory(data, int(size), &width, &height, &ignored, alpha ? 4 : 3), stbi_image_free);
  if (!pixels) {
    // stb_image names what it missed in a word or two; running out of data is a truncation.
    const std::string reason = stbi_failure_reason() ? stbi_failure_reason() : "unknown";
    const bool truncated = reason == "outofdata" || reason == "no IDAT" || reason == "bad zlib header" ||
                           reason.find("EOF") != std::string::npos || reason == "unexpected end";
    I2V_DATA_ERROR(truncated ? DataProblem::truncated_image : DataProblem::corrupt_image, "{}: {} {}: {}", name,
                   truncated ? "truncated" : "corrupt", image_format_name(format), reason);
  }
  Image image;
  image.width = width;
  image.height = height;
  const size_t count = size_t(width) * size_t(height);
  if (!alpha) {
    image.rgb.assign(pixels.get(), pixels.get() + count * 3);
    return image;
  }
  image.rgb.resize(count * 3);
  const unsigned char* rgba = pixels.get();
  for (size_t i = 0; i < count; ++i) {
    const unsigned a = rgba[i * 4 + 3];
    for (size_t c = 0; c < 3; ++c) image.rgb[i * 3 + c] = composite_on_white(rgba[i * 4 + c], a);
  }
  return image;
}

// WebP through libwebp: the header (RIFF, then a VP8/VP8L/VP8X chunk) gives the size and whether
// the picture is animated before any pixel is decoded. An animated WebP gives its first frame
// (as GIF does), composed on its canvas by libwebpdemux; a still one decodes at 1/2, 1/4 or 1/8
// of its size when DecodeOptions ask for no more (libwebp rescales as it converts to RGB). A
// file shorter than its RIFF header says is truncated.
bool webp_cut_off(const uint8_t* data, size_t size) { return size < 12 || size < size_t(little_endian(data + 4, 4)) + 8; }

ImageHeader read_webp_header(const uint8_t* data, size_t size, const std::string& name, WebPBitstreamFeatures* features) {
  const VP8StatusCode status = WebPGetFeatures(data, size, features);
  if (status == VP8_STATUS_NOT_ENOUGH_DATA)
    I2V_DATA_ERROR(DataProblem::truncated_image, "{}: truncated WebP: {} bytes end inside its header", name, size);
  if (status != VP8_STATUS_OK)
    I2V_DATA_ERROR(DataProblem::corrupt_image, "{}: corrupt WebP header (libwebp status {})", name, int(status));
  return {ImageFormat::webp, features->width, features->height};
}

Image decode_webp(const uint8_t* data, size_t size, const std::string& name, const DecodeOptions& options) {
  WebPBitstreamFeatures features;
  const ImageHeader header = read_webp_header(data, size, name, &features);
  check_pixels(header, options.max_pixels, name);
  auto fail = [&](const char* what) {
    const bool truncated = webp_cut_off(data, size);
    I2V_DATA_ERROR(truncated ? DataProblem::truncated_image : DataProblem::corrupt_image, "{}: {} {}WebP: {}", name,
                   truncated ? "truncated" : "corrupt", features.has_animation ? "animated " : "", what);
  };
  Image image;
  image.width = header.width;
  image.height = header.height;
  std::vector<uint8_t> rgba(size_t(header.width) * size_t(header.height) * 4);
  if (features.has_animation) {
    WebPAnimDecoderOptions decoder_options;
    WebPAnimDecoderOptionsInit(&decoder_options);
    decoder_options.color_mode = MODE_RGBA;
    decoder_options.use_threads = 0;
    const WebPData webp{data, size};
    std::unique_ptr<WebPAnimDecoder, void (*)(WebPAnimDecoder*)> decoder(WebPAnimDecoderNew(&webp, &decoder_options),
                                                                         WebPAnimDecoderDelete);
    WebPAnimInfo info;
    if (!decoder || !WebPAnimDecoderGetInfo(decoder.get(), &info)) fail("its frames cannot be read");
    if (int(info.canvas_width) != header.width || int(info.canvas_height) != header.height) fail("the canvas size disagrees");
    uint8_t* frame = nullptr;
    int timestamp = 0;
    if (!WebPAnimDecoderGetNext(decoder.get(), &frame, &timestamp)) fail("its first frame does not decode");
    std::copy_n(frame, rgba.size(), rgba.begin());
  } else {
    // libwebp's own rescaler shrinks while it converts to RGB, at 1/2, 1/4 or 1/8 as a JPEG would.
    int scale = 1;
    while (scale < 8 && (options.min_width > 0 || options.min_height > 0) &&
           (header.width + 2 * scale - 1) / (2 * scale) >= options.min_width &&
           (header.height + 2 * scale - 1) / (2 * scale) >= options.min_height)
      scale *= 2;
    image.width = (header.width + scale - 1) / scale;
    image.height = (header.height + scale - 1) / scale;
    rgba.resize(size_t(image.width) * size_t(image.height) * 4);
    WebPDecoderConfig config;
    WebPInitDecoderConfig(&config);
    config.options.use_scaling = scale > 1;
    config.options.scaled_width = image.width;
    config.options.scaled_height = image.height;
    config.output.colorspace = MODE_RGBA;
    config.output.is_external_memory = 1;
    config.output.u.RGBA.rgba = rgba.data();
    config.output.u.RGBA.stride = image.width * 4;
    config.output.u.RGBA.size = rgba.size();
    if (WebPDecode(data, size, &config) != VP8_STATUS_OK) fail("the picture does not decode");
  }
  image.rgb.resize(size_t(image.width) * size_t(image.height) * 3);
  for (size_t i = 0; i < image.rgb.size() / 3; ++i)
    for (size_t c = 0; c < 3; ++c) image.rgb[i * 3 + c] = composite_on_white(rgba[i * 4 + c], rgba[i * 4 + 3]);
  return image;
}

}  // namespace

ImageHeader read_image_header(const uint8_t* data, size_t size, const std::string& name, int64_t max_pixels) {
  if (size == 0) I2V_DATA_ERROR(DataProblem::empty_file, "{}: empty file (0 bytes)", name);
  const ImageFormat format = detect_format(data, size, name);
  int ignored = 0;
  WebPBitstreamFeatures features;
  const ImageHeader header = format == ImageFormat::jpeg   ? read_jpeg_header(thread_decompressor(), data, size, name, &ignored)
                             : format == ImageFormat::webp ? read_webp_header(data, size, name, &features)
                                                           : read_stb_header(format, data, size, name, max_pixels, &ignored);
  check_pixels(header, max_pixels, name);
  return header;
}

Image decode_image(const uint8_t* data, size_t size, const std::string& name, const DecodeOptions& options) {
  if (size == 0) I2V_DATA_ERROR(DataProblem::empty_file, "{}: empty file (0 bytes)", name);
  const ImageFormat format = detect_format(data, size, name);
  if (format == ImageFormat::jpeg) return decode_jpeg(data, size, name, options);
  if (format == ImageFormat::webp) return decode_webp(data, size, name, options);
  return decode_with_stb(format, data, size, name, options);
}

std::string read_image_file(const std::string& path) {
  std::string bytes;
  try {
    bytes = read_file(path);
  } catch (const Error& error) {
    // Absent, unreadable or a directory: for a dataset, a picture that is not there.
    I2V_DATA_ERROR(DataProblem::missing_file, "{}", error.message());
  }
  if (bytes.empty()) I2V_DATA_ERROR(DataProblem::empty_file, "{}: empty file (0 bytes)", path);
  return bytes;
}

Image load_image(const std::string& path) { return load_image(path, DecodeOptions{}); }

Image load_image(const std::string& path, const DecodeOptions& options) {
  const std::string bytes = read_image_file(path);
  return decode_image(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), path, options);
}

namespace {

// The source pixels and weights behind each output pixel along one axis: output o reads
// source[first[o] + k] with weight weights[o * max_taps + k], k < max_taps (unused taps weigh 0).
struct Taps {
  std::vector<int> first;
  std::vector<float> weights;
  int max_taps = 0;
};

// The source pixels (clamped to the image) and weights behind output pixel `o`.
void output_taps(double start, double scale, int source_size, int o, std::vector<std::pair<int, double>>& taps) {
  taps.clear();
  if (scale > 1.0) {
    // Shrinking: the average over the output pixel's footprint [lo, hi).
    const double lo = start + o * scale, hi = lo + scale;
    for (int i = int(std::floor(lo)); i < int(std::ceil(hi)); ++i) {
      const double overlap = std::min(hi, i + 1.0) - std::max(lo, double(i));
      if (overlap > 0) taps.push_back({i, overlap / scale});
    }
  } else {
    // Growing (or equal): linear between the two nearest pixel centres.
    const double centre = start + (o + 0.5) * scale - 0.5;
    const int i = int(std::floor(centre));
    const double f = centre - i;
    taps.push_back({i, 1.0 - f});
    if (f > 0) taps.push_back({i + 1, f});
  }
  for (auto& tap : taps) tap.first = std::clamp(tap.first, 0, source_size - 1);
}

// Maps [start, start + length) of a source axis of `source_size` pixels onto `out_size` pixels.
Taps make_taps(double start, double length, int source_size, int out_size) {
  const double scale = length / out_size;
  std::vector<std::pair<int, double>> taps;
  Taps result;
  result.first.resize(size_t(out_size));
  for (int o = 0; o < out_size; ++o) {
    output_taps(start, scale, source_size, o, taps);
    const auto [lo, hi] = std::minmax_element(taps.begin(), taps.end());
    result.max_taps = std::max(result.max_taps, hi->first - lo->first + 1);
  }
  // Near the right edge a window of max_taps would run past the image: it starts earlier there.
  result.max_taps = std::min(result.max_taps, source_size);
  result.weights.assign(size_t(out_size) * size_t(result.max_taps), 0.0f);
  for (int o = 0; o < out_size; ++o) {
    output_taps(start, scale, source_size, o, taps);
    int first = source_size;
    for (const auto& tap : taps) first = std::min(first, tap.first);
    first = std::min(first, source_size - result.max_taps);
    result.first[size_t(o)] = first;
    for (const auto& tap : taps)
      result.weights[size_t(o) * size_t(result.max_taps) + size_t(tap.first - first)] += float(tap.second);
  }
  return result;
}

// One row of the horizontal pass: out[x] = sum_k w[x][k] * row[first[x] + k], per channel. TAPS
// is the window size when it is small and known (the loop unrolls), 0 for a run-time window.
template <int TAPS>
void resample_row(const float* row, const Taps& columns, int out_width, float* out) {
  const int taps = TAPS > 0 ? TAPS : columns.max_taps;
  for (int x = 0; x < out_width; ++x) {
    const float* s = row + size_t(columns.first[size_t(x)]) * 3;
    const float* w = &columns.weights[size_t(x) * size_t(taps)];
    float r = 0, g = 0, b = 0;
    for (int k = 0; k < taps; ++k) {
      r += w[k] * s[k * 3];
      g += w[k] * s[k * 3 + 1];
      b += w[k] * s[k * 3 + 2];
    }
    out[x * 3] = r;
    out[x * 3 + 1] = g;
    out[x * 3 + 2] = b;
  }
}

}  // namespace

void resample(const Image& image, const Box& box, int out_width, int out_height, float* out) {
  I2V_CHECK(out_width > 0 && out_height > 0 && image.width > 0 && image.height > 0 && box.width > 0 && box.height > 0,
            "resample a {}x{} box of a {}x{} image to {}x{}", box.width, box.height, image.width, image.height,
            out_width, out_height);
  const Taps columns = make_taps(box.x, box.width, image.width, out_width);
  const Taps rows = make_taps(box.y, box.height, image.height, out_height);
  // Horizontal pass over the source rows the vertical pass reads, into floats.
  const int row_lo = rows.first.front(), row_hi = rows.first.back() + rows.max_taps;
  const size_t out_row = size_t(out_width) * 3;
  std::vector<float> horizontal(size_t(row_hi - row_lo) * out_row);
  std::vector<float> source(size_t(image.width) * 3);
  const auto pass = columns.max_taps == 1   ? resample_row<1>
                    : columns.max_taps == 2 ? resample_row<2>
                    : columns.max_taps == 3 ? resample_row<3>
                    : columns.max_taps == 4 ? resample_row<4>
                                            : resample_row<0>;
  for (int y = row_lo; y < row_hi; ++y) {
    const uint8_t* pixels = image.pixel(0, y);
    for (size_t i = 0; i < source.size(); ++i) source[i] = pixels[i];
    pass(source.data(), columns, out_width, &horizontal[size_t(y - row_lo) * out_row]);
  }
  // Vertical pass: each output row is a weighted sum of whole rows (contiguous, vectorises).
  for (int y = 0; y < out_height; ++y) {
    float* dst = out + size_t(y) * out_row;
    std::fill(dst, dst + out_row, 0.0f);
    const float* w = &rows.weights[size_t(y) * size_t(rows.max_taps)];
    for (int k = 0; k < rows.max_taps; ++k) {
      if (w[k] == 0.0f) continue;
      const float* src = &horizontal[size_t(rows.first[size_t(y)] + k - row_lo) * out_row];
      for (size_t i = 0; i < out_row; ++i) dst[i] += w[k] * src[i];
    }
  }
}

Image resize_image(const Image& image, int width, int height) {
  I2V_CHECK(width > 0 && height > 0 && image.width > 0 && image.height > 0, "resize {}x{} to {}x{}", image.width,
            image.height, width, height);
  std::vector<float> values(size_t(width) * size_t(height) * 3);
  resample(image, Box{0, 0, double(image.width), double(image.height)}, width, height, values.data());
  Image out;
  out.width = width;
  out.height = height;
  out.rgb.resize(values.size());
  for (size_t i = 0; i < values.size(); ++i) out.rgb[i] = uint8_t(std::clamp(values[i] + 0.5f, 0.0f, 255.0f));
  return out;
}

std::string encode_jpeg(const Image& image, int quality) {
  I2V_CHECK(image.width > 0 && image.height > 0 && image.rgb.size() == size_t(image.width) * size_t(image.height) * 3,
            "encode a {}x{} image holding {} bytes", image.width, image.height, image.rgb.size());
  struct Compressor {
    tjhandle handle = tjInitCompress();
    ~Compressor() {
      if (handle) tjDestroy(handle);
    }
  } compressor;
  I2V_CHECK(compressor.handle != nullptr, "cannot create a JPEG compressor: {}", tjGetErrorStr2(nullptr));
  unsigned char* jpeg = nullptr;
  unsigned long jpeg_size = 0;
  const int status = tjCompress2(compressor.handle, image.rgb.data(), image.width, image.width * 3, image.height,
                                 TJPF_RGB, &jpeg, &jpeg_size, TJSAMP_420, quality, 0);
  const std::string reason = status != 0 ? tjGetErrorStr2(compressor.handle) : "";
  std::string bytes = status == 0 ? std::string(reinterpret_cast<const char*>(jpeg), jpeg_size) : "";
  tjFree(jpeg);
  I2V_CHECK(status == 0, "cannot encode a {}x{} JPEG: {}", image.width, image.height, reason);
  return bytes;
}

std::string encode_png(const Image& image) {
  std::string png;
  auto append = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data), size_t(size));
  };
  I2V_CHECK(stbi_write_png_to_func(append, &png, image.width, image.height, 3, image.rgb.data(), image.width * 3) != 0,
            "cannot encode a {}x{} PNG", image.width, image.height);
  return png;
}

void save_png(const std::string& path, const Image& image) { write_file_atomically(path, encode_png(image)); }

void save_jpeg(const std::string& path, const Image& image, int quality) {
  write_file_atomically(path, encode_jpeg(image, quality));
}

}  // namespace i2v
