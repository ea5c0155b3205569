#include "apps/serve_api.h"

#include <httplib.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "apps/render.h"
#include "apps/results.h"
#include "apps/serve_page.h"
#include "base/file.h"
#include "data/data_error.h"
#include "index/code_store.h"
#include "index/graph.h"
#include "index/hashing.h"
#include "index/knn.h"
#include "index/morph.h"
#include "train/tagging.h"

namespace i2v {
namespace {

// A refusal: the HTTP status and the reason the client reads in {"error": ...}.
struct Refusal {
  int status;
  std::string reason;
};

[[noreturn]] void refuse(int status, const std::string& reason) { throw Refusal{status, reason}; }

void reply_json(httplib::Response& res, const nlohmann::json& body, int status = 200) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void reply_error(httplib::Response& res, int status, const std::string& reason) {
  reply_json(res, {{"error", reason}, {"status", status}}, status);
}

// Query parameters: absent → the default; present but not a number in range → 400 naming it.
double number_parameter(const httplib::Request& req, const char* name, double fallback, double low, double high) {
  if (!req.has_param(name)) return fallback;
  const std::string text = req.get_param_value(name);
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || errno != 0 || !(value >= low && value <= high))
    refuse(400, fmt::format("{}={}: a number from {} to {}", name, text, low, high));
  return value;
}

int64_t integer_parameter(const httplib::Request& req, const char* name, int64_t fallback, int64_t low, int64_t high) {
  const double value = number_parameter(req, name, double(fallback), double(low), double(high));
  if (value != double(int64_t(value))) refuse(400, fmt::format("{}={}: a whole number", name, req.get_param_value(name)));
  return int64_t(value);
}

// The map written by `i2v tsne --csv`: row,id,x,y,path lines.
struct MapPoint {
  int64_t id;
  double x, y;
};

std::vector<MapPoint> read_map(const std::string& path) {
  std::istringstream lines(read_file(path));
  std::string line;
  std::vector<MapPoint> points;
  for (int number = 1; std::getline(lines, line); ++number) {
    if (number == 1) {
      I2V_CHECK(line.rfind("row,id,x,y", 0) == 0, "{}: not a map of `i2v tsne --csv` (its header is row,id,x,y,path)",
                path);
      continue;
    }
    if (line.empty()) continue;
    MapPoint point{};
    long long row = 0, id = 0;
    I2V_CHECK(std::sscanf(line.c_str(), "%lld,%lld,%lf,%lf", &row, &id, &point.x, &point.y) == 4,
              "{} line {}: not row,id,x,y,path", path, number);
    point.id = id;
    points.push_back(point);
  }
  return points;
}

const char* image_content_type(ImageFormat format) {
  switch (format) {
    case ImageFormat::jpeg: return "image/jpeg";
    case ImageFormat::png: return "image/png";
    case ImageFormat::gif: return "image/gif";
    case ImageFormat::bmp: return "image/bmp";
    case ImageFormat::webp: return "image/webp";
  }
  return "application/octet-stream";
}

// A decoding failure as an HTTP status: the client's picture is at fault in every case.
int status_of(const DataError& error) {
  switch (error.problem()) {
    case DataProblem::too_many_pixels: return 413;
    case DataProblem::unsupported_format: return 415;
    default: return 400;
  }
}

}  // namespace

struct ServeApi::State {
  ServeOptions options;
  std::unique_ptr<BatchedModel> tagger, hasher;
  std::optional<CodeStore> store;
  std::optional<NeighbourGraph> graph;
  std::vector<MapPoint> map;
  std::filesystem::path image_root;  // canonical
  int hash_bits = 0;
  bool has_cam = false;

  std::mutex thumbnails_mutex;
  std::map<int64_t, std::string> thumbnails;  // id → PNG
  std::deque<int64_t> thumbnail_order;        // oldest first, to bound the cache

  // --- the pictures a request names -------------------------------------------------------

  struct Picture {
    std::string bytes, name;
    std::optional<int64_t> row;  // when it is one of the store's
  };

