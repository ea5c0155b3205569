// .npy reading and writing: round trips of every supported type, the layouts that are refused,
// and agreement with numpy itself when /usr/bin/python3 has it.
#include <cstring>
#include <fstream>

#include <gtest/gtest.h>

#include "base/error.h"
#include "nn/npy.h"
#include "tests/index_test_util.h"
#include "tests/temp_directory.h"

namespace i2v {
namespace {

class NpyFile : public test::TempDirectoryTest {};

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

TEST_F(NpyFile, RoundTripEveryTypeAndShape) {
  auto rng = test::test_rng();
  const NpyType types[] = {NpyType::f32, NpyType::f64, NpyType::i32, NpyType::i64,
                           NpyType::u8,  NpyType::u64, NpyType::boolean};
  const Shape shapes[] = {{}, {0}, {7}, {3, 5}, {2, 0, 4}, {2, 3, 4, 5}};
  for (NpyType type : types) {
    for (const Shape& shape : shapes) {
      const NpyArray array = random_array(type, shape, rng);
      const std::string file = path("a.npy");
      write_npy(file, array);
      const NpyHeader header = read_npy_header(file);
      EXPECT_EQ(header.data_offset % 64, 0u);
      const NpyArray back = read_npy(file);
      EXPECT_EQ(back.type, type) << npy_descr(type);
      EXPECT_EQ(back.shape, shape) << npy_descr(type);
      EXPECT_EQ(back.bytes, array.bytes) << npy_descr(type) << " " << shape_str(shape);
    }
  }
}

TEST_F(NpyFile, TensorRoundTripFromAView) {
  auto rng = test::test_rng();
  const Tensor t = test::random_tensor({4, 6}, rng);
  const Tensor view = t.transpose(0, 1);  // not contiguous: written in C order of the view
  write_npy(path("t.npy"), view);
  const Tensor back = read_npy_tensor(path("t.npy"));
  EXPECT_EQ(back.shape(), (Shape{6, 4}));
  EXPECT_EQ(back.to_vector<float>(), view.contiguous().to_vector<float>());
  const Tensor on_sim = read_npy_tensor(path("t.npy"), Device::sim());
  EXPECT_EQ(on_sim.device(), Device::sim());
  EXPECT_EQ(on_sim.to_vector<float>(), back.to_vector<float>());
}

// numpy has no bfloat16: a bf16 tensor is written as float32, widened exactly; the '<V2' that
// np.save writes for ml_dtypes' bfloat16 is refused, saying what to do.
TEST_F(NpyFile, Bf16TensorsAreWrittenAsFloat32) {
  std::vector<bfloat16> values;
  for (uint16_t bits : {0x3f80, 0xc000, 0x3dcd, 0x7f7f, 0x0001, 0x8000, 0xff80, 0x7fff})
    values.push_back(bfloat16::from_bits(bits));
  const Tensor t = Tensor::from_vector(values, {2, 4}, Device::sim()).transpose(0, 1);
  write_npy(path("bf16.npy"), t);
  EXPECT_EQ(read_npy_header(path("bf16.npy")).type, NpyType::f32);
  const Tensor back = read_npy_tensor(path("bf16.npy"));
  EXPECT_EQ(back.dtype(), DType::f32);
  EXPECT_EQ(back.shape(), (Shape{4, 2}));
  const std::vector<float> got = back.to_vector<float>();
  const std::vector<bfloat16> expected = t.contiguous().to_vector<bfloat16>();
  for (size_t i = 0; i < got.size(); ++i) {
    uint32_t bits;
    std::memcpy(&bits, &got[i], 4);
    EXPECT_EQ(bits, uint32_t(expected[i].bits) << 16) << i;
  }
  test::expect_error([] { npy_type_of(DType::bf16); }, "no .npy type for bf16");

  const std::string bytes(8, '\x3f');
  write_bytes(path("ml_dtypes.npy"), npy_file_with_header("{'descr': '<V2', 'fortran_order': False, 'shape': (4,), }", bytes));
  expect_refused(path("ml_dtypes.npy"), "bfloat16");
  expect_refused(path("ml_dtypes.npy"), "a.astype(np.float32)");
}

TEST_F(NpyFile, ReadsVersion2HeadersAndPythonTwoLongs) {
  std::string dict = "{'descr': '<i4', 'fortran_order': False, 'shape': (2L, 1L), }";
  while ((12 + dict.size() + 1) % 64) dict += ' ';
  dict += '\n';
  std::string bytes = std::string("\x93NUMPY\x02\x00", 8);
  for (int i = 0; i < 4; ++i) bytes += char((dict.size() >> (8 * i)) & 0xFF);
  const int32_t values[2] = {-7, 123456};
  bytes += dict + std::string(reinterpret_cast<const char*>(values), sizeof values);
  write_bytes(path("v2.npy"), bytes);
  const NpyArray array = read_npy(path("v2.npy"));
  EXPECT_EQ(array.shape, (Shape{2, 1}));
  int32_t back[2];
  std::memcpy(back, array.bytes.data(), sizeof back);
  EXPECT_EQ(back[0], -7);
  EXPECT_EQ(back[1], 123456);
}

TEST_F(NpyFile, RefusesOtherLayoutsWithAClearMessage) {
  const std::string four(16, '\x01');
  const std::string bad = path("bad.npy");
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
      // Sizes whose products overflow (found by fuzz/npy_fuzz.cpp): elements, strides, bytes.
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (45091612508342400, 2666), }", four, "too large"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (0, 36028797018963968, 36028797018963968), }", "", "too large"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (2147483648, 2147483648), }", "", "too large"},
      {"{'descr': '|u1', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1), }", "x", "9 dimensions"},
  };
  for (const auto& r : refused) {
    write_bytes(bad, npy_file_with_header(r.dict, r.data));
    expect_refused(bad, r.fragment);
  }
  write_bytes(bad, "PK\x03\x04 this is a zip file, e.g. an .npz");
  expect_refused(bad, "bad magic");
  write_bytes(bad, std::string("\x93NUMPY\x09\x00", 8) + "xx");
  expect_refused(bad, "version 9");
  expect_refused(path("missing.npy"), "cannot open");
}

