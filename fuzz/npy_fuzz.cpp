// NumPy's .npy (nn/npy.h): the header, the data, and a tensor of it.
#include "fuzz/fuzz_input.h"
#include "nn/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace i2v;
  const fuzz::InputFile input(data, size, "npy");
  fuzz::expect_clean_error(input.path(), [&] {
    const Tensor tensor = read_npy_tensor(input.path());
    if (tensor.numel() != read_npy_header(input.path()).numel()) fuzz::finding("the tensor is not the header's", "");
  });
  return 0;
}
