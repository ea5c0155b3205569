// safetensors: bit-exact round trips, the reference implementation's bytes, F16 widening, BF16
// of every bit pattern, every malformed file refused with an error naming the file and tensor,
// and cross-checks with an independent Python reader and writer (scripts/safetensors_reference.py).
#include "nn/safetensors.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>

#include <gtest/gtest.h>

#include "base/error.h"
#include "base/atomic_file.h"
#include "tests/temp_directory.h"
#include "tests/test_util.h"

namespace i2v {
namespace {

namespace fs = std::filesystem;

using SafetensorsTest = test::TempDirectoryTest;

// Writes a file by hand: the 8-byte length (of `header`, unless `length` is given), `header`,
// then `data_bytes` bytes of data.
void write_raw(const std::string& path, const std::string& header, size_t data_bytes,
               std::optional<uint64_t> length = std::nullopt) {
  std::string bytes;
  const uint64_t n = length.value_or(header.size());
  for (int i = 0; i < 8; ++i) bytes.push_back(char((n >> (8 * i)) & 0xff));
  bytes += header;
  for (size_t i = 0; i < data_bytes; ++i) bytes.push_back(char(i % 251));
  write_file_atomically(path, bytes);
}

// The message of the i2v::Error that `action` throws ("" and a test failure when none).
std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& e) {
    return e.message();
  }
  ADD_FAILURE() << "expected an i2v::Error";
  return "";
}

void expect_contains(const std::string& text, const std::vector<std::string>& parts) {
  for (const std::string& part : parts) EXPECT_NE(text.find(part), std::string::npos) << "'" << part << "' not in: " << text;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  const Tensor x = a.to(Device::cpu()).contiguous(), y = b.to(Device::cpu()).contiguous();
  return x.dtype() == y.dtype() && x.shape() == y.shape() && std::memcmp(x.raw_data(), y.raw_data(), x.nbytes()) == 0;
}

// Random tensors of every dtype i2v writes, with the float values that round trips get wrong
// when they convert: NaN with a payload, infinities, -0 and a subnormal.
Safetensors random_contents(std::mt19937_64& rng) {
  Safetensors contents;
  Tensor f32 = test::random_tensor({3, 5}, rng);
  std::vector<float> values = f32.to_vector<float>();
  uint32_t nan_with_payload = 0x7fc01234u;
  std::memcpy(&values[0], &nan_with_payload, 4);
  values[1] = INFINITY;
  values[2] = -INFINITY;
  values[3] = -0.0f;
  values[4] = 1e-40f;
  contents.tensors["layer.weight"] = Tensor::from_vector(values, {3, 5});
  contents.tensors["layer.bias"] = test::random_tensor({5}, rng);
  contents.tensors["scalar"] = Tensor::from_vector(std::vector<float>{float(rng() % 1000) / 7}, {});
  contents.tensors["empty"] = Tensor::empty({0, 4});
  std::vector<double> f64(6);
  for (double& v : f64) v = double(int64_t(rng())) / 3.0;
  contents.tensors["f64"] = Tensor::from_vector(f64, {2, 3});
  contents.tensors["i64"] = Tensor::from_vector(std::vector<int64_t>{int64_t(rng()), -1, 0}, {3});
  contents.tensors["i32"] = Tensor::from_vector(std::vector<int32_t>{int32_t(rng()), -7}, {2, 1});
  contents.tensors["u8"] = Tensor::from_vector(std::vector<uint8_t>{uint8_t(rng()), 255, 0}, {3});
  contents.tensors["u64"] = Tensor::from_vector(std::vector<uint64_t>{rng(), ~uint64_t(0)}, {2});
  // bf16 with NaN payloads (a cast would make them 0x7fff; a file keeps them), ±inf, -0, a subnormal.
  std::vector<bfloat16> bf16;
  for (uint16_t bits : {0x7fc1, 0xffff, 0x7f80, 0xff80, 0x8000, 0x0001, 0x7f7f})
    bf16.push_back(bfloat16::from_bits(bits));
  for (int i = 0; i < 5; ++i) bf16.push_back(bfloat16::from_bits(uint16_t(rng())));
  contents.tensors["bf16"] = Tensor::from_vector(bf16, {3, 4});
  contents.metadata = {{"format", "pt"}, {"note", "ünïcödé, \"quotes\" and \\ backslashes"}};
  return contents;
}