TEST_F(NpyFile, AgreesWithNumpy) {
  if (const std::string missing = test::python_missing("numpy"); !missing.empty()) FAIL() << missing;
  auto rng = test::test_rng();
  // numpy writes, we read.
  const std::string script_write = R"(
import numpy as np
d = ')" + path("") + R"('
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
  ASSERT_EQ(test::run_python(script_write, path("")), 0);
  auto values_f32 = read_npy_tensor(path("f4.npy")).to_vector<float>();
  ASSERT_EQ(values_f32.size(), 12u);
  for (int i = 0; i < 12; ++i) EXPECT_EQ(values_f32[size_t(i)], float(i) / 3.0f);
  EXPECT_EQ(read_npy_tensor(path("f8.npy")).to_vector<double>(), (std::vector<double>{-1, -0.5, 0, 0.5, 1}));
  EXPECT_EQ(read_npy_tensor(path("i4.npy")).to_vector<int32_t>(), (std::vector<int32_t>{-3, 2147483647}));
  EXPECT_EQ(read_npy_tensor(path("i8.npy")).to_vector<int64_t>(), (std::vector<int64_t>{-(int64_t(1) << 40), 7}));
  const NpyArray packed = read_npy(path("u1.npy"));
  EXPECT_EQ(packed.shape, (Shape{1, 2}));
  EXPECT_EQ(packed.bytes, (std::vector<uint8_t>{0xB1, 0x80}));  // MSB first
  const NpyArray flags = read_npy(path("b1.npy"));
  EXPECT_EQ(flags.type, NpyType::boolean);
  EXPECT_EQ(flags.bytes, (std::vector<uint8_t>{1, 0, 1}));
  EXPECT_EQ(read_npy_tensor(path("u8.npy")).to_vector<uint64_t>(), (std::vector<uint64_t>{~uint64_t(0)}));
  const NpyArray scalar = read_npy(path("scalar.npy"));
  EXPECT_TRUE(scalar.shape.empty());
  expect_refused(path("fortran.npy"), "Fortran");
  expect_refused(path("big.npy"), "big-endian");

  // We write, numpy reads and checks.
  const NpyArray a = random_array(NpyType::f32, {3, 7}, rng);
  const NpyArray b = random_array(NpyType::boolean, {5}, rng);
  const NpyArray c = random_array(NpyType::i64, {2, 2, 2}, rng);
  write_npy(path("a.npy"), a);
  write_npy(path("b.npy"), b);
  write_npy(path("c.npy"), c);
  write_npy(path("a.raw"), NpyType::u8, {int64_t(a.bytes.size())}, a.bytes.data());
  write_npy(path("b.raw"), NpyType::u8, {int64_t(b.bytes.size())}, b.bytes.data());
  write_npy(path("c.raw"), NpyType::u8, {int64_t(c.bytes.size())}, c.bytes.data());
  const std::string script_read = R"(
import numpy as np, sys
d = ')" + path("") + R"('
for name, dtype, shape in (('a', np.float32, (3, 7)), ('b', np.bool_, (5,)), ('c', np.int64, (2, 2, 2))):
    x = np.load(d + name + '.npy')
    raw = np.load(d + name + '.raw', allow_pickle=False)
    if x.dtype != dtype or x.shape != shape or x.tobytes() != raw.tobytes():
        sys.exit('mismatch in ' + name)
)";
  EXPECT_EQ(test::run_python(script_read, path("")), 0);
}

}  // namespace
}  // namespace i2v
