// `i2v hash`: 4,096-bit hash codes of pictures with a trained i2v-feature model: encode1 > 0 (its
// sigmoid > 0.5), packed 8 bits a byte, most significant bit first (numpy's packbits).
#include <algorithm>
#include <cstdio>
#include <numeric>

#include "apps/command_inputs.h"
#include "apps/commands.h"
#include "apps/results.h"
#include "apps/data_options.h"
#include "index/code_store.h"
#include "base/error.h"
#include "nn/npy.h"
#include "index/hashing.h"
#include "train/inference.h"

namespace i2v::app {
namespace {

void add_hash_command(CLI::App& app) {
  static PictureOptions pictures;
  static std::string weights, output, layer = "encode1";
  static bool force = false;
  CLI::App* cmd = app.add_subcommand("hash", "4,096-bit hash codes of pictures (for i2v index / search / morph)");
  pictures.add(cmd);
  cmd->add_option("--weights", weights, "An i2v-feature model's weights")->required();
  cmd->add_option("-o,--output", output, "A code store (.i2vcodes, for i2v index/search/morph) or a .npy (uint8 N x bits/8)")
      ->required();
  cmd->add_option("--layer", layer, "The layer whose sign gives the bits (its sigmoid > 0.5)")->capture_default_str();
  add_force_flag(cmd, force);
  cmd->footer(
      "Bit j of a picture is 1 when its encode1 activation j is positive, i.e. when the sigmoid\n"
      "feature (encode1neuron) is above 0.5. Codes are packed MSB-first, 512 bytes for 4,096 bits,\n"
      "as numpy.packbits. With a dataset, ids are the post ids; with files, their positions.\n\n"
      "Examples:\n"
      "  i2v hash pictures/ --weights runs/feature/best.safetensors -o pictures.i2vcodes\n"
      "  i2v hash --metadata dump/metadata.jsonl --images dump --weights w.safetensors -o all.i2vcodes");
  cmd->callback([] {
    CommandFiles files;
    add_inputs(files, pictures);
    files.input("--weights", weights).output("-o", output, Existing::needs_force);
    files.check(force);
    const Device device = pictures.device.apply();
    TrainedModel model = load_trained_model(weights, device);
    const auto dataset = pictures.open(model.preprocess);
    std::vector<uint8_t> packed;
    std::vector<int64_t> ids;
    std::vector<std::string> paths;
    int bits = 0;
    run_model(*model.model, dataset, device, layer, pictures.batch, pictures.workers,
              [&](const Batch& batch, const Tensor& activations) {
                I2V_CHECK(activations.dim() == 2 && activations.size(1) % 64 == 0,
                          "layer {} gives {}: a hash needs [N, bits] with bits a multiple of 64", layer,
                          shape_str(activations.shape()));
                bits = int(activations.size(1));
                const std::vector<uint8_t> rows = pack_signs(activations);
                packed.insert(packed.end(), rows.begin(), rows.end());
                ids.insert(ids.end(), batch.ids.begin(), batch.ids.end());
                paths.insert(paths.end(), batch.paths.begin(), batch.paths.end());
              });
    const int64_t n = int64_t(ids.size()), row_bytes = bits / 8;
    if (output.size() > 4 && output.compare(output.size() - 4, 4, ".npy") == 0) {
      write_npy(output, NpyType::u8, {n, row_bytes}, packed.data());
    } else {
      // A store keeps its rows in id order.
      std::vector<int64_t> order(static_cast<size_t>(n));
      std::iota(order.begin(), order.end(), 0);
      std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return ids[size_t(a)] < ids[size_t(b)]; });
      std::vector<uint64_t> words(size_t(n * row_bytes / 8));
      std::vector<int64_t> sorted_ids;
      std::vector<std::string> sorted_paths;
      for (int64_t r = 0; r < n; ++r) {
        const int64_t from = order[size_t(r)];
        std::memcpy(&words[size_t(r * row_bytes / 8)], &packed[size_t(from * row_bytes)], size_t(row_bytes));
        sorted_ids.push_back(ids[size_t(from)]);
        sorted_paths.push_back(paths[size_t(from)]);
      }
      write_code_store(output, code_source(CodeView{words.data(), n, bits / 64}, sorted_ids,
                                           paths_for_store(sorted_paths, output)));
    }
    std::printf("wrote %s: %lld codes of %d bits\n", output.c_str(), static_cast<long long>(n), bits);
  });
}

const bool registered = register_command("hash", add_hash_command);

}  // namespace
}  // namespace i2v::app