void expect_same_contents(const Safetensors& loaded, const Safetensors& saved) {
  EXPECT_EQ(loaded.metadata, saved.metadata);
  ASSERT_EQ(loaded.tensors.size(), saved.tensors.size());
  for (const auto& [name, tensor] : saved.tensors) {
    ASSERT_TRUE(loaded.tensors.count(name)) << name;
    EXPECT_TRUE(same_bytes(loaded.tensors.at(name), tensor)) << name << ": " << loaded.tensors.at(name).str();
  }
}

TEST_F(SafetensorsTest, RoundTripIsBitExactForEveryDtype) {
  auto rng = test::test_rng();
  const Safetensors saved = random_contents(rng);
  save_safetensors(path("a.safetensors"), saved);
  expect_same_contents(load_safetensors(path("a.safetensors")), saved);
}

TEST_F(SafetensorsTest, SavesFromAndLoadsOntoEveryDevice) {
  auto rng = test::test_rng();
  for (Device device : test::all_devices()) {
    Safetensors saved;
    saved.tensors["w"] = test::random_tensor({4, 3}, rng, device);
    const std::string file = path(device.name() + ".safetensors");
    save_safetensors(file, saved);
    const Safetensors loaded = load_safetensors(file, device);
    EXPECT_EQ(loaded.tensors.at("w").device(), device);
    EXPECT_TRUE(same_bytes(loaded.tensors.at("w"), saved.tensors.at("w"))) << device.name();
  }
}

// The bytes the reference implementation's own tests expect for these contents.
TEST_F(SafetensorsTest, WritesTheReferenceImplementationsBytes) {
  auto bytes_of = [&](const Safetensors& contents) {
    save_safetensors(path("r.safetensors"), contents);
    return read_file(path("r.safetensors"));
  };
  Safetensors attention;
  attention.tensors["attn.0"] = Tensor::from_vector(std::vector<float>{0, 1, 2, 3, 4, 5}, {1, 2, 3});
  std::string expected = std::string("\x40\0\0\0\0\0\0\0", 8) +
                         R"({"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}})";
  expected += std::string(reinterpret_cast<const char*>(attention.tensors["attn.0"].data<float>()), 24);
  EXPECT_EQ(bytes_of(attention), expected);

  EXPECT_EQ(bytes_of({}), std::string("\x08\0\0\0\0\0\0\0{}      ", 16));
  Safetensors metadata_only;
  metadata_only.metadata["framework"] = "pt";
  EXPECT_EQ(bytes_of(metadata_only), std::string("\x28\0\0\0\0\0\0\0", 8) + R"({"__metadata__":{"framework":"pt"}})" + "     ");
}

TEST_F(SafetensorsTest, LayoutIsDeterministicAlignedAndPadded) {
  auto rng = test::test_rng();
  const Safetensors contents = random_contents(rng);
  save_safetensors(path("a.safetensors"), contents);
  save_safetensors(path("b.safetensors"), contents);
  EXPECT_EQ(read_file(path("a.safetensors")), read_file(path("b.safetensors")));

  const SafetensorsFile file(path("a.safetensors"));
  EXPECT_EQ(file.data_offset() % 8, 0u);
  std::vector<std::pair<int, std::string>> order;  // (-element size, name) in file order
  for (const SafetensorsEntry& entry : file.entries()) {
    const int element_bytes = int(dtype_size(contents.tensors.at(entry.name).dtype()));
    EXPECT_EQ(entry.begin % uint64_t(element_bytes), 0u) << entry.name;
    order.emplace_back(-element_bytes, entry.name);
  }
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
  const std::string bytes = read_file(path("a.safetensors"));
  // The header ends before the data, whose first byte may itself be '}'.
  const size_t json_end = bytes.rfind('}', file.data_offset() - 1);
  EXPECT_EQ(bytes.substr(json_end + 1, file.data_offset() - json_end - 1),
            std::string(file.data_offset() - json_end - 1, ' '));
}