  int64_t row_of(const std::string& text) const {
    if (!store) refuse(404, "no store is loaded: start i2v serve with --store");
    char* end = nullptr;
    errno = 0;
    const long long id = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || errno != 0) refuse(400, fmt::format("'{}' is not an item id (a whole number)", text));
    const std::optional<int64_t> row = store->find_id(id);
    if (!row) refuse(404, fmt::format("no item with id {}", id));
    return *row;
  }

  // The file of a store's item, only when it lies inside the image root.
  std::filesystem::path item_file(int64_t row) const {
    if (!store->has_paths()) refuse(404, "the store records no image paths (i2v index build --paths)");
    std::error_code error;
    const std::filesystem::path file =
        std::filesystem::canonical(resolve_image_path(image_root.string(), store->image_path(row)), error);
    if (error) refuse(404, fmt::format("the picture of item {} is missing", store->id(row)));
    const auto [root_end, file_end] = std::mismatch(image_root.begin(), image_root.end(), file.begin(), file.end());
    if (root_end != image_root.end() || !std::filesystem::is_regular_file(file))
      refuse(403, fmt::format("the picture of item {} lies outside the image root", store->id(row)));
    return file;
  }

  Picture picture_of(const httplib::Request& req) const {
    Picture picture;
    if (req.has_param("id")) {
      picture.row = row_of(req.get_param_value("id"));
      const std::filesystem::path file = item_file(*picture.row);
      picture.bytes = read_file(file.string());
      picture.name = file.filename().string();
    } else if (req.is_multipart_form_data()) {
      if (req.files.empty()) refuse(400, "the form holds no file: send the picture in the field \"picture\"");
      const httplib::MultipartFormData& file = req.has_file("picture") ? req.get_file_value("picture") : req.files.begin()->second;
      picture.bytes = file.content;
      picture.name = file.filename.empty() ? "upload" : file.filename;
    } else {
      picture.bytes = req.body;
      picture.name = "upload";
    }
    if (picture.bytes.empty()) refuse(400, "no picture: send its bytes as the body, a form field \"picture\", or ?id=ID");
    return picture;
  }

  // The picture as `model` takes it, decoded as `i2v tag` decodes a file (a JPEG at the DCT scale
  // that keeps the input's size).
  std::vector<float> prepare(const Picture& picture, const BatchedModel& model) const {
    const Preprocess& pre = model.preprocess();
    std::vector<float> chw(size_t(3) * size_t(pre.size) * size_t(pre.size));
    try {
      Rng unused(0);  // the centre view draws nothing
      const Preprocess::DecodedView view = pre.decode_view(picture.bytes, picture.name, options.max_pixels, 0, unused);
      pre.view_to_chw(view.picture, view.box, false, chw.data());
    } catch (const DataError& e) {
      refuse(status_of(e), e.message());
    }
    return chw;
  }

  Activation run(BatchedModel& model, std::vector<float> chw, const std::string& layer) const {
    std::future<Activation> result;
    try {
      result = model.submit(std::move(chw), layer);
    } catch (const QueueFull& e) {
      refuse(503, e.message());
    }
    if (result.wait_for(options.answer_timeout) != std::future_status::ready)
      refuse(503, fmt::format("the model did not answer within {} s", options.answer_timeout.count()));
    return result.get();
  }

  // --- items ------------------------------------------------------------------------------

  nlohmann::json item(int64_t row) const {
    const int64_t id = store->id(row);
    nlohmann::json out = {{"id", id}, {"row", row}};
    if (store->has_paths()) {
      out["name"] = std::filesystem::path(std::string(store->image_path(row))).filename().string();
      out["thumbnail"] = fmt::format("/items/{}/thumbnail", id);
      out["image"] = fmt::format("/items/{}/image", id);
    }
    return out;
  }

  std::string thumbnail_png(int64_t row) {
    const int64_t id = store->id(row);
    {
      std::lock_guard<std::mutex> lock(thumbnails_mutex);
      if (auto found = thumbnails.find(id); found != thumbnails.end()) return found->second;
    }
    std::vector<std::string> failures;
    const std::string png = encode_png(thumbnail(item_file(row).string(), options.thumbnail_size, failures));
    if (!failures.empty()) refuse(404, failures.front());
    std::lock_guard<std::mutex> lock(thumbnails_mutex);
    if (thumbnails.emplace(id, png).second) {
      thumbnail_order.push_back(id);
      if (thumbnail_order.size() > options.thumbnail_cache) {
        thumbnails.erase(thumbnail_order.front());
        thumbnail_order.pop_front();
      }
    }
    return png;
  }

  // --- the endpoints ----------------------------------------------------------------------

  void tag(const httplib::Request& req, httplib::Response& res) {
    const float threshold = float(number_parameter(req, "threshold", 0.25, 0, 1));
    const int top = int(integer_parameter(req, "top", 0, 0, 100000));
    const Picture picture = picture_of(req);
    const Activation logits = run(*tagger, prepare(picture, *tagger), "");
    const std::vector<float> probabilities = tag_probabilities(logits.values.data(), logits.values.size());
    nlohmann::json out = {{"image", picture.name}};
    if (picture.row) out["id"] = store->id(*picture.row);
    out.update(to_json(estimate_plausible_tags(probabilities.data(), tagger->trained().outputs, threshold, top)));
    reply_json(res, out);
  }

  void cam(const httplib::Request& req, httplib::Response& res) {
    if (!has_cam) refuse(404, fmt::format("the tagger has no layer {} of per-tag maps", options.cam_layer));
    if (!req.has_param("tag")) refuse(400, "?tag=: which tag's map to draw");
    std::string wanted = req.get_param_value("tag");
    std::replace(wanted.begin(), wanted.end(), ' ', '_');
    const std::vector<ModelOutput>& outputs = tagger->trained().outputs;
    const auto found = std::find_if(outputs.begin(), outputs.end(), [&](const ModelOutput& o) { return o.name == wanted; });
    if (found == outputs.end()) refuse(404, fmt::format("the tagger has no tag '{}'", req.get_param_value("tag")));
    const double opacity = number_parameter(req, "opacity", 0.5, 0, 1);
    const Picture picture = picture_of(req);
    const Activation maps = run(*tagger, prepare(picture, *tagger), options.cam_layer);
    if (maps.shape.size() != 3 || maps.shape[0] != int64_t(outputs.size()))
      refuse(404, fmt::format("layer {} gives {} per picture: a class activation map needs [outputs, H, W] "
                              "(i2v-tag's conv6_4)", options.cam_layer, shape_str(maps.shape)));
    const int64_t h = maps.shape[1], w = maps.shape[2], index = found - outputs.begin();
    const std::vector<float> map(maps.values.begin() + index * h * w, maps.values.begin() + (index + 1) * h * w);
    Image shown;
    try {
      shown = decode_image(reinterpret_cast<const uint8_t*>(picture.bytes.data()), picture.bytes.size(), picture.name,
                           {options.max_pixels, 256, 256});
    } catch (const DataError& e) {
      refuse(status_of(e), e.message());
    }
    const double scale = 256.0 / std::max(shown.width, shown.height);
    shown = resize_image(shown, std::max(1, int(std::lround(shown.width * scale))),
                         std::max(1, int(std::lround(shown.height * scale))));
    res.set_content(encode_png(class_activation_overlay(shown, map, h, w, float(opacity))), "image/png");
  }

  void similar(const httplib::Request& req, httplib::Response& res) {
    if (!store) refuse(404, "no store is loaded: start i2v serve with --store");
    const int k = int(integer_parameter(req, "k", 10, 1, std::min<int64_t>(1000, store->size())));
    std::vector<uint64_t> code(size_t(store->words()));
    nlohmann::json query;
    std::optional<int64_t> leave_out;
    if (req.has_param("id")) {  // an item of the store: its stored code, as `i2v search` does
      const int64_t row = row_of(req.get_param_value("id"));
      std::copy_n(store->code(row), store->words(), code.data());
      query = item(row);
      leave_out = row;
    } else {
      if (!hasher) refuse(404, "no hasher is loaded: start i2v serve with --hasher (the model that made the store)");
      const Picture picture = picture_of(req);
      const Activation features = run(*hasher, prepare(picture, *hasher), options.hash_layer);
      Tensor row = Tensor::empty({1, int64_t(features.values.size())});
      std::copy(features.values.begin(), features.values.end(), row.data<float>());
      const std::vector<uint8_t> packed = pack_signs(row);
      // Packed bytes read little-endian as 64-bit words: the store's in-memory order.
      std::memcpy(code.data(), packed.data(), packed.size());
      query = {{"image", picture.name}};
    }
    const int wanted = std::min<int>(k + (leave_out ? 1 : 0), int(store->size()));
    const KnnLists nearest = knn(store->codes(), {code.data(), 1, store->words()}, wanted, Device::cpu());
    nlohmann::json results = nlohmann::json::array();
    for (int r = 0; r < wanted && int(results.size()) < k; ++r) {
      const int32_t row = nearest.rows_of(0)[r];
      if (leave_out && row == *leave_out) continue;
      nlohmann::json result = item(row);
      result["rank"] = results.size() + 1;
      result["distance"] = nearest.distances_of(0)[r];
      results.push_back(result);
    }
    reply_json(res, {{"bits", store->bits()}, {"k", k}, {"query", query}, {"results", results}});
  }

  void morph(const httplib::Request& req, httplib::Response& res) {
    if (!graph) refuse(404, "no graph is loaded: start i2v serve with --graph (i2v index graph)");
    if (!req.has_param("from") || !req.has_param("to")) refuse(400, "?from=ID&to=ID: the two ends of the morph");
    const int64_t a = row_of(req.get_param_value("from")), b = row_of(req.get_param_value("to"));
    const int alternatives = int(integer_parameter(req, "alternatives", 1, 1, 10));
    const std::vector<GraphPath> paths = shortest_paths(*graph, int32_t(a), int32_t(b), alternatives);
    if (paths.empty())
      refuse(404, fmt::format("{} and {} are not connected in the graph: they lie in different components",
                              store->id(a), store->id(b)));
    reply_json(res, {{"from", item(a)}, {"to", item(b)},
                     {"paths", paths_json(paths, [&](int64_t row) { return item(row); })}});
  }

  void map_points(httplib::Response& res) const {
    if (map.empty()) refuse(404, "no map is loaded: start i2v serve with --map (i2v tsne --csv)");
    nlohmann::json items = nlohmann::json::array();
    for (const MapPoint& point : map) items.push_back({{"id", point.id}, {"x", point.x}, {"y", point.y}});
    reply_json(res, {{"count", map.size()}, {"items", items}});
  }

  nlohmann::json health() const {
    auto queue = [](const BatchedModel& model) {
      const BatchedModel::Stats s = model.stats();
      return nlohmann::json{{"queued", s.queued}, {"pictures", s.pictures}, {"batches", s.batches},
                            {"largest_batch", s.largest_batch}};
    };
    nlohmann::json out = {{"status", "ok"},
                          {"tagger", {{"model", tagger->trained().model->name()},
                                      {"tags", tagger->trained().outputs.size()},
                                      {"input", tagger->preprocess().size},
                                      {"cam", has_cam},
                                      {"queue", queue(*tagger)}}}};
    if (hasher) out["hasher"] = {{"model", hasher->trained().model->name()}, {"bits", hash_bits}, {"queue", queue(*hasher)}};
    if (store) out["store"] = {{"items", store->size()}, {"bits", store->bits()}, {"paths", store->has_paths()}};
    out["graph"] = graph.has_value();
    out["map"] = map.size();
    return out;
  }
};

