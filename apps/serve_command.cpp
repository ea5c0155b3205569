// `i2v serve`: tagging, similarity search, morphing and the t-SNE map over HTTP, with the
// exploration page at / (apps/serve_api.h lists the endpoints).
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "apps/command_inputs.h"
#include "apps/commands.h"
#include "apps/device_options.h"
#include "apps/option_checks.h"
#include "apps/serve_api.h"
#include "base/error.h"

namespace i2v::app {
namespace {

struct ServeCommand {
  ServeOptions serve;
  DeviceOptions device;
  std::string host = "127.0.0.1";
  int port = 8080, threads = 64, timeout_s = 10, max_wait_ms = 2;
  double max_upload_mb = 16;
};

// Debian's cpp-httplib (0.11, a compiled library) listens with a backlog of 5: 50 clients that
// connect at once overflow it, and some are reset. Calling listen() again on the bound socket
// raises the backlog (Linux allows it); httplib keeps the socket private, so it is found among
// the process's descriptors by the port it listens on.
void raise_listen_backlog(int port) {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", error)) {
    const int fd = std::atoi(entry.path().filename().c_str());
    int listening = 0;
    socklen_t length = sizeof listening;
    sockaddr_storage address{};
    socklen_t size = sizeof address;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &length) != 0 || !listening ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0)
      continue;
    const int bound = address.ss_family == AF_INET    ? ntohs(reinterpret_cast<sockaddr_in*>(&address)->sin_port)
                      : address.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&address)->sin6_port)
                                                      : -1;
    if (bound == port) listen(fd, SOMAXCONN);
  }
}

void run_serve(ServeCommand& o) {
  CommandFiles files;
  files.input("--weights", o.serve.weights).input("--hasher", o.serve.hasher).input("--store", o.serve.store);
  files.input("--graph", o.serve.graph).input("--map", o.serve.map);
  files.check();
  o.serve.device = o.device.apply();
  o.serve.max_upload_bytes = int64_t(o.max_upload_mb * 1024 * 1024);
  o.serve.batching.max_wait = std::chrono::milliseconds(o.max_wait_ms);

  // SIGINT and SIGTERM go to one thread that stops the server: blocked here, before any other
  // thread starts, so that every thread inherits the mask and none is interrupted mid-request.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  ServeApi api(o.serve);
  httplib::Server server;
  const int threads = o.threads;
  server.new_task_queue = [threads] { return new httplib::ThreadPool(size_t(threads)); };
  // A slow client holds one thread for at most the timeout; a huge one is cut off at the limit.
  server.set_read_timeout(o.timeout_s);
  server.set_write_timeout(o.timeout_s);
  server.set_keep_alive_timeout(std::min(o.timeout_s, 5));
  server.set_keep_alive_max_count(1000);
  // An answer is written as headers, then body: without TCP_NODELAY the body waits for the
  // client's delayed ACK of the headers (40 ms on Linux), which would be most of a request's time.
  server.set_tcp_nodelay(true);
  server.set_payload_max_length(size_t(o.serve.max_upload_bytes));
  api.install(server);

  const int port = o.port == 0 ? server.bind_to_any_port(o.host) : (server.bind_to_port(o.host, o.port) ? o.port : -1);
  I2V_CHECK(port > 0, "cannot listen on {}:{} (in use, or not an address of this machine)", o.host, o.port);
  raise_listen_backlog(port);
  std::printf("%s", api.describe().c_str());
  std::printf("listening on http://%s:%d/ (Ctrl-C or SIGTERM stops after the requests in flight)\n",
              o.host.find(':') != std::string::npos ? ("[" + o.host + "]").c_str() : o.host.c_str(), port);
  std::fflush(stdout);

  std::atomic<int> stopped_by{0};
  std::atomic<bool> listening_ended{false};
  std::thread stopper([&] {
    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    if (listening_ended) return;  // woken below: listening failed
    stopped_by = signal_number;
    // A signal that comes before listening has begun waits for it, so that stop() is not lost.
    while (!server.is_running() && !listening_ended) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    server.stop();
  });
  // Returns once stopped, after the worker threads have finished the requests they hold.
  const bool listened = server.listen_after_bind();
  listening_ended = true;
  if (stopped_by == 0) pthread_kill(stopper.native_handle(), SIGTERM);  // wake the stopper
  stopper.join();
  I2V_CHECK(listened || stopped_by != 0, "the server stopped listening on {}:{}", o.host, port);
  std::fprintf(stderr, "i2v serve: %s, stopped after the requests in flight\n",
               stopped_by == SIGINT ? "interrupted" : "terminated");
}