// Independent of the loader: the value of a half or bfloat16 with `exponent_bits` of exponent.
double small_float_value(uint16_t bits, int exponent_bits) {
  const int mantissa_bits = 15 - exponent_bits;
  const int bias = (1 << (exponent_bits - 1)) - 1;
  const int exponent = (bits >> mantissa_bits) & ((1 << exponent_bits) - 1);
  const int mantissa = bits & ((1 << mantissa_bits) - 1);
  const double sign = (bits & 0x8000) ? -1.0 : 1.0;
  if (exponent == (1 << exponent_bits) - 1) return mantissa ? std::nan("") : sign * INFINITY;
  if (exponent == 0) return sign * std::ldexp(mantissa, 1 - bias - mantissa_bits);
  return sign * std::ldexp((1 << mantissa_bits) + mantissa, exponent - bias - mantissa_bits);
}

// F16 widens to f32 on reading; BF16 loads as bf16, bit for bit, and widens exactly on a cast.
TEST_F(SafetensorsTest, F16AndBF16WidenExactlyForEveryBitPattern) {
  const std::string header = R"({"half":{"dtype":"F16","shape":[256,256],"data_offsets":[0,131072]},)"
                             R"("brain":{"dtype":"BF16","shape":[65536],"data_offsets":[131072,262144]}})";
  std::string bytes;
  for (int i = 0; i < 8; ++i) bytes.push_back(char((header.size() >> (8 * i)) & 0xff));
  bytes += header;
  for (int copy = 0; copy < 2; ++copy)
    for (uint32_t bits = 0; bits < 65536; ++bits) bytes += {char(bits & 0xff), char(bits >> 8)};
  write_file_atomically(path("halves.safetensors"), bytes);

  const Safetensors loaded = load_safetensors(path("halves.safetensors"));
  const std::vector<float> half = loaded.tensors.at("half").to_vector<float>();
  EXPECT_EQ(loaded.tensors.at("half").dtype(), DType::f32);
  EXPECT_EQ(loaded.tensors.at("brain").dtype(), DType::bf16);
  const std::vector<bfloat16> brain_bits = loaded.tensors.at("brain").to_vector<bfloat16>();
  for (uint32_t bits = 0; bits < 65536; ++bits) ASSERT_EQ(brain_bits[bits].bits, bits);
  const std::vector<float> brain = loaded.tensors.at("brain").cast(DType::f32).to_vector<float>();
  EXPECT_EQ(loaded.tensors.at("half").shape(), Shape({256, 256}));
  for (uint32_t bits = 0; bits < 65536; ++bits) {
    for (const auto& [values, exponent_bits, shift] : {std::tuple{&half, 5, 13}, std::tuple{&brain, 8, 16}}) {
      const float got = (*values)[bits];
      const double want = small_float_value(uint16_t(bits), exponent_bits);
      uint32_t got_bits;
      std::memcpy(&got_bits, &got, 4);
      ASSERT_EQ(std::signbit(got), bool(bits & 0x8000)) << std::hex << bits;
      if (std::isnan(want)) {
        ASSERT_TRUE(std::isnan(got)) << std::hex << bits;
        const uint32_t payload = bits & ((1u << (15 - exponent_bits)) - 1);
        ASSERT_EQ(got_bits & 0x7fffffu, payload << (23 - (15 - exponent_bits))) << "payload of " << std::hex << bits;
      } else {
        ASSERT_EQ(double(got), want) << std::hex << bits << " shift " << shift;
      }
    }
  }
}

// ---- malformed files ----------------------------------------------------------------------------

