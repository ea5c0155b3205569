// Writes the seed corpus of every fuzz target (fuzz/corpus/<target>/): small valid inputs of each
// form the parser reads, made with i2v's own writers where it has one and by hand where it does
// not (GIF, BMP variants, palette and 16-bit PNG, tar, protobuf), and a few broken ones. The
// fuzzer mutates from these; the inputs of fixed findings are added beside them by hand
// (fuzz/README.md). Run from the fuzz build: make_seed_corpus fuzz/corpus
#include <turbojpeg.h>
#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "base/crc32.h"
#include "data/image.h"
#include "data/metadata.h"
#include "index/code_store.h"
#include "index/graph.h"
#include "nn/npy.h"
#include "nn/safetensors.h"

namespace {

using namespace i2v;
namespace fs = std::filesystem;

fs::path g_root;

void put(const std::string& target, const std::string& name, const std::string& bytes) {
  fs::create_directories(g_root / target);
  std::ofstream(g_root / target / name, std::ios::binary) << bytes;
}

std::string contents(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A file written by one of i2v's writers, read back as bytes (and the file removed).
template <typename Write>
std::string written(Write write) {
  const fs::path path = g_root / "seed.tmp";
  write(path.string());
  std::string bytes = contents(path);
  fs::remove(path);
  return bytes;
}

// The valid input, and two broken ones: cut in half, and one byte in the middle flipped.
void put_with_damage(const std::string& target, const std::string& name, const std::string& bytes) {
  put(target, name, bytes);
  put(target, "cut-" + name, bytes.substr(0, bytes.size() / 2));
  std::string flipped = bytes;
  if (!flipped.empty()) flipped[flipped.size() / 2] = char(~flipped[flipped.size() / 2]);
  put(target, "flipped-" + name, flipped);
}

std::string le(uint64_t value, int bytes) {
  std::string out;
  for (int i = 0; i < bytes; ++i) out += char((value >> (8 * i)) & 0xFF);
  return out;
}

std::string be32(uint32_t value) {
  return {char(value >> 24), char(value >> 16 & 0xFF), char(value >> 8 & 0xFF), char(value & 0xFF)};
}

Image test_image(int width, int height) {
  Image image;
  image.width = width;
  image.height = height;
  image.rgb.resize(size_t(width) * size_t(height) * 3);
  for (size_t i = 0; i < image.rgb.size(); ++i) image.rgb[i] = uint8_t(i * 29 + i / 7);
  return image;
}

// ---- safetensors ----

void safetensors_seeds() {
  Safetensors file;
  file.tensors["weight"] = Tensor::from_vector(std::vector<float>{1, -2, 3.5f, 0, 1e-30f, -0.0f}, {2, 3});
  file.tensors["count"] = Tensor::from_vector(std::vector<int64_t>{7}, {});
  file.tensors["bytes"] = Tensor::from_vector(std::vector<uint8_t>{1, 2, 3, 4}, {4});
  file.tensors["empty"] = Tensor::zeros({0, 3});
  file.metadata["format"] = "pt";
  put_with_damage("safetensors", "i2v.safetensors", written([&](const std::string& path) { save_safetensors(path, file); }));
  // F16, BF16, BOOL and an unsupported I8, as other writers store them.
  const std::string header =
      R"({"half":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"brain":{"dtype":"BF16","shape":[1,2],"data_offsets":[4,8]},)"
      R"("flag":{"dtype":"BOOL","shape":[2],"data_offsets":[8,10]},"small":{"dtype":"I8","shape":[2],"data_offsets":[10,12]},)"
      R"("__metadata__":{"note":"by hand"}})";
  const std::string data = std::string("\x00\x3c\x00\xfc", 4) + std::string("\x80\x3f\xc0\x7f", 4) + std::string("\x01\x00", 2) + "\x7f\x80";
  put("safetensors", "f16-bf16.safetensors", le(header.size(), 8) + header + data);
  const std::string overlap = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}})";
  put("safetensors", "overlap.safetensors", le(overlap.size(), 8) + overlap + std::string(6, '\0'));
  put("safetensors", "huge-header.safetensors", le(uint64_t(1) << 62, 8) + "{}");
}

// ---- .npy ----

