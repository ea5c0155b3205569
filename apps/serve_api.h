// What `i2v serve` answers: tagging, similarity search, morphing and the t-SNE map over HTTP
// (cpp-httplib), and the exploration page. Every answer is JSON with the CLI's field names, or a
// picture; every refusal is a 4xx/5xx with {"error": reason, "status": code}.
//
//   POST /tag            picture bytes (or multipart field "picture", or ?id=ID of the store)
//                        → {"image", "general": [[tag, p], ...], "character", "copyright", "rating"}
//                        ?threshold=0.25&top=0 as `i2v tag`
//   POST /cam?tag=T      picture (or ?id=) → PNG: where the tagger sees T (as `i2v cam`)
//   POST /similar        picture (or ?id=) → {"bits", "k", "query", "results": [{rank, id, row,
//                        distance, name, thumbnail, image}, ...]} ?k=10 as `i2v search`
//   GET  /items/ID       {id, row, name, thumbnail, image}   /items/ID/thumbnail (PNG)
//   GET  /items/ID/image the stored picture's bytes
//   GET  /morph?from=A&to=B&alternatives=1   {"from", "to", "paths": [...]} as `i2v morph`
//   GET  /map            {"count", "items": [{id, x, y}, ...]} (the --map CSV of `i2v tsne`)
//   GET  /health         {"status": "ok", what is loaded, the queues}
//   GET  /               the exploration page (apps/serve_page/, compiled in)
//
// Requests name items by id; a picture's file is only ever opened through the store's record,
// and only when it resolves (symbolic links followed) inside the image root.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "apps/batched_model.h"

namespace httplib {
class Server;
}

namespace i2v {

struct ServeOptions {
  std::string weights;         // the tagger
  std::string hasher;          // the model whose `hash_layer` signs gave the store's codes ("": none)
  std::string hash_layer = "encode1";
  std::string cam_layer = "conv6_4";
  std::string store, graph, map, images;  // images: the root of the store's pictures ("": the store's folder)
  Device device = Device::cpu();
  BatchingOptions batching;
  int64_t max_upload_bytes = 16 << 20;
  int64_t max_pixels = 16'000'000;
  std::chrono::seconds answer_timeout{30};  // how long a request waits for the model
  int thumbnail_size = 160;
  size_t thumbnail_cache = 4096;           // thumbnails kept, encoded
};

class ServeApi {
 public:
  // Loads the models, the store, the graph and the map, and checks that they belong together
  // (the hasher's bits are the store's, the graph was built from the store, the map's ids are
  // the store's); throws naming what does not fit.
  explicit ServeApi(const ServeOptions& options);
  ~ServeApi();
  // Adds the routes above, the error and exception handlers.
  void install(httplib::Server& server);
  // One line per thing loaded, for the start-up message.
  std::string describe() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace i2v