struct Malformed {
  const char* what;
  std::string header;
  size_t data_bytes;
  std::vector<std::string> error_mentions;
};

// What safetensors.torch.save_file({"embed.weight": torch.tensor([[1.0, -2.0, 0.1],
// [3e38, 1e-40, inf]]).bfloat16(), "fc.bias": torch.tensor([0.5])}) writes, byte for byte, as
// the format specifies it (huggingface/safetensors: tensors ordered by alignment, then name; JSON
// without spaces; the header padded with spaces to a multiple of 8; little-endian data). The bf16
// values are PyTorch's round to nearest even of the f32s: 1 0x3f80, -2 0xc000, 0.1f (0x3dcccccd)
// 0x3dcd, 3e38f (0x7f61b1e6) 0x7f62, 1e-40f (0x000116c2) 0x0001, inf 0x7f80.
TEST_F(SafetensorsTest, ReadsBf16AsPyTorchWritesIt) {
  std::string header = R"({"fc.bias":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                       R"("embed.weight":{"dtype":"BF16","shape":[2,3],"data_offsets":[4,16]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  std::string bytes;
  for (int i = 0; i < 8; ++i) bytes.push_back(char((header.size() >> (8 * i)) & 0xff));
  bytes += header;
  bytes += std::string("\x00\x00\x00\x3f", 4);  // 0.5f
  for (uint16_t bits : {0x3f80, 0xc000, 0x3dcd, 0x7f62, 0x0001, 0x7f80}) bytes += {char(bits & 0xff), char(bits >> 8)};
  write_file_atomically(path("torch.safetensors"), bytes);

  const SafetensorsFile file(path("torch.safetensors"));
  EXPECT_EQ(file.entry("embed.weight").dtype, "BF16");
  const Tensor embed = file.read("embed.weight");
  EXPECT_EQ(embed.dtype(), DType::bf16);
  EXPECT_EQ(embed.shape(), Shape({2, 3}));
  const std::vector<float> widened = embed.cast(DType::f32).to_vector<float>();
  // 0x3dcd: 205·2^-11; 0x7f62: (128 + 98)·2^120; 0x0001: the smallest subnormal, 2^-133.
  const std::vector<float> expected = {1.0f, -2.0f, std::ldexp(205.0f, -11), std::ldexp(226.0f, 120),
                                       std::ldexp(1.0f, -133), INFINITY};
  EXPECT_EQ(widened, expected);
  // The same values as i2v rounds them from the f32s.
  const Tensor ours = Tensor::from_vector(std::vector<float>{1.0f, -2.0f, 0.1f, 3e38f, 1e-40f, INFINITY}, {2, 3});
  EXPECT_TRUE(same_bytes(ours.cast(DType::bf16), embed));
  // And written back, the file is the same bytes.
  save_safetensors(path("again.safetensors"), load_safetensors(path("torch.safetensors")));
  EXPECT_EQ(read_file(path("again.safetensors")), bytes);
}

TEST_F(SafetensorsTest, MalformedHeadersAreRefusedWithClearErrors) {
  const std::string ok_entry = R"({"dtype":"F32","shape":[2,2],"data_offsets":[0,16]})";
  const std::vector<Malformed> cases = {
      {"invalid JSON", R"({"a":{"dtype":"F32",)", 0, {"not valid JSON"}},
      {"not an object", "[1, 2, 3]", 0, {"does not start with '{'"}},
      {"trailing garbage", R"({"a":)" + ok_entry + "}xyz", 16, {"not valid JSON"}},
      {"NUL padding", R"({"a":)" + ok_entry + "}" + std::string(3, '\0'), 16, {"not valid JSON"}},
      {"invalid UTF-8", "{\"a\xff\":" + ok_entry + "}", 16, {"not valid JSON"}},
      {"duplicate tensor", R"({"a":)" + ok_entry + R"(,"a":)" + ok_entry + "}", 16, {"tensor name 'a' appears twice"}},
      {"duplicate field", R"({"a":{"dtype":"F32","dtype":"F64","shape":[2,2],"data_offsets":[0,16]}})", 16,
       {"key 'dtype' appears twice"}},
      {"entry not an object", R"({"a":[1,2]})", 0, {"tensor 'a'", "must be an object"}},
      {"missing shape", R"({"a":{"dtype":"F32","data_offsets":[0,16]}})", 16, {"tensor 'a'", "no \"shape\""}},
      {"unknown field", R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16],"stride":[2,1]}})", 16,
       {"tensor 'a'", "unexpected field \"stride\""}},
      {"unknown dtype", R"({"conv.weight":{"dtype":"F17","shape":[2,2],"data_offsets":[0,16]}})", 16,
       {"tensor 'conv.weight'", "unknown dtype 'F17'", "BF16"}},
      {"dtype not a string", R"({"a":{"dtype":32,"shape":[2,2],"data_offsets":[0,16]}})", 16, {"dtype must be a string"}},
      {"negative size", R"({"a":{"dtype":"F32","shape":[-2,2],"data_offsets":[0,16]}})", 16, {"shape", "-2"}},
      {"fractional size", R"({"a":{"dtype":"F32","shape":[2.5,2],"data_offsets":[0,16]}})", 16, {"shape", "2.5"}},
      {"shape not an array", R"({"a":{"dtype":"F32","shape":"2x2","data_offsets":[0,16]}})", 16, {"shape must be an array"}},
      {"shape overflows", R"({"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,16]}})", 16,
       {"tensor 'a'", "overflows"}},
      {"zero-size shape overflows", R"({"a":{"dtype":"F32","shape":[0,4611686018427387904,4],"data_offsets":[0,0]}})", 0,
       {"tensor 'a'", "overflows"}},
      {"bytes overflow", R"({"a":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,16]}})", 16,
       {"tensor 'a'", "overflows"}},
      {"shape mismatch", R"({"fc.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[0,16]}})", 16,
       {"tensor 'fc.weight'", "shape [2, 3] of F32 needs 24 bytes", "span 16"}},
      {"F16 size mismatch", R"({"a":{"dtype":"F16","shape":[2,2],"data_offsets":[0,16]}})", 16, {"needs 8 bytes"}},
      {"one offset", R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[16]}})", 16, {"[begin, end]"}},
      {"reversed offsets", R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[16,0]}})", 16, {"end before they begin"}},
      {"out of range", R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[8,24]}})", 16,
       {"tensor 'a'", "reach beyond the 16 bytes"}},
      {"overlap", R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
       24, {"tensor 'b' (bytes [8, 24)) overlaps tensor 'a' (bytes [0, 16))"}},
      {"same offsets", R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"I32","shape":[4],"data_offsets":[0,16]}})",
       16, {"overlaps"}},
      {"gap", R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[20,36]}})",
       36, {"4 unused bytes [16, 20)", "before tensor 'b'"}},
      {"gap at the start", R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[4,20]}})", 20, {"before tensor 'a'"}},
      {"trailing bytes", R"({"a":)" + ok_entry + "}", 20, {"4 bytes after the last tensor"}},
      {"data but no tensor", "{}", 8, {"8 bytes after the last tensor"}},
      {"metadata not an object", R"({"__metadata__":["a"]})", 0, {"__metadata__ must be an object"}},
      {"metadata value not a string", R"({"__metadata__":{"epoch":3}})", 0, {"value of 'epoch' must be a string"}},
  };
  for (const Malformed& c : cases) {
    SCOPED_TRACE(c.what);
    const std::string file = path("bad.safetensors");
    write_raw(file, c.header, c.data_bytes);
    const std::string message = error_of([&] { load_safetensors(file); });
    expect_contains(message, c.error_mentions);
    expect_contains(message, {file});
  }
}