void npy_seeds() {
  const std::vector<float> f32 = {1, 2, 3, 4, 5, 6};
  put_with_damage("npy", "f32.npy", written([&](const std::string& p) { write_npy(p, NpyType::f32, {2, 3}, f32.data()); }));
  const std::vector<uint8_t> flags = {0, 1, 1, 0, 1};
  put("npy", "bool.npy", written([&](const std::string& p) { write_npy(p, NpyType::boolean, {5}, flags.data()); }));
  const std::vector<uint8_t> bytes = {1, 2, 3, 4, 5, 6, 7, 8};
  put("npy", "u8.npy", written([&](const std::string& p) { write_npy(p, NpyType::u8, {2, 2, 2}, bytes.data()); }));
  const int64_t scalar = -5;
  put("npy", "i64-scalar.npy", written([&](const std::string& p) { write_npy(p, NpyType::i64, {}, &scalar); }));
  put("npy", "u64-empty.npy", written([&](const std::string& p) { write_npy(p, NpyType::u64, {0, 4}, nullptr); }));
  // Version 2.0 and 3.0 headers, Python 2 longs, double quotes.
  const std::string dict2 = "{\"descr\": \"<f8\", \"fortran_order\": False, \"shape\": (1L, 2L), }\n";
  put("npy", "v2.npy", std::string("\x93NUMPY\x02\x00", 8) + le(dict2.size(), 4) + dict2 + std::string(16, '\x01'));
  const std::string dict3 = "{'descr': '<i4', 'fortran_order': False, 'shape': (3,)}\n";
  put("npy", "v3.npy", std::string("\x93NUMPY\x03\x00", 8) + le(dict3.size(), 4) + dict3 + std::string(12, '\x02'));
  const std::string fortran = "{'descr': '>f4', 'fortran_order': True, 'shape': (2, 2), }\n";
  put("npy", "fortran-big-endian.npy", std::string("\x93NUMPY\x01\x00", 8) + le(fortran.size(), 2) + fortran + std::string(16, '\0'));
}

// ---- Caffe models: protobuf's wire format by hand ----

std::string varint(uint64_t value) {
  std::string out;
  do {
    uint8_t byte = value & 0x7F;
    value >>= 7;
    out += char(value ? byte | 0x80 : byte);
  } while (value);
  return out;
}
std::string key(int field, int wire_type) { return varint(uint64_t(field) << 3 | uint64_t(wire_type)); }
std::string bytes_field(int field, const std::string& value) { return key(field, 2) + varint(value.size()) + value; }
std::string varint_field(int field, uint64_t value) { return key(field, 0) + varint(value); }
std::string packed_floats(int field, const std::vector<float>& values) {
  std::string data(values.size() * 4, '\0');
  std::memcpy(data.data(), values.data(), data.size());
  return bytes_field(field, data);
}

void caffe_model_seeds() {
  // NetParameter { name, layer (100) { name, type, blobs (7) { shape (7) { dim (1, packed) }, data (5, packed) } } }
  std::string dims;
  for (int d : {4, 3, 3, 3}) dims += varint(uint64_t(d));
  std::vector<float> weights(4 * 3 * 3 * 3);
  for (size_t i = 0; i < weights.size(); ++i) weights[i] = float(i) * 0.25f - 3;
  const std::string weight_blob = bytes_field(7, bytes_field(1, dims)) + packed_floats(5, weights);
  const std::string bias_blob = bytes_field(7, bytes_field(1, varint(4))) + packed_floats(5, {0.5f, -1, 2, 0});
  const std::string conv = bytes_field(1, "conv1") + bytes_field(2, "Convolution") + bytes_field(7, weight_blob) +
                           bytes_field(7, bias_blob);
  const std::string relu = bytes_field(1, "relu1") + bytes_field(2, "ReLU");
  std::string fc_blob = varint_field(1, 1) + varint_field(2, 1) + varint_field(3, 5) + varint_field(4, 16);
  for (int i = 0; i < 5 * 16; ++i) fc_blob += key(5, 5) + le(0x3f800000u + uint32_t(i), 4);  // unpacked floats
  const std::string fc = bytes_field(1, "fc1") + bytes_field(2, "InnerProduct") + bytes_field(7, fc_blob);
  const std::string net = bytes_field(1, "fuzz-net") + bytes_field(100, conv) + bytes_field(100, relu) + bytes_field(100, fc);
  put_with_damage("caffe_model", "new-style.caffemodel", net);
  // V1LayerParameter (layers = 2): name 4, type 5 (enum: 4 convolution, 14 inner product), blobs 6;
  // a double_data blob (8) and fields i2v skips (a 64-bit and a group).
  std::string v1_blob = bytes_field(7, bytes_field(1, varint(2))) + key(8, 2) + varint(16) + le(0x3ff0000000000000u, 8) +
                        le(0xbff0000000000000u, 8);
  v1_blob += key(20, 1) + le(42, 8) + key(21, 3) + varint_field(1, 9) + key(21, 4);
  const std::string v1 = bytes_field(4, "ip") + varint_field(5, 14) + bytes_field(6, v1_blob) + bytes_field(6, bytes_field(7, bytes_field(1, varint(2))) + packed_floats(5, {1, 2}));
  put_with_damage("caffe_model", "legacy-v1.caffemodel", bytes_field(1, "v1-net") + bytes_field(2, v1));
  put("caffe_model", "overlong-length.caffemodel", key(100, 2) + varint(uint64_t(1) << 40) + "x");
}

