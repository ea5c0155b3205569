// `i2v tsne`: a 2-D map of illustrations (Illustration2Vec Fig. 5) by Barnes-Hut t-SNE over their
// binary codes or float features: coordinates as CSV, and a PNG of thumbnails.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <numeric>
#include <random>

#include "apps/command_inputs.h"
#include "apps/commands.h"
#include "apps/device_options.h"
#include "apps/option_checks.h"
#include "apps/results.h"
#include "base/error.h"
#include "index/code_store.h"
#include "index/knn.h"
#include "base/progress.h"
#include "apps/render.h"
#include "index/tsne.h"
#include "nn/npy.h"
#include "base/atomic_file.h"

namespace i2v::app {
namespace {

struct TsneCommandOptions {
  std::string store, features, paths, labels, csv, png, image_root, device = "cpu";
  int64_t sample = 0;
  int size = 4096, thumb = 64;
  TsneOptions tsne;
};

// The points of the map: rows of the input, their ids, image paths and labels.
struct Points {
  std::vector<int64_t> rows, ids;
  std::vector<std::string> paths;
  std::vector<int64_t> labels;
};

std::vector<int64_t> chosen_rows(int64_t count, int64_t sample, uint64_t seed) {
  std::vector<int64_t> rows(static_cast<size_t>(count));
  std::iota(rows.begin(), rows.end(), int64_t(0));
  if (sample > 0 && sample < count) {
    std::shuffle(rows.begin(), rows.end(), std::mt19937_64(seed));
    rows.resize(size_t(sample));
    std::sort(rows.begin(), rows.end());
  }
  return rows;
}

std::vector<int64_t> read_labels(const std::string& file, int64_t count) {
  const Tensor t = read_npy_tensor(file);
  I2V_CHECK(t.dim() == 1 && t.size(0) == count && (t.dtype() == DType::i64 || t.dtype() == DType::i32),
            "{}: labels must be an int32/int64 array of {} elements, not {} of {}", file, count, shape_str(t.shape()),
            dtype_name(t.dtype()));
  return t.cast(DType::i64).to_vector<int64_t>();
}

Neighbourhoods neighbourhoods_of_codes(const CodeStore& store, Points& points, const TsneCommandOptions& o) {
  const int words = store.words();
  std::vector<uint64_t> codes;
  codes.reserve(points.rows.size() * size_t(words));
  for (int64_t row : points.rows) {
    codes.insert(codes.end(), store.code(row), store.code(row) + words);
    points.ids.push_back(store.id(row));
    points.paths.push_back(store.has_paths() ? picture_file(store, row, o.image_root) : std::string());
  }
  const int64_t n = int64_t(points.rows.size());
  Progress meter("neighbours", n, "queries", double(n - 1), "pairs");
  const KnnLists knn = all_pairs_knn({codes.data(), n, words}, tsne_neighbours(o.tsne.perplexity, n),
                                     Device::parse(o.device), [&](int64_t done, int64_t) { meter.update(done); });
  meter.finish();
  return neighbourhoods_from_knn(knn);
}

Neighbourhoods neighbourhoods_of_features(Points& points, const TsneCommandOptions& o) {
  const Tensor features = read_npy_tensor(o.features);
  I2V_CHECK(features.dim() == 2 && (features.dtype() == DType::f32 || features.dtype() == DType::f64),
            "{}: features must be a float32/float64 array N x D, not {} of {}", o.features, shape_str(features.shape()),
            dtype_name(features.dtype()));
  const std::vector<float> all = features.cast(DType::f32).to_vector<float>();
  const int dims = int(features.size(1));
  std::vector<float> chosen;
  for (int64_t row : points.rows) chosen.insert(chosen.end(), all.begin() + row * dims, all.begin() + (row + 1) * dims);
  const std::vector<std::string> paths = o.paths.empty() ? std::vector<std::string>{} : read_path_list(o.paths);
  I2V_CHECK(paths.empty() || int64_t(paths.size()) == features.size(0), "{}: {} image paths for the {} rows of {}",
            o.paths, paths.size(), features.size(0), o.features);
  for (int64_t row : points.rows) {
    points.ids.push_back(row);
    points.paths.push_back(paths.empty() ? std::string() : resolve_image_path(o.image_root, paths[size_t(row)]));
  }
  const int64_t n = int64_t(points.rows.size());
  Progress meter("neighbours", n, "points");
  Neighbourhoods nb = float_neighbourhoods(chosen.data(), n, dims, tsne_neighbours(o.tsne.perplexity, n),
                                           [&](int64_t done, int64_t) { meter.update(done); });
  meter.finish();
  return nb;
}

void run_tsne(TsneCommandOptions o) {
  I2V_CHECK(o.store.empty() != o.features.empty(), "give either --store (binary codes) or --features (a float .npy)");
  Points points;
  Neighbourhoods nb;
  int64_t total = 0;
  CommandFiles files;
  files.input("--store", o.store).input("--features", o.features).input("--paths", o.paths).input("--labels", o.labels);
  files.output("--csv", o.csv).output("--png", o.png);
  if (!o.store.empty()) {
    const CodeStore store = CodeStore::open(o.store);
    add_store_pictures(files, store, o.image_root, o.png);
    files.check();
    total = store.size();
    points.rows = chosen_rows(total, o.sample, o.tsne.seed);
    nb = neighbourhoods_of_codes(store, points, o);
  } else {
    files.check();
    total = read_npy_header(o.features).shape.at(0);
    points.rows = chosen_rows(total, o.sample, o.tsne.seed);
    nb = neighbourhoods_of_features(points, o);
  }
  if (!o.labels.empty()) {
    const std::vector<int64_t> labels = read_labels(o.labels, total);
    for (int64_t row : points.rows) points.labels.push_back(labels[size_t(row)]);
  }
  Progress meter("t-SNE", o.tsne.iterations, "iterations");
  o.tsne.progress = [&](int iteration, int) { meter.update(iteration); };
  const std::vector<float> xy = tsne(nb, o.tsne);
  meter.finish();

  std::string csv = "row,id,x,y,path\n";
  for (size_t i = 0; i < points.rows.size(); ++i)
    csv += fmt::format("{},{},{:.6g},{:.6g},\"{}\"\n", points.rows[i], points.ids[i], xy[2 * i], xy[2 * i + 1],
                       points.paths[i]);
  write_file_atomically(o.csv, csv);
  std::printf("wrote %s: %s points (row, id, x, y, path)\n", o.csv.c_str(), format_count(int64_t(points.rows.size())).c_str());
  if (o.png.empty()) return;
  const bool have_images = std::any_of(points.paths.begin(), points.paths.end(), [](const std::string& p) { return !p.empty(); });
  Image canvas;
  std::vector<std::string> failures;
  const int drawn = thumbnail_map(xy, have_images ? points.paths : std::vector<std::string>{}, points.labels, o.size, o.thumb,
                                  o.tsne.seed, canvas, failures);
  save_png(o.png, canvas);
  for (size_t f = 0; f < std::min<size_t>(failures.size(), 5); ++f) std::fprintf(stderr, "tsne: %s\n", failures[f].c_str());
  std::printf("wrote %s: %dx%d, %d thumbnails%s, a dot per point%s\n", o.png.c_str(), o.size, o.size, drawn,
              failures.empty() ? "" : fmt::format(" ({} unreadable, drawn crossed)", failures.size()).c_str(),
              points.labels.empty() ? "" : " coloured by label");
}

void add_tsne_command(CLI::App& app) {
  auto o = std::make_shared<TsneCommandOptions>();
  CLI::App* cmd = app.add_subcommand("tsne", "A 2-D map of illustrations by t-SNE: CSV coordinates and a thumbnail PNG");
  cmd->add_option("--store", o->store, "Map the binary codes of this store (neighbours by Hamming distance)");
  cmd->add_option("--features", o->features, "Or map these float features: a float32/float64 .npy N x D");
  cmd->add_option("--paths", o->paths, "With --features: a text file of image paths, one per row");
  cmd->add_option("--labels", o->labels, "int32/int64 .npy of a label per item: colours the dots");
  cmd->add_option("--csv", o->csv, "The coordinates to write (row, id, x, y, path)")->required();
  cmd->add_option("--png", o->png, "The map to draw");
  cmd->add_option("--images", o->image_root, "The image root the relative image paths are under (default: the store's own folder; with --features, "
                  "the current directory)");
  add_deprecated_alias(cmd, "--image-root", o->image_root, "--images");
  cmd->add_option("--sample", o->sample, "Map a random sample of this many items (the paper: 1,000)")
      ->check(at_least(0));
  cmd->add_option("--perplexity", o->tsne.perplexity, "Effective number of neighbours")
      ->capture_default_str()->check(above(0));
  cmd->add_option("--iterations", o->tsne.iterations, "Gradient steps")->capture_default_str()->check(at_least(1));
  cmd->add_option("--theta", o->tsne.theta, "Barnes-Hut accuracy (0 = exact, slow)")
      ->capture_default_str()->check(in_range(0, 1));
  cmd->add_option("--learning-rate", o->tsne.learning_rate, "0 = max(N/48, 50)")
      ->capture_default_str()->check(at_least(0));
  cmd->add_option("--seed", o->tsne.seed, "Seed of the initial map and of --sample")->capture_default_str();
  cmd->add_option("--size", o->size, "Map size in pixels")->capture_default_str()->check(at_least(1));
  cmd->add_option("--thumb", o->thumb, "Thumbnail size in pixels")->capture_default_str()->check(at_least(1));
  add_device_option(cmd, o->device, "Device of the Hamming k-NN (cpu, sim, cuda)");
  cmd->footer(
      "Barnes-Hut t-SNE (van der Maaten 2014): exact 3*perplexity nearest neighbours, then O(N log N) per\n"
      "step, so tens of thousands of points take minutes on a CPU. The same input and seed give the same\n"
      "map on any number of threads. The PNG snaps thumbnails to a grid of --thumb cells, one per cell,\n"
      "over a dot for every point.\n\n"
      "Examples:\n"
      "  i2v tsne --store safe.i2vcodes --sample 1000 --csv map.csv --png map.png\n"
      "  i2v tsne --features fc7.npy --paths images.txt --labels tags.npy --csv map.csv --png map.png");
  cmd->callback([o] { run_tsne(*o); });
}

const bool registered = register_command("tsne", add_tsne_command);

}  // namespace
}  // namespace i2v::app