TEST_F(SafetensorsTest, HeaderLengthProblemsAreRefused) {
  const std::string file = path("bad.safetensors");
  for (size_t size = 0; size < 8; ++size) {
    write_file_atomically(file, std::string(size, '{'));
    expect_contains(error_of([&] { load_safetensors(file); }), {file, "too short"});
  }
  write_raw(file, "{}", 0, kSafetensorsMaxHeaderBytes + 1);
  expect_contains(error_of([&] { load_safetensors(file); }), {file, "header length 100000001 exceeds the limit"});
  write_raw(file, "{}", 0, ~uint64_t(0));
  expect_contains(error_of([&] { load_safetensors(file); }), {"exceeds the limit"});
  write_raw(file, "{}", 90, 1000);
  expect_contains(error_of([&] { load_safetensors(file); }),
                  {file, "header length 1000 goes beyond the end of the file (100 bytes"});
  write_raw(file, "", 0, 0);
  expect_contains(error_of([&] { load_safetensors(file); }), {"does not start with"});
  write_file_atomically(file, std::string("PK\x03\x04\x14\0\0\0\0\0rest of a zip", 24));
  expect_contains(error_of([&] { load_safetensors(file); }), {"zip archive", "from-torch"});
  expect_contains(error_of([&] { load_safetensors(path("missing.safetensors")); }), {"cannot open", "missing.safetensors"});
  expect_contains(error_of([&] { load_safetensors(dir_.string()); }), {"not a regular file"});
}