// ---- code stores and graphs ----

void index_seeds() {
  const std::vector<uint64_t> codes = {0x0123456789abcdefu, 0xffff0000ffff0000u, 0x0u};
  put_with_damage("code_store", "paths.i2vcodes", written([&](const std::string& p) {
    write_code_store(p, code_source({codes.data(), 3, 1}, {2, 5, 9}, {"a.png", "dir/b.jpg", "c"}));
  }));
  const std::vector<uint64_t> wide = {1, 2, 3, 4};
  put("code_store", "128-bits.i2vcodes", written([&](const std::string& p) { write_code_store(p, code_source({wide.data(), 2, 2})); }));

  // 0-1 (3), 1-2 (5), 2-3 (1); 4 alone.
  NeighbourGraph graph;
  graph.node_count = 5;
  graph.k = 2;
  graph.bits = 64;
  graph.offsets = {0, 1, 3, 5, 6, 6};
  graph.neighbours = {1, 0, 2, 1, 3, 2};
  graph.weights = {3, 3, 5, 5, 1, 1};
  put_with_damage("graph", "five-nodes.i2vgraph", written([&](const std::string& p) { save_graph(p, graph); }));
  NeighbourGraph pair;
  pair.node_count = 2;
  pair.k = 1;
  pair.bits = 4096;
  pair.offsets = {0, 1, 2};
  pair.neighbours = {1, 0};
  pair.weights = {4096, 4096};
  put("graph", "pair.i2vgraph", written([&](const std::string& p) { save_graph(p, pair); }));
}

// ---- metadata lines ----

void metadata_seeds() {
  put("metadata", "danbooru2017.jsonl",
      R"({"id":"2921","rating":"s","file_ext":"jpg","tags":[{"id":"470575","name":"1girl","category":"0"},{"id":"1","name":"hatsune_miku","category":"4"},{"id":"2","name":"vocaloid","category":3}]})" "\n");
  put("metadata", "api.jsonl",
      R"({"id":2922,"rating":"g","file_ext":"png","tag_string_general":"1girl  solo","tag_string_character":"miku","tag_string_copyright":"","tag_string_artist":"someone","tag_string_meta":"highres"})" "\n"
      R"({"id":-3,"rating":"explicit","path":"pics/3.gif","tag_string":"a b c"})" "\n\n   \n");
  put("metadata", "broken.jsonl",
      "{\"id\":\"12x\"}\n{\"id\":1,\"rating\":\"z\"}\n{\"id\":2,\"tags\":[{\"name\":\"t\",\"category\":\"9\"}]}\n[1,2]\n{\"id\":3,\"tags\":[{}]}\n{\"id\":4,\"file_ext\":\"mp4\"}\n{\"id\":5,\"rating\":null,\"tags\":[{\"name\":\"x\",\"category\":100}]}\n");
}

