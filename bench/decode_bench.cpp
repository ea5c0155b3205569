// Decoding + resizing pictures for the network, images/s on one core: the data pipeline's
// throughput (bench/decode_bench.sh runs it beside PIL's, bench/decode_bench.py).
//
//   decode_bench make-jpegs DIR [COUNT] [SIDE]   synthetic illustrations, SIDE×SIDE JPEGs (q90)
//   decode_bench run DIR [SECONDS]               time each path over the JPEGs (or WebPs) of DIR
//   decode_bench loader METADATA IMAGES [SIZE]   DataLoader batches/s over a dump (e.g. the emoji
//                                                dump) in the calling thread, without and with
//                                                the picture cache
//
// The files are read into memory first (both here and in the PIL script), so the numbers are
// decoding and resizing, not the disk; time is the thread's CPU time, so that other processes
// on a shared machine do not count (images per CPU-second = per core). Paths timed, each to 224×224:
//   stb         stb_image full decode + area resize (what stb_image alone gives)
//   turbo-full  TurboJPEG full-size decode + area resize
//   turbo-dct   TurboJPEG DCT-domain scaled decode (1/2 for a 500×500 source) + area resize:
//               decode_image(min 224) + resize_image, the pipeline's path
//   pipeline    the same plus the i2v preprocessing to a float CHW input (Dataset::load minus the file read)
//   dct-decode  the DCT-scaled decode alone (to see decoding and resizing apart)
// and over WebPs: libwebp (decode + area resize), pipeline, decode (alone).
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <stb_image.h>

#include "base/atomic_file.h"
#include "base/file.h"
#include "data/data_loader.h"
#include "data/image.h"
#include "data/preprocess.h"
#include "base/random.h"

namespace {

namespace fs = std::filesystem;
using namespace i2v;

// An illustration-like picture: shaded background, outlined shapes with soft shading, and many
// thin curved strokes (hair, folds), so that a q90 JPEG of it has the size and detail of a real
// drawing rather than of flat colour.
Image synthetic_illustration(int side, uint64_t seed) {
  Rng rng(seed);
  Image image;
  image.width = image.height = side;
  image.rgb.resize(size_t(side) * size_t(side) * 3);
  const double base[3] = {rng.uniform(120, 250), rng.uniform(120, 250), rng.uniform(120, 250)};
  for (int y = 0; y < side; ++y)
    for (int x = 0; x < side; ++x)
      for (int c = 0; c < 3; ++c)
        image.pixel(x, y)[c] = uint8_t(std::clamp(base[c] - 60.0 * y / side + 20.0 * std::sin(x * 0.02 + c), 0.0, 255.0));
  for (int shape = 0; shape < 14; ++shape) {
    const double cx = rng.uniform(0, side), cy = rng.uniform(0, side);
    const double rx = rng.uniform(0.05, 0.3) * side, ry = rng.uniform(0.05, 0.3) * side;
    const double colour[3] = {rng.uniform(0, 255), rng.uniform(0, 255), rng.uniform(0, 255)};
    for (int y = std::max(0, int(cy - ry)); y < std::min(side, int(cy + ry) + 1); ++y)
      for (int x = std::max(0, int(cx - rx)); x < std::min(side, int(cx + rx) + 1); ++x) {
        const double d = std::hypot((x - cx) / rx, (y - cy) / ry);
        if (d > 1) continue;
        const double shade = 0.75 + 0.25 * (1 - d) + 0.1 * ((x - cx) / rx);
        for (int c = 0; c < 3; ++c)
          image.pixel(x, y)[c] = d > 1 - 3.0 / std::min(rx, ry) ? 30 : uint8_t(std::clamp(colour[c] * shade, 0.0, 255.0));
      }
  }
  for (int stroke = 0; stroke < 120; ++stroke) {
    double x = rng.uniform(0, side), y = rng.uniform(0, side), angle = rng.uniform(0, 6.283);
    const double turn = rng.uniform(-0.05, 0.05);
    const uint8_t ink = uint8_t(rng.uniform(0, 90));
    for (int step = 0; step < 150; ++step) {
      x += std::cos(angle);
      y += std::sin(angle);
      angle += turn;
      if (x < 0 || y < 0 || x >= side || y >= side) break;
      for (int c = 0; c < 3; ++c) image.pixel(int(x), int(y))[c] = ink;
    }
  }
  return image;
}

int make_jpegs(const std::string& dir, int count, int side) {
  fs::create_directories(dir);
  size_t bytes = 0;
  for (int i = 0; i < count; ++i) {
    const std::string jpeg = encode_jpeg(synthetic_illustration(side, uint64_t(i) + 1), 90);
    bytes += jpeg.size();
    write_file_atomically(fmt::format("{}/{:04d}.jpg", dir, i), jpeg);
  }
  std::printf("wrote %d %dx%d JPEGs (quality 90, 4:2:0), %.1f KB on average, to %s\n", count, side, side,
              double(bytes) / count / 1024, dir.c_str());
  return 0;
}

// This thread's CPU time: on a shared machine, other processes' time slices do not count, so
// the rate is images per second of one core's work.
double thread_seconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return double(now.tv_sec) + 1e-9 * double(now.tv_nsec);
}

// Runs `decode` over all files repeatedly for at least `seconds` of CPU time; images per
// CPU-second.
double images_per_second(const std::vector<std::string>& files, double seconds,
                         const std::function<void(const std::string&)>& decode) {
  for (const std::string& file : files) decode(file);  // warm-up
  const double start = thread_seconds();
  int64_t done = 0;
  double elapsed = 0;
  while (elapsed < seconds) {
    for (const std::string& file : files) decode(file);
    done += int64_t(files.size());
    elapsed = thread_seconds() - start;
  }
  return double(done) / elapsed;
}