TEST_F(SafetensorsTest, ValidFilesWithUnreadableTensorsListButDoNotLoad) {
  const std::string file = path("odd.safetensors");
  write_raw(file,
            R"({"ok":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"shorts":{"dtype":"I16","shape":[4],"data_offsets":[8,16]},)"
            R"("deep":{"dtype":"U8","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[16,17]}})",
            17);
  const SafetensorsFile listed(file);
  ASSERT_EQ(listed.entries().size(), 3u);
  EXPECT_EQ(listed.entry("shorts").dtype, "I16");
  EXPECT_EQ(listed.read("ok").numel(), 2);
  expect_contains(error_of([&] { listed.read("shorts"); }), {file, "tensor 'shorts'", "I16", "cannot read"});
  expect_contains(error_of([&] { listed.read("deep"); }), {"tensor 'deep'", "9 dimensions"});
  expect_contains(error_of([&] { listed.read("nothing"); }), {"no tensor named 'nothing'"});
  expect_contains(error_of([&] { load_safetensors(file); }), {"tensor '"});
}

TEST_F(SafetensorsTest, EveryTruncationIsRefused) {
  auto rng = test::test_rng();
  save_safetensors(path("full.safetensors"), random_contents(rng));
  const std::string bytes = read_file(path("full.safetensors"));
  for (size_t size = 0; size < bytes.size(); ++size) {
    std::ofstream(path("cut.safetensors"), std::ios::binary | std::ios::trunc) << bytes.substr(0, size);
    EXPECT_FALSE(error_of([&] { load_safetensors(path("cut.safetensors")); }).empty()) << "cut at " << size;
  }
}

// Damage to the header either is refused or still describes a consistent file; never a crash.
// (safetensors has no checksum: damaged tensor bytes load as they are. Checkpoints have one.)
TEST_F(SafetensorsTest, RandomlyDamagedHeadersNeverCrash) {
  auto rng = test::test_rng();
  save_safetensors(path("full.safetensors"), random_contents(rng));
  const std::string bytes = read_file(path("full.safetensors"));
  const size_t data_offset = SafetensorsFile(path("full.safetensors")).data_offset();
  int refused = 0;
  for (int trial = 0; trial < 400; ++trial) {
    std::string damaged = bytes;
    for (int flips = 1 + int(rng() % 3); flips > 0; --flips) damaged[rng() % data_offset] ^= char(1 + rng() % 255);
    std::ofstream(path("damaged.safetensors"), std::ios::binary | std::ios::trunc) << damaged;
    try {
      const Safetensors loaded = load_safetensors(path("damaged.safetensors"));
      EXPECT_LE(loaded.tensors.size(), 10u);
    } catch (const Error&) {
      ++refused;
    }
  }
  EXPECT_GT(refused, 300);
}