// ---- training configs (the fixture of training_config_fuzz.cpp) ----

void training_config_seeds() {
  put("training_config", "dump.json", R"({"run": "runs/a", "seed": 3, "device": "cpu",
 "model": {"name": "i2v-tag", "width": 0.0625, "input_size": 32},
 "data": {"metadata": ["dump/metadata.jsonl"], "images": "dump", "vocab": "vocab.json", "layout": "original",
          "preprocess": {"preset": "unit", "size": 32, "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]},
          "augment": {"crop": "random", "min_area": 0.6, "hflip": true}, "cache": true, "batch_size": 4, "workers": 1,
          "split_fractions": "0.5,0.25,0.25"},
 "loss": {"type": "bce_with_logits", "reduction": "batch_mean", "pos_weight": 2.0},
 "optimizer": {"momentum": 0.9, "weight_decay": 0.0005, "clip_norm": 10, "layers": [{"layers": ["conv1_1"], "lr_mult": 0.1}, {"pattern": "conv6_.*", "lr_mult": 2, "decay_mult": 0}]},
 "schedule": {"lr": 0.01, "warmup_steps": 5, "type": "plateau", "patience": 2, "factor": 0.3},
 "epochs": 2, "max_steps": 10, "checkpoint_every_steps": 5, "keep_checkpoints": 2, "on_nonfinite": "stop"})");
  put("training_config", "folder-init.json", R"({"run": "runs/b", "model": {"name": "artist-conv2d"},
 "init": {"weights": "init.safetensors", "restart": ["fc"], "strict": true},
 "data": {"folders": "folders", "classes": ["cat", "dog"], "split_seed": 4,
          "preprocess": {"size": 32, "resize": "shorter_side", "resize_to": 40, "crop": "center", "order": "bgr", "scale": 1}},
 "loss": {"type": "cross_entropy"},
 "schedule": {"lr": 0.1, "type": "multistep", "milestones": [1, 3], "gamma": 0.5}})");
  put("training_config", "gcn-caption.json", R"({"run": "runs/c", "model": {"name": "resnet14-gcn", "width": 0.0625, "gcn_features": 8, "gcn_average_scores": false},
 "data": {"metadata": ["dump"], "images": "dump", "preprocess": {"preset": "imagenet", "size": 32, "resize_to": 36},
          "auxiliary": {"caption": {"features": "caption.npy", "ids": "caption_ids.npy", "missing": "zeros"}}},
 "loss": {"pos_weight": "pos_weight.npy", "reduction": "sum"},
 "schedule": {"type": "step", "step_epochs": 2, "gamma": 0.1}})");
  put("training_config", "wrong.json", R"({"run": 5, "epoch": 3, "model": {"name": "no-such-model"}, "data": {"batch_size": -1}})");
}

// ---- pictures ----

std::string jpeg(const Image& image, int subsampling, int flags, TJPF format = TJPF_RGB, int width = 0, int height = 0) {
  tjhandle handle = tjInitCompress();
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  const int w = width ? width : image.width, h = height ? height : image.height;
  std::vector<uint8_t> pixels(size_t(w) * size_t(h) * size_t(tjPixelSize[format]));
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = image.rgb[i % image.rgb.size()];
  if (tjCompress2(handle, pixels.data(), w, 0, h, format, &buffer, &size, subsampling, 85, flags) != 0) {
    std::fprintf(stderr, "tjCompress2: %s\n", tjGetErrorStr2(handle));
    std::exit(1);
  }
  std::string out(reinterpret_cast<char*>(buffer), size);
  tjFree(buffer);
  tjDestroy(handle);
  return out;
}

std::string png_chunk(const std::string& type, const std::string& data) {
  const std::string body = type + data;
  return be32(uint32_t(data.size())) + body + be32(crc32_of(body.data(), body.size()));
}

