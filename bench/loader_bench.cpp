// Pictures per second through i2v's DataLoader: decoded, resized to 224×224 (the release's
// preprocessing, random flips) and batched by 64, with W worker threads, wall-clock time over at
// least SECONDS. bench/loader_bench.sh runs it over the same pictures as JPEG and WebP, from a
// folder dump and from tar shards, beside torchvision's DataLoader + PIL (bench/loader_bench.py).
//
//   loader_bench METADATA IMAGES SECONDS WORKERS...   a folder dump (metadata.jsonl + image root)
//   loader_bench SHARD_GLOB - SECONDS WORKERS...       a dump in tar shards
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "data/data_loader.h"
#include "data/dataset.h"
#include "data/shards.h"
#include "data/vocabulary.h"

using namespace i2v;

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: loader_bench METADATA IMAGES SECONDS WORKERS... | loader_bench SHARD_GLOB - SECONDS WORKERS...\n");
    return 2;
  }
  try {
    const std::string source_path = argv[1], images = argv[2];
    const double seconds = std::atof(argv[3]);
    const bool shards = images == "-";
    const std::vector<std::string> metadata = shards ? shard_files({source_path}) : std::vector<std::string>{source_path};
    DataReport report;
    const Vocabulary vocabulary = build_vocabulary(metadata, VocabularyOptions{}, report);
    DanbooruSource source;
    source.metadata = metadata;
    source.images = shards ? "" : images;
    source.split.fractions = {1, 0, 0};
    const auto contents = std::make_shared<const DatasetContents>(read_danbooru(source, vocabulary));
    DatasetOptions options;
    options.preprocess = Preprocess::i2v();
    options.preprocess.hflip = true;
    auto dataset = std::make_shared<const Dataset>(contents, Split::train, options);
    std::printf("%lld pictures from %s%s\n", static_cast<long long>(dataset->size()), source_path.c_str(),
                shards ? " (tar shards)" : "");
    for (int a = 4; a < argc; ++a) {
      LoaderOptions loader_options;
      loader_options.batch_size = 64;
      loader_options.workers = std::atoi(argv[a]);
      DataLoader loader(dataset, loader_options);
      int64_t pictures = 0;
      loader.next();  // the workers started and warm
      const auto start = std::chrono::steady_clock::now();
      double elapsed = 0;
      while (elapsed < seconds) {
        while (std::optional<Batch> batch = loader.next()) pictures += batch->size();
        elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      }
      std::printf("workers %d: %8.1f pictures/s (%lld in %.1f s)\n", loader_options.workers, double(pictures) / elapsed,
                  static_cast<long long>(pictures), elapsed);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "loader_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