// ---- check_shapes -----------------------------------------------------------------------------------

TEST(SafetensorsCheckShapes, NamesEveryMissingUnexpectedAndMisshapedTensor) {
  std::map<std::string, Tensor> tensors = {{"features.0.weight", Tensor::zeros({64, 3, 3, 3})},
                                           {"features.0.bias", Tensor::zeros({64})},
                                           {"classifier.6.weight", Tensor::zeros({1000, 4096})},
                                           {"extra.weight", Tensor::zeros({1})}};
  const std::map<std::string, Shape> expected = {{"features.0.weight", {64, 3, 3, 3}},
                                                 {"features.0.bias", {64}},
                                                 {"classifier.6.weight", {1539, 4096}},
                                                 {"classifier.6.bias", {1539}}};
  const std::string message = error_of([&] { check_shapes(tensors, expected, "vgg11.safetensors"); });
  expect_contains(message, {"vgg11.safetensors", "1 missing: classifier.6.bias", "1 unexpected: extra.weight",
                            "1 mis-shaped: classifier.6.weight is [1000, 4096] but should be [1539, 4096]"});

  tensors.erase("extra.weight");
  tensors["classifier.6.weight"] = Tensor::zeros({1539, 4096});
  tensors["classifier.6.bias"] = Tensor::zeros({1539});
  EXPECT_NO_THROW(check_shapes(tensors, expected, "vgg11.safetensors"));

  std::map<std::string, Shape> many;
  for (int i = 0; i < 25; ++i) many[fmt::format("layer{:02d}.weight", i)] = {1};
  expect_contains(error_of([&] { check_shapes({}, many, "empty.safetensors"); }),
                  {"25 missing: layer00.weight, layer01.weight", "layer09.weight and 15 more"});
}

// ---- cross-checks with Python ------------------------------------------------------------------------

const char* kPython = "/usr/bin/python3";

// Runs scripts/safetensors_reference.py with `arguments`; returns its output, or nullopt with a
// reason in `why_not` when Python or numpy (or torch, when `needs_torch`) is missing.
std::optional<std::string> run_reference_script(const std::string& arguments, bool needs_torch, std::string& why_not) {
  if (!fs::exists(kPython)) {
    why_not = fmt::format("{} is missing", kPython);
    return std::nullopt;
  }
  why_not = test::python_missing(needs_torch ? "numpy, torch" : "numpy");
  if (!why_not.empty()) return std::nullopt;
  const fs::path script = fs::path(I2V_SOURCE_DIR) / "scripts" / "safetensors_reference.py";
  const std::string command = fmt::format("{} '{}' {} 2>&1", kPython, script.string(), arguments);
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("popen failed: " + command);
  std::string output;
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) output.append(buffer, n);
  const int status = ::pclose(pipe);
  if (status != 0) throw std::runtime_error(fmt::format("`{}` failed ({}):\n{}", command, status, output));
  return output;
}

// Every "expected.X" tensor (F64, computed by numpy) against X as i2v loaded it, as doubles.
void expect_matches_expected_tensors(const Safetensors& loaded, size_t expected_count) {
  size_t checked = 0;
  for (const auto& [name, expected] : loaded.tensors) {
    if (name.rfind("expected.", 0) != 0) continue;
    const std::string tensor_name = name.substr(9);
    ASSERT_TRUE(loaded.tensors.count(tensor_name)) << tensor_name;
    const Tensor& got = loaded.tensors.at(tensor_name);
    EXPECT_EQ(got.shape(), expected.shape()) << tensor_name;
    const std::vector<double> want = expected.to_vector<double>();
    const std::vector<double> have = got.cast(DType::f64).to_vector<double>();
    ASSERT_EQ(have.size(), want.size()) << tensor_name;
    for (size_t i = 0; i < want.size(); ++i) {
      if (std::isnan(want[i]))
        ASSERT_TRUE(std::isnan(have[i])) << tensor_name << "[" << i << "]";
      else
        ASSERT_EQ(have[i], want[i]) << tensor_name << "[" << i << "]";
      ASSERT_EQ(std::signbit(have[i]), std::signbit(want[i])) << tensor_name << "[" << i << "]";
    }
    ++checked;
  }
  EXPECT_EQ(checked, expected_count);
}

