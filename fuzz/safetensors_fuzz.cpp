// safetensors (nn/safetensors.h): the header, then every tensor read on its own.
#include "fuzz/fuzz_input.h"
#include "nn/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace i2v;
  const fuzz::InputFile input(data, size, "safetensors");
  fuzz::expect_clean_error(input.path(), [&] {
    const SafetensorsFile file(input.path());
    for (const SafetensorsEntry& entry : file.entries())
      fuzz::expect_clean_error(input.path(), [&] { file.read(entry); });  // an unsupported dtype is refused alone
  });
  return 0;
}