// A PNG of `rows` (each starting with its filter byte) by hand: palette and 16-bit images,
// which stb_image_write does not make.
std::string png(uint32_t width, uint32_t height, int depth, int color_type, const std::string& rows, const std::string& extra = "") {
  uLongf size = compressBound(uLong(rows.size()));
  std::string compressed(size, '\0');
  compress2(reinterpret_cast<Bytef*>(compressed.data()), &size, reinterpret_cast<const Bytef*>(rows.data()), uLong(rows.size()), 9);
  compressed.resize(size);
  const std::string ihdr = be32(width) + be32(height) + char(depth) + char(color_type) + std::string(3, '\0');
  return std::string("\x89PNG\r\n\x1a\n", 8) + png_chunk("IHDR", ihdr) + extra + png_chunk("IDAT", compressed) +
         png_chunk("IEND", "");
}

// A GIF whose LZW stream sends every pixel as a literal and a clear code before the table grows
// past 9-bit codes (a valid stream any decoder reads).
std::string gif(int width, int height, bool interlaced) {
  std::string out = "GIF89a" + le(uint64_t(width), 2) + le(uint64_t(height), 2) + "\xf7" + std::string(1, '\0') + std::string(1, '\0');
  for (int i = 0; i < 256; ++i) out += std::string{char(i), char(255 - i), char(i * 7)};
  out += std::string("\x21\xf9\x04\x01\x00\x00\x05\x00", 8);  // graphic control: transparent index 5
  out += "\x2c" + le(0, 2) + le(0, 2) + le(uint64_t(width), 2) + le(uint64_t(height), 2) + char(interlaced ? 0x40 : 0);
  out += char(8);  // LZW minimum code size
  std::string codes;
  uint32_t bits = 0, count = 0;
  auto emit = [&](uint32_t code) {
    bits |= code << count;
    count += 9;
    while (count >= 8) {
      codes += char(bits & 0xFF);
      bits >>= 8;
      count -= 8;
    }
  };
  emit(256);
  for (int i = 0; i < width * height; ++i) {
    if (i % 200 == 199) emit(256);
    emit(uint32_t(i * 13 % 256));
  }
  emit(257);
  if (count) codes += char(bits & 0xFF);
  for (size_t i = 0; i < codes.size(); i += 255) {
    const std::string block = codes.substr(i, 255);
    out += char(block.size()) + block;
  }
  return out + std::string(1, '\0') + ";";
}

// A BMP with a BITMAPINFOHEADER: 8-bit with a palette, or 32-bit; a negative height is top-down.
std::string bmp(int width, int height, int depth) {
  const int row = (width * depth / 8 + 3) / 4 * 4;
  const int palette = depth == 8 ? 256 * 4 : 0;
  const uint64_t offset = 14 + 40 + uint64_t(palette), size = offset + uint64_t(row) * uint64_t(std::abs(height));
  std::string out = "BM" + le(size, 4) + le(0, 4) + le(offset, 4);
  out += le(40, 4) + le(uint32_t(width), 4) + le(uint32_t(height), 4) + le(1, 2) + le(uint64_t(depth), 2) + le(0, 4) +
         le(0, 4) + le(2835, 4) + le(2835, 4) + le(0, 4) + le(0, 4);
  for (int i = 0; i < palette / 4; ++i) out += std::string{char(i), char(i / 2), char(255 - i), '\0'};
  for (int y = 0; y < std::abs(height); ++y)
    for (int x = 0; x < row; ++x) out += char((x * 31 + y * 17) & 0xFF);
  return out;
}