TEST_F(SafetensorsTest, ReadsWhatPythonWrites) {
  const std::string file = path("python.safetensors");
  std::string why_not;
  if (!run_reference_script(fmt::format("write-fixture '{}' {}", file, test::run_seed() % 100000), false, why_not))
    FAIL() << why_not;
  const Safetensors loaded = load_safetensors(file);
  expect_matches_expected_tensors(loaded, 12);
  EXPECT_EQ(loaded.tensors.at("w.f16.all").dtype(), DType::f32);
  EXPECT_EQ(loaded.tensors.at("w.bf16").dtype(), DType::bf16);
  EXPECT_EQ(loaded.tensors.at("w.f64").dtype(), DType::f64);
  EXPECT_EQ(loaded.tensors.at("w.i64").dtype(), DType::i64);
  EXPECT_EQ(loaded.tensors.at("w.bool").dtype(), DType::u8);
  EXPECT_EQ(loaded.tensors.at("w.u64").dtype(), DType::u64);
  EXPECT_EQ(loaded.tensors.at("w.scalar").shape(), Shape{});
  EXPECT_EQ(loaded.tensors.at("w.empty").shape(), Shape({0, 3}));
  EXPECT_EQ(loaded.metadata.at("writer"), "safetensors_reference.py");
}

TEST_F(SafetensorsTest, PythonReadsWhatWeWrite) {
  auto rng = test::test_rng();
  const Safetensors saved = random_contents(rng);
  save_safetensors(path("ours.safetensors"), saved);
  std::string why_not;
  if (!run_reference_script(fmt::format("roundtrip '{}' '{}'", path("ours.safetensors"), path("theirs.safetensors")),
                            false, why_not))
    FAIL() << why_not;
  Safetensors back = load_safetensors(path("theirs.safetensors"));
  for (const auto& [name, tensor] : saved.tensors) {
    double sum = 0;
    for (double v : tensor.cast(DType::f64).to_vector<double>()) sum += v;
    const double python_sum = std::stod(back.metadata.at("python.sum." + name));
    if (std::isnan(sum))
      EXPECT_TRUE(std::isnan(python_sum)) << name;
    else
      EXPECT_NEAR(python_sum, sum, 1e-9 * std::max(1.0, std::fabs(sum))) << name;
    back.metadata.erase("python.sum." + name);
  }
  expect_same_contents(back, saved);
}

TEST_F(SafetensorsTest, ConvertsAPyTorchStateDict) {
  std::string why_not;
  const std::string pth = path("state.pth"), expected = path("expected.safetensors"), converted = path("converted.safetensors");
  if (!run_reference_script(fmt::format("torch-fixture '{}' '{}' {}", pth, expected, test::run_seed() % 100000), true,
                            why_not))
    FAIL() << why_not;
  run_reference_script(fmt::format("from-torch '{}' '{}'", pth, converted), true, why_not);
  Safetensors both = load_safetensors(converted);
  for (auto& [name, tensor] : load_safetensors(expected).tensors) both.tensors[name] = tensor;
  expect_matches_expected_tensors(both, 11);
  EXPECT_EQ(both.tensors.at("0.weight").shape(), Shape({4, 3, 3, 3}));
  EXPECT_EQ(both.tensors.at("1.num_batches_tracked").dtype(), DType::i64);
  EXPECT_EQ(SafetensorsFile(converted).entry("bf16.weight").dtype, "BF16");
  EXPECT_EQ(SafetensorsFile(converted).entry("half.weight").dtype, "F16");
}

}  // namespace
}  // namespace i2v
