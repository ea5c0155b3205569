// .npy reading and writing: round trips of every supported type, the layouts that are refused,
// and agreement with numpy itself when /usr/bin/python3 has it.
#include <cstring>
#include <fstream>

#include <gtest/gtest.h>

#include "kernels/error.h"
#include "nn/npy.h"
#include "tests/index_test_util.h"

namespace i2v {
namespace {

using test::ScratchDir;

NpyArray random_array(NpyType type, const Shape& shape, std::mt19937_64& rng) {
  NpyArray array{type, shape, std::vector<uint8_t>(size_t(shape_numel(shape)) * npy_type_size(type))};
  for (uint8_t& b : array.bytes) b = uint8_t(rng());
  if (type == NpyType::boolean)
    for (uint8_t& b : array.bytes) b &= 1;
  if (type == NpyType::f32 || type == NpyType::f64) {  // finite values, so == compares them
    for (size_t i = 0; i < array.bytes.size(); i += npy_type_size(type)) {
      if (type == NpyType::f32) {
        const float v = float(rng() % 100000) / 7.0f - 5000.0f;
        std::memcpy(&array.bytes[i], &v, 4);
      } else {
        const double v = double(rng() % 1000000) / 7.0 - 50000.0;
        std::memcpy(&array.bytes[i], &v, 8);
      }
    }
  }
  return array;
}

// Raw .npy bytes with the given header dict (version 1.0), for files numpy would not write.
std::string npy_file_with_header(const std::string& dict, const std::string& data) {
  std::string header = dict;
  while ((10 + header.size() + 1) % 64) header += ' ';
  header += '\n';
  std::string out = std::string("\x93NUMPY\x01\x00", 8);
  out += char(header.size() & 0xFF);
  out += char(header.size() >> 8);
  return out + header + data;
}

void write_bytes(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

// Expects reading `path` to throw an Error whose message contains `fragment`.
void expect_refused(const std::string& path, const std::string& fragment) {
  SCOPED_TRACE(path);
  test::expect_error([&] { read_npy(path); }, fragment);
}

TEST(Npy, RoundTripEveryTypeAndShape) {
  ScratchDir dir;
  auto rng = test::test_rng();
  const NpyType types[] = {NpyType::f32, NpyType::f64, NpyType::i32, NpyType::i64,
                           NpyType::u8,  NpyType::u64, NpyType::boolean};
  const Shape shapes[] = {{}, {0}, {7}, {3, 5}, {2, 0, 4}, {2, 3, 4, 5}};
  for (NpyType type : types) {
    for (const Shape& shape : shapes) {
      const NpyArray array = random_array(type, shape, rng);
      const std::string path = dir.file("a.npy");
      write_npy(path, array);
      const NpyHeader header = read_npy_header(path);
      EXPECT_EQ(header.data_offset % 64, 0u);
      const NpyArray back = read_npy(path);
      EXPECT_EQ(back.type, type) << npy_descr(type);
      EXPECT_EQ(back.shape, shape) << npy_descr(type);
      EXPECT_EQ(back.bytes, array.bytes) << npy_descr(type) << " " << shape_str(shape);
    }
  }
}

TEST(Npy, TensorRoundTripFromAView) {
  ScratchDir dir;
  auto rng = test::test_rng();
  const Tensor t = test::random_tensor({4, 6}, rng);
  const Tensor view = t.transpose(0, 1);  // not contiguous: written in C order of the view
  write_npy(dir.file("t.npy"), view);
  const Tensor back = read_npy_tensor(dir.file("t.npy"));
  EXPECT_EQ(back.shape(), (Shape{6, 4}));
  EXPECT_EQ(back.to_vector<float>(), view.contiguous().to_vector<float>());
  const Tensor on_sim = read_npy_tensor(dir.file("t.npy"), Device::sim());
  EXPECT_EQ(on_sim.device(), Device::sim());
  EXPECT_EQ(on_sim.to_vector<float>(), back.to_vector<float>());
}

TEST(Npy, ReadsVersion2HeadersAndPythonTwoLongs) {
  ScratchDir dir;
  std::string dict = "{'descr': '<i4', 'fortran_order': False, 'shape': (2L, 1L), }";
  while ((12 + dict.size() + 1) % 64) dict += ' ';
  dict += '\n';
  std::string bytes = std::string("\x93NUMPY\x02\x00", 8);
  for (int i = 0; i < 4; ++i) bytes += char((dict.size() >> (8 * i)) & 0xFF);
  const int32_t values[2] = {-7, 123456};
  bytes += dict + std::string(reinterpret_cast<const char*>(values), sizeof values);
  write_bytes(dir.file("v2.npy"), bytes);
  const NpyArray array = read_npy(dir.file("v2.npy"));
  EXPECT_EQ(array.shape, (Shape{2, 1}));
  int32_t back[2];
  std::memcpy(back, array.bytes.data(), sizeof back);
  EXPECT_EQ(back[0], -7);
  EXPECT_EQ(back[1], 123456);
}

TEST(Npy, RefusesOtherLayoutsWithAClearMessage) {
  ScratchDir dir;
  const std::string four(16, '\x01');
  const std::string path = dir.file("bad.npy");
  const struct {
    const char* dict;
    std::string data;
    const char* fragment;
  } refused[] = {
      {"{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }", four, "big-endian"},
      {"{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", four, "Fortran"},
      {"{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", four, "object arrays"},
      {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (4,), }", four, "structured"},
      {"{'descr': '<f2', 'fortran_order': False, 'shape': (8,), }", four, "not supported"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", four, "truncated"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", four, "bytes after the data"},
      {"{'descr': '|b1', 'fortran_order': False, 'shape': (16,), }", std::string(15, '\x01') + '\x02',
       "bool array holds the byte 2"},
      {"{'descr': '<f4', 'shape': (4,), }", four, "lacks"},
  };
  for (const auto& r : refused) {
    write_bytes(path, npy_file_with_header(r.dict, r.data));
    expect_refused(path, r.fragment);
  }
  write_bytes(path, "PK\x03\x04 this is a zip file, e.g. an .npz");
  expect_refused(path, "bad magic");
  write_bytes(path, std::string("\x93NUMPY\x09\x00", 8) + "xx");
  expect_refused(path, "version 9");
  expect_refused(dir.file("missing.npy"), "cannot open");
}

TEST(Npy, AgreesWithNumpy) {
  if (!test::numpy_available()) GTEST_SKIP() << "/usr/bin/python3 with numpy is not installed (python3-numpy)";
  ScratchDir dir;
  auto rng = test::test_rng();
  // numpy writes, we read.
  const std::string script_write = R"(
import numpy as np
d = ')" + dir.file("") + R"('
np.save(d + 'f4.npy', np.arange(12, dtype=np.float32).reshape(3, 4) / 3)
np.save(d + 'f8.npy', np.linspace(-1, 1, 5))
np.save(d + 'i4.npy', np.array([[-3, 2**31 - 1]], dtype=np.int32))
np.save(d + 'i8.npy', np.array([-2**40, 7], dtype=np.int64))
np.save(d + 'u1.npy', np.packbits(np.array([[1, 0, 1, 1, 0, 0, 0, 1, 1]], dtype=bool), axis=1))
np.save(d + 'b1.npy', np.array([True, False, True]))
np.save(d + 'u8.npy', np.array([2**64 - 1], dtype=np.uint64))
np.save(d + 'scalar.npy', np.float64(2.5))
np.save(d + 'fortran.npy', np.asfortranarray(np.ones((2, 3), dtype=np.float32)))
np.save(d + 'big.npy', np.ones(3, dtype='>f4'))
)";
  ASSERT_EQ(test::run_python(script_write, dir.file("")), 0);
  auto values_f32 = read_npy_tensor(dir.file("f4.npy")).to_vector<float>();
  ASSERT_EQ(values_f32.size(), 12u);
  for (int i = 0; i < 12; ++i) EXPECT_EQ(values_f32[size_t(i)], float(i) / 3.0f);
  EXPECT_EQ(read_npy_tensor(dir.file("f8.npy")).to_vector<double>(), (std::vector<double>{-1, -0.5, 0, 0.5, 1}));
  EXPECT_EQ(read_npy_tensor(dir.file("i4.npy")).to_vector<int32_t>(), (std::vector<int32_t>{-3, 2147483647}));
  EXPECT_EQ(read_npy_tensor(dir.file("i8.npy")).to_vector<int64_t>(), (std::vector<int64_t>{-(int64_t(1) << 40), 7}));
  const NpyArray packed = read_npy(dir.file("u1.npy"));
  EXPECT_EQ(packed.shape, (Shape{1, 2}));
  EXPECT_EQ(packed.bytes, (std::vector<uint8_t>{0xB1, 0x80}));  // MSB first
  const NpyArray flags = read_npy(dir.file("b1.npy"));
  EXPECT_EQ(flags.type, NpyType::boolean);
  EXPECT_EQ(flags.bytes, (std::vector<uint8_t>{1, 0, 1}));
  EXPECT_EQ(read_npy_tensor(dir.file("u8.npy")).to_vector<uint64_t>(), (std::vector<uint64_t>{~uint64_t(0)}));
  const NpyArray scalar = read_npy(dir.file("scalar.npy"));
  EXPECT_TRUE(scalar.shape.empty());
  expect_refused(dir.file("fortran.npy"), "Fortran");
  expect_refused(dir.file("big.npy"), "big-endian");

  // We write, numpy reads and checks.
  const NpyArray a = random_array(NpyType::f32, {3, 7}, rng);
  const NpyArray b = random_array(NpyType::boolean, {5}, rng);
  const NpyArray c = random_array(NpyType::i64, {2, 2, 2}, rng);
  write_npy(dir.file("a.npy"), a);
  write_npy(dir.file("b.npy"), b);
  write_npy(dir.file("c.npy"), c);
  write_npy(dir.file("a.raw"), NpyType::u8, {int64_t(a.bytes.size())}, a.bytes.data());
  write_npy(dir.file("b.raw"), NpyType::u8, {int64_t(b.bytes.size())}, b.bytes.data());
  write_npy(dir.file("c.raw"), NpyType::u8, {int64_t(c.bytes.size())}, c.bytes.data());
  const std::string script_read = R"(
import numpy as np, sys
d = ')" + dir.file("") + R"('
for name, dtype, shape in (('a', np.float32, (3, 7)), ('b', np.bool_, (5,)), ('c', np.int64, (2, 2, 2))):
    x = np.load(d + name + '.npy')
    raw = np.load(d + name + '.raw', allow_pickle=False)
    if x.dtype != dtype or x.shape != shape or x.tobytes() != raw.tobytes():
        sys.exit('mismatch in ' + name)
)";
  EXPECT_EQ(test::run_python(script_read, dir.file("")), 0);
}

}  // namespace
}  // namespace i2v