ServeApi::ServeApi(const ServeOptions& options) : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.options = options;
  s.tagger = std::make_unique<BatchedModel>(load_trained_model(options.weights, options.device), options.device,
                                            options.batching);
  const TrainedModel& tagger = s.tagger->trained();
  I2V_CHECK(tagger.multi_label && !tagger.outputs.empty(),
            "{} is not a tagger (a multi-label model whose weights name their outputs)", options.weights);
  for (const ModelNode& node : tagger.model->nodes()) s.has_cam = s.has_cam || node.name == options.cam_layer;
  if (!options.hasher.empty()) {
    s.hasher = std::make_unique<BatchedModel>(load_trained_model(options.hasher, options.device), options.device,
                                              options.batching);
    // One picture through the hasher: its code length (and a warm-up).
    const int64_t size = s.hasher->preprocess().size;
    const Activation probe =
        s.hasher->submit(std::vector<float>(size_t(3 * size * size), 0.0f), options.hash_layer).get();
    I2V_CHECK(probe.shape.size() == 1 && probe.shape[0] % 64 == 0,
              "{}: layer {} gives {} per picture; a hash needs [bits] with bits a multiple of 64", options.hasher,
              options.hash_layer, shape_str(probe.shape));
    s.hash_bits = int(probe.shape[0]);
  }
  if (!options.store.empty()) {
    s.store.emplace(CodeStore::open(options.store));
    I2V_CHECK(!s.hasher || s.hash_bits == s.store->bits(),
              "{} gives {}-bit codes but {} holds {}-bit codes: not the hasher that made the store", options.hasher,
              s.hash_bits, options.store, s.store->bits());
    const std::string root = options.images.empty()
                                 ? std::filesystem::path(options.store).parent_path().string()
                                 : options.images;
    std::error_code error;
    s.image_root = std::filesystem::canonical(root.empty() ? "." : root, error);
    I2V_CHECK(!error && std::filesystem::is_directory(s.image_root), "--images {}: not a folder", root);
  }
  I2V_CHECK(s.store || (options.graph.empty() && options.map.empty() && options.hasher.empty()),
            "--graph, --map and --hasher belong to a store: give --store too");
  if (!options.graph.empty()) {
    s.graph.emplace(load_graph(options.graph));
    I2V_CHECK(s.graph->codes_checksum == s.store->codes_checksum() && s.graph->node_count == s.store->size(),
              "{} was not built from {} (another store or other codes); rebuild it with `i2v index graph --store {}`",
              options.graph, options.store, options.store);
  }
  if (!options.map.empty()) {
    s.map = read_map(options.map);
    for (const MapPoint& point : s.map)
      I2V_CHECK(s.store->find_id(point.id).has_value(), "{}: id {} is not in {}: a map of another store", options.map,
                point.id, options.store);
  }
}