int run(const std::string& dir, double seconds) {
  std::vector<std::string> files;
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().extension() == ".jpg" || entry.path().extension() == ".webp") names.push_back(entry.path().string());
  std::sort(names.begin(), names.end());
  if (names.empty()) {
    std::fprintf(stderr, "decode_bench: no .jpg or .webp in %s (run: decode_bench make-jpegs %s)\n", dir.c_str(), dir.c_str());
    return 1;
  }
  for (const std::string& name : names) files.push_back(read_file(name));
  const auto bytes = [](const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); };
  const ImageHeader first = read_image_header(bytes(files[0]), files[0].size(), names[0]);
  const bool jpeg = first.format == ImageFormat::jpeg;
  volatile float sink = 0;
  const auto stb = [&](const std::string& file) {
    int w = 0, h = 0, n = 0;
    unsigned char* pixels = stbi_load_from_memory(bytes(file), int(file.size()), &w, &h, &n, 3);
    Image image;
    image.width = w;
    image.height = h;
    image.rgb.assign(pixels, pixels + size_t(w) * size_t(h) * 3);
    stbi_image_free(pixels);
    sink = sink + resize_image(image, 224, 224).rgb[0];
  };
  const auto full = [&](const std::string& file) {
    sink = sink + resize_image(decode_image(bytes(file), file.size(), "bench"), 224, 224).rgb[0];
  };
  DecodeOptions scaled;
  scaled.min_width = scaled.min_height = 224;
  const auto turbo_dct = [&](const std::string& file) {
    sink = sink + resize_image(decode_image(bytes(file), file.size(), "bench", scaled), 224, 224).rgb[0];
  };
  const Preprocess i2v = Preprocess::i2v();
  std::vector<float> chw(224 * 224 * 3);
  const auto pipeline = [&](const std::string& file) {
    Rng rng(1);
    const Preprocess::DecodedView view = i2v.decode_view(file, "bench", kDefaultMaxPixels, 0, rng);
    i2v.view_to_chw(view.picture, view.box, false, chw.data());
    sink = sink + chw[0];
  };
  size_t total = 0;
  for (const std::string& file : files) total += file.size();
  std::printf("%zu %ss of %dx%d (%.1f KB on average) from %s, one thread, to 224x224\n", files.size(),
              image_format_name(first.format), first.width, first.height, double(total) / double(files.size()) / 1024,
              dir.c_str());
  const auto decode_alone = [&](const std::string& file) {
    sink = sink + decode_image(bytes(file), file.size(), "bench", scaled).rgb[0];
  };
  std::vector<std::pair<const char*, std::function<void(const std::string&)>>> paths;
  if (jpeg) paths = {{"stb", stb}, {"turbo-full", full}, {"turbo-dct", turbo_dct}, {"pipeline", pipeline}, {"dct-decode", decode_alone}};
  else paths = {{"libwebp", full}, {"pipeline", pipeline}, {"decode", decode_alone}};
  for (const auto& [name, decode] : paths) {
    std::vector<double> rates;
    for (int repeat = 0; repeat < 5; ++repeat) rates.push_back(images_per_second(files, seconds, decode));
    std::sort(rates.begin(), rates.end());
    std::printf("%-16s %8.1f images/s  (median of 5 runs of %.0f CPU-s)\n", name, rates[2], seconds);
  }
  return 0;
}

// Samples per CPU-second through a DataLoader with no worker thread (the caller decodes): the cost
// per core of feeding a training step, e.g. 64×64 emoji for the CPU demo.
int loader(const std::string& metadata, const std::string& images, int size) {
  DataReport report;
  const Vocabulary vocabulary = build_vocabulary({metadata}, VocabularyOptions{}, report);
  DanbooruSource source;
  source.metadata = {metadata};
  source.images = images;
  const auto contents = std::make_shared<const DatasetContents>(read_danbooru(source, vocabulary));
  std::printf("%zu posts of %s, %lld outputs, one thread, to %dx%d with random crops and flips\n",
              contents->items.size(), metadata.c_str(), static_cast<long long>(vocabulary.size()), size, size);
  for (bool cache : {false, true}) {
    DatasetOptions options;
    options.preprocess.size = size;
    options.preprocess.crop = CropMode::random;
    options.preprocess.hflip = true;
    options.cache = cache;
    auto dataset = std::make_shared<const Dataset>(contents, Split::train, options);
    LoaderOptions loader_options;
    loader_options.batch_size = 64;
    loader_options.workers = 0;
    DataLoader loader(dataset, loader_options);
    for (int epoch = 0; epoch < 3; ++epoch) {
      const double start = thread_seconds();
      int64_t samples = 0;
      while (std::optional<Batch> batch = loader.next()) samples += batch->size();
      std::printf("cache %-3s epoch %d: %8.1f samples/s (%lld samples)\n", cache ? "on" : "off", epoch,
                  double(samples) / (thread_seconds() - start), static_cast<long long>(samples));
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string command = argc > 1 ? argv[1] : "";
  try {
    if (command == "make-jpegs" && argc >= 3)
      return make_jpegs(argv[2], argc > 3 ? std::atoi(argv[3]) : 200, argc > 4 ? std::atoi(argv[4]) : 500);
    if (command == "run" && argc >= 3) return run(argv[2], argc > 3 ? std::atof(argv[3]) : 2.0);
    if (command == "loader" && argc >= 4) return loader(argv[2], argv[3], argc > 4 ? std::atoi(argv[4]) : 64);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "decode_bench: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr,
               "usage: decode_bench make-jpegs DIR [COUNT] [SIDE] | decode_bench run DIR [SECONDS] |\n"
               "       decode_bench loader METADATA IMAGES [SIZE]\n");
  return 2;
}