void add_serve_command(CLI::App& app) {
  static ServeCommand o;
  CLI::App* cmd = app.add_subcommand("serve", "Serve tagging, similarity search, morphing and the map over HTTP, "
                                              "with the exploration page");
  cmd->add_option("--weights", o.serve.weights, "The tagger's weights (i2v train's best.safetensors)")->required();
  cmd->add_option("--hasher", o.serve.hasher,
                  "The i2v-feature weights that made --store's codes: /similar then takes uploaded pictures");
  cmd->add_option("--store", o.serve.store, "The code store to search (i2v hash / i2v index build)");
  cmd->add_option("--graph", o.serve.graph, "The store's top-k graph, for /morph (i2v index graph)");
  cmd->add_option("--map", o.serve.map, "The store's t-SNE map, for /map (i2v tsne --csv)");
  cmd->add_option("--images", o.serve.images,
                  "The folder the store's pictures are under; nothing outside it is ever read (default: the store's folder)");
  cmd->add_option("--host", o.host, "The address to listen on (0.0.0.0: every interface)")->capture_default_str();
  cmd->add_option("--port", o.port, "The port (0: any free one, printed)")->capture_default_str()->check(in_range(0, 65535));
  cmd->add_option("--batch", o.serve.batching.max_batch, "Pictures per forward pass at most")
      ->capture_default_str()->check(at_least(1));
  cmd->add_option("--max-wait-ms", o.max_wait_ms, "How long a picture waits for others to share its forward pass")
      ->capture_default_str()->check(in_range(0, 1000));
  cmd->add_option("--queue", o.serve.batching.queue_limit, "Pictures waiting for a model at most; beyond: 503")
      ->capture_default_str()->check(at_least(1));
  cmd->add_option("--threads", o.threads, "Connections served at once")->capture_default_str()->check(in_range(1, 4096));
  cmd->add_option("--timeout", o.timeout_s, "Seconds a client may take to send or read (slow clients are cut off)")
      ->capture_default_str()->check(in_range(1, 3600));
  cmd->add_option("--max-upload-mb", o.max_upload_mb, "Largest upload; beyond: 413")
      ->capture_default_str()->check(in_range(0.001, 1024));
  cmd->add_option("--max-pixels", o.serve.max_pixels, "Largest picture (from its header, before decoding); beyond: 413")
      ->capture_default_str()->check(at_least(1));
  o.device.add(cmd);
  cmd->footer(
      "Endpoints (JSON with the CLI's field names; errors are {\"error\": reason, \"status\": code}):\n"
      "  POST /tag?threshold=0.25&top=0   picture bytes -> tags per category with probabilities\n"
      "  POST /cam?tag=TAG                picture -> PNG heat map of where the tagger sees TAG\n"
      "  POST /similar?k=10               picture -> the k nearest items of the store\n"
      "  GET  /tag?id=ID, /cam?id=.., /similar?id=..   the same for an item of the store\n"
      "  GET  /items/ID, /items/ID/thumbnail, /items/ID/image\n"
      "  GET  /morph?from=ID&to=ID&alternatives=1, /map, /health\n"
      "  GET  /                           the exploration page\n"
      "Pictures arriving together share a forward pass (--batch, --max-wait-ms). It listens on\n"
      "127.0.0.1 unless --host says otherwise.\n\n"
      "Examples:\n"
      "  i2v serve --weights runs/tag/best.safetensors\n"
      "  curl --data-binary @a.png localhost:8080/tag?top=5\n"
      "  i2v serve --weights demo-out/runs/i2v-tag/best.safetensors \\\n"
      "      --hasher demo-out/runs/i2v-feature/best.safetensors --store demo-out/emoji.i2vcodes \\\n"
      "      --graph demo-out/emoji.i2vgraph --map demo-out/map.csv");
  cmd->callback([] { run_serve(o); });
}

const bool registered = register_command("serve", add_serve_command);

}  // namespace
}  // namespace i2v::app