void image_seeds() {
  const Image picture = test_image(19, 13);
  put_with_damage("image_jpeg", "baseline-420.jpg", encode_jpeg(picture, 80));
  put("image_jpeg", "444.jpg", jpeg(picture, TJSAMP_444, 0));
  put("image_jpeg", "gray.jpg", jpeg(picture, TJSAMP_GRAY, 0, TJPF_GRAY));
  put("image_jpeg", "progressive.jpg", jpeg(picture, TJSAMP_420, TJFLAG_PROGRESSIVE));
  put("image_jpeg", "cmyk.jpg", jpeg(picture, TJSAMP_444, 0, TJPF_CMYK));
  put("image_jpeg", "scaled-64x40.jpg", jpeg(picture, TJSAMP_422, 0, TJPF_RGB, 64, 40));

  put_with_damage("image_png", "rgb.png", written([&](const std::string& p) { save_png(p, picture); }));
  std::string palette_rows, deep_rows, alpha_rows;
  for (int y = 0; y < 5; ++y) {
    palette_rows += char(y % 5);  // every filter type
    for (int x = 0; x < 4; ++x) palette_rows += char((x * 0x12 + y) & 0xFF);  // 8 pixels of 4 bits
    deep_rows += char(1);
    for (int x = 0; x < 3 * 3; ++x) deep_rows += std::string{char(x * 20), char(y * 40)};  // 3 pixels of 3 × 16 bits
    alpha_rows += char(0);
    for (int x = 0; x < 6; ++x) alpha_rows += std::string{char(x * 40), char(y * 50)};  // gray + alpha
  }
  std::string plte;
  for (int i = 0; i < 16; ++i) plte += std::string{char(i * 16), char(255 - i * 16), char(i * 5)};
  put("image_png", "palette-4bit.png", png(8, 5, 4, 3, palette_rows, png_chunk("PLTE", plte) + png_chunk("tRNS", "\x00\x80")));
  put("image_png", "rgb-16bit.png", png(3, 5, 16, 2, deep_rows));
  put("image_png", "gray-alpha.png", png(6, 5, 8, 4, alpha_rows));
  put("image_png", "huge-claim.png", png(100000, 100000, 8, 2, std::string(10, '\0')));

  put_with_damage("image_gif", "plain.gif", gif(17, 11, false));
  put("image_gif", "interlaced.gif", gif(9, 12, true));
  put("image_gif", "tiny.gif", std::string("GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00;", 43));

  put_with_damage("image_bmp", "rgb.bmp", bmp(11, 7, 24));  // bottom-up
  put("image_bmp", "palette.bmp", bmp(6, 5, 8));
  put("image_bmp", "top-down-32.bmp", bmp(5, -4, 32));
}

// ---- tar archives ----

std::string tar_header(const std::string& name, uint64_t size, char type) {
  std::string header(512, '\0');
  std::memcpy(&header[0], name.data(), std::min<size_t>(name.size(), 100));
  std::snprintf(&header[100], 8, "%07o", 0644);
  std::snprintf(&header[108], 8, "%07o", 0);
  std::snprintf(&header[116], 8, "%07o", 0);
  std::snprintf(&header[124], 12, "%011llo", static_cast<unsigned long long>(size));
  std::snprintf(&header[136], 12, "%011o", 0);
  header[156] = type;
  std::memcpy(&header[257], "ustar\0" "00", 8);
  std::memset(&header[148], ' ', 8);
  unsigned checksum = 0;
  for (unsigned char c : header) checksum += c;
  std::snprintf(&header[148], 8, "%06o", checksum);
  return header;
}

std::string tar_entry(const std::string& name, const std::string& data, char type = '0') {
  return tar_header(name, data.size(), type) + data + std::string((512 - data.size() % 512) % 512, '\0');
}

std::string gzip(const std::string& data) {
  const fs::path path = g_root / "seed.gz";
  gzFile file = gzopen(path.string().c_str(), "wb9");
  gzwrite(file, data.data(), unsigned(data.size()));
  gzclose(file);
  std::string bytes = contents(path);
  fs::remove(path);
  return bytes;
}

void tarball_seeds() {
  const std::string long_name(130, 'n');
  const std::string pax = "30 path=package/pax-named.txt\n";
  const std::string tar = tar_entry("package/package.json", "{\"name\": \"emoji\"}\n") + tar_entry("package/img/", "", '5') +
                          tar_entry("././@LongLink", long_name + '\0', 'L') + tar_entry("short", "long-named file") +
                          tar_entry("PaxHeader", pax, 'x') + tar_entry("x", "pax-named file") +
                          tar_entry("package/img/a.png", std::string(700, 'p')) + std::string(1024, '\0');
  put_with_damage("tarball", "npm.tgz", gzip(tar));
  put("tarball", "plain.tar", tar);
  put("tarball", "no-end.tar", tar.substr(0, tar.size() - 1024));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seed_corpus DIR  (writes DIR/<target>/...)\n");
    return 2;
  }
  g_root = argv[1];
  safetensors_seeds();
  npy_seeds();
  caffe_model_seeds();
  index_seeds();
  metadata_seeds();
  training_config_seeds();
  image_seeds();
  tarball_seeds();
  return 0;
}