ServeApi::~ServeApi() = default;

std::string ServeApi::describe() const {
  const State& s = *state_;
  std::string text = fmt::format("tagger   {} ({}, {} tags, {}x{} input{})\n", s.options.weights,
                                 s.tagger->trained().model->name(), s.tagger->trained().outputs.size(),
                                 s.tagger->preprocess().size, s.tagger->preprocess().size,
                                 s.has_cam ? ", class activation maps" : "");
  if (s.hasher) text += fmt::format("hasher   {} ({}-bit codes from {})\n", s.options.hasher, s.hash_bits, s.options.hash_layer);
  if (s.store) text += fmt::format("store    {} ({} items; pictures under {})\n", s.options.store, s.store->size(),
                                   s.image_root.string());
  if (s.graph) text += fmt::format("graph    {}\n", s.options.graph);
  if (!s.map.empty()) text += fmt::format("map      {} ({} points)\n", s.options.map, s.map.size());
  return text;
}

void ServeApi::install(httplib::Server& server) {
  State& s = *state_;
  // Every handler answers a Refusal with its status, and anything else with 500 and the message.
  auto guarded = [](auto handler) {
    return [handler](const httplib::Request& req, httplib::Response& res) {
      try {
        handler(req, res);
      } catch (const Refusal& refusal) {
        reply_error(res, refusal.status, refusal.reason);
      } catch (const Error& e) {
        reply_error(res, 500, e.message());
      } catch (const std::exception& e) {
        reply_error(res, 500, e.what());
      }
    };
  };
  for (const char* path : {"/tag", "/cam", "/similar"}) {
    const std::string route = path;
    auto handler = guarded([&s, route](const httplib::Request& req, httplib::Response& res) {
      if (route == "/tag") s.tag(req, res);
      else if (route == "/cam") s.cam(req, res);
      else s.similar(req, res);
    });
    server.Post(path, handler);
    server.Get(path, handler);  // with ?id=: an item of the store
  }
  server.Get(R"(/items/(-?\d+))", guarded([&s](const httplib::Request& req, httplib::Response& res) {
    reply_json(res, s.item(s.row_of(req.matches[1])));
  }));
  server.Get(R"(/items/(-?\d+)/thumbnail)", guarded([&s](const httplib::Request& req, httplib::Response& res) {
    res.set_content(s.thumbnail_png(s.row_of(req.matches[1])), "image/png");
    res.set_header("Cache-Control", "max-age=3600");
  }));
  server.Get(R"(/items/(-?\d+)/image)", guarded([&s](const httplib::Request& req, httplib::Response& res) {
    const std::string bytes = read_file(s.item_file(s.row_of(req.matches[1])).string());
    ImageFormat format = ImageFormat::png;
    try {
      format = read_image_header(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "", s.options.max_pixels).format;
    } catch (const DataError& e) {
      refuse(404, e.message());
    }
    res.set_content(bytes, image_content_type(format));
  }));
  server.Get("/morph", guarded([&s](const httplib::Request& req, httplib::Response& res) { s.morph(req, res); }));
  server.Get("/map", guarded([&s](const httplib::Request&, httplib::Response& res) { s.map_points(res); }));
  server.Get("/health", guarded([&s](const httplib::Request&, httplib::Response& res) { reply_json(res, s.health()); }));
  for (const PageFile& file : page_files()) {
    const std::string route = std::string(file.name) == "index.html" ? "/" : "/" + std::string(file.name);
    server.Get(route, [file](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(file.content), file.content_type);
    });
  }
  // What httplib answers itself (no route, a body over the limit, ...) gets a JSON reason too.
  server.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    const std::string reason = res.status == 404   ? fmt::format("no such endpoint: {} {}", req.method, req.path)
                               : res.status == 413 ? "the upload is larger than the limit (--max-upload-mb)"
                                                   : fmt::format("HTTP {} for {} {}", res.status, req.method, req.path);
    reply_error(res, res.status, reason);
  });
  server.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr error) {
    std::string reason = "internal error";
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      reason = e.what();
    } catch (...) {
    }
    reply_error(res, 500, reason);
  });
}

}  // namespace i2v
