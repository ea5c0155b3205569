#include "kernels/trace.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <tuple>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/atomic_file.h"
#include "base/error.h"
#include "base/text.h"

namespace i2v::trace {

std::atomic<bool> recording{false};

namespace {

// A trace of a long training run would grow without end: the first events are kept, the rest
// counted (the summary says so). 2 M events is ~10,000 steps of i2v-tag on a GPU, ~400 MB.
constexpr size_t kMaxEvents = 2'000'000;
// The table printed when a traced command ends: the kernels and layers that took the most time.
constexpr size_t kSummaryRowsAtExit = 12;

struct Recorder {
  std::mutex mutex;
  std::string path;
  std::chrono::steady_clock::time_point origin;
  std::vector<Event> events;
  uint64_t dropped = 0;
  std::atomic<int> threads{0};
};

Recorder& recorder() {
  static Recorder r;
  return r;
}

void add(Event&& event) {
  Recorder& r = recorder();
  std::lock_guard<std::mutex> lock(r.mutex);
  if (r.events.size() < kMaxEvents) r.events.push_back(std::move(event));
  else ++r.dropped;
}

// The op span running on this thread, whose name its launches carry.
thread_local const std::string* current_op = nullptr;

DeviceType device_from_name(const std::string& name, const std::string& where) {
  for (DeviceType type : {DeviceType::cpu, DeviceType::sim, DeviceType::cuda})
    if (Device{type}.name() == name) return type;
  I2V_THROW("{}: unknown device '{}'", where, name);
}

Kind kind_from_name(const std::string& name, const std::string& where) {
  for (Kind kind : {Kind::layer, Kind::op, Kind::launch})
    if (name == kind_name(kind)) return kind;
  I2V_THROW("{}: unknown event type '{}' (layer, op, launch or summary)", where, name);
}

}  // namespace

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::layer: return "layer";
    case Kind::op: return "op";
    case Kind::launch: return "launch";
  }
  return "?";
}

void start(const std::string& path) {
  Recorder& r = recorder();
  std::lock_guard<std::mutex> lock(r.mutex);
  I2V_CHECK(!recording.load(), "a trace is already being recorded into {}", r.path);
  r.path = path;
  r.events.clear();
  r.dropped = 0;
  r.origin = std::chrono::steady_clock::now();
  recording.store(true);
}

std::string finish() {
  Recorder& r = recorder();
  std::vector<Event> events;
  std::string path;
  uint64_t dropped = 0;
  {
    std::lock_guard<std::mutex> lock(r.mutex);
    if (!recording.load()) return "";
    recording.store(false);
    events.swap(r.events);
    path = r.path;
    dropped = r.dropped;
  }
  // Spans end before the spans around them: sorted by start, the file reads as a timeline.
  std::stable_sort(events.begin(), events.end(),
                   [](const Event& a, const Event& b) { return a.start_us < b.start_us; });
  const Summary summary = summarize(events);
  std::string table = summary_table(summary, kSummaryRowsAtExit);
  if (dropped > 0)
    table += fmt::format("({} later events were not kept: a trace keeps its first {})\n", format_count(int64_t(dropped)),
                         format_count(int64_t(kMaxEvents)));
  write_file_atomically(path, [&](File& file) {
    std::string chunk;
    auto flush = [&] {
      file.write_all(chunk.data(), chunk.size());
      chunk.clear();
    };
    for (const Event& event : events) {
      chunk += event_line(event);
      chunk += '\n';
      if (chunk.size() > (1 << 20)) flush();
    }
    // The summary, as the table has it: one line per kernel, then per layer span.
    for (const SummaryRow& row : summary.kernels)
      chunk += nlohmann::ordered_json{{"type", "summary"}, {"kernel", row.name}, {"op", row.op}, {"device", row.device},
                              {"launches", row.count}, {"total_us", row.total_us}}
                   .dump() + '\n';
    for (const SummaryRow& row : summary.layers)
      chunk += nlohmann::ordered_json{{"type", "layer_summary"}, {"layer", row.name}, {"device", row.device},
                              {"count", row.count}, {"total_us", row.total_us}}
                   .dump() + '\n';
    flush();
  });
  return table;
}

double now_us() {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - recorder().origin).count();
}

int thread_number() {
  thread_local const int number = recorder().threads.fetch_add(1);
  return number;
}

void Span::begin(Kind kind, const char* name, Device device) {
  Event& e = event_.emplace();
  e.kind = kind;
  e.name = name;
  e.device = device.type;
  e.thread = thread_number();
  if (kind == Kind::op) {
    outer_op_ = current_op;
    current_op = &e.name;
  } else if (kind == Kind::launch) {
    e.op = current_op != nullptr ? *current_op : e.name;
  }
  e.start_us = now_us();
}

void Span::end() {
  Event& e = *event_;
  e.duration_us = now_us() - e.start_us;
  if (e.kind == Kind::op) current_op = outer_op_;
  // A trace that finished while this span ran (a command that ended by an error) takes no more.
  if (enabled()) add(std::move(e));
}

std::string kernel_name_of(const char* site_text) {
  const std::string text = site_text;
  int depth = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '<' || c == '(' || c == '[') ++depth;
    if (c == '>' || c == ')' || c == ']') --depth;
    if (c == ',' && depth == 0) return text.substr(0, i);
  }
  return text;
}

void record_launch(const char* site_text, DeviceType device, const unsigned grid[3], const unsigned block[3],
                   size_t shared_bytes, double start_us, double duration_us) {
  // The launch sites are few (~20): their kernel names are cut once each.
  static std::mutex names_mutex;
  static std::map<const char*, std::string> names;
  Event event;
  {
    std::lock_guard<std::mutex> lock(names_mutex);
    auto it = names.find(site_text);
    if (it == names.end()) it = names.emplace(site_text, kernel_name_of(site_text)).first;
    event.name = it->second;
  }
  event.kind = Kind::launch;
  event.op = current_op != nullptr ? *current_op : event.name;
  event.device = device;
  event.has_shape = true;
  std::copy(grid, grid + 3, event.grid.begin());
  std::copy(block, block + 3, event.block.begin());
  event.shared_bytes = shared_bytes;
  event.start_us = start_us;
  event.duration_us = duration_us;
  event.thread = thread_number();
  add(std::move(event));
}

Summary summarize(const std::vector<Event>& events) {
  Summary summary;
  std::map<std::tuple<std::string, std::string, DeviceType>, SummaryRow> kernels;
  std::map<std::pair<std::string, DeviceType>, SummaryRow> layers;
  double first = 0, last = 0;
  for (const Event& e : events) {
    first = &e == &events.front() ? e.start_us : std::min(first, e.start_us);
    last = std::max(last, e.start_us + e.duration_us);
    SummaryRow* row = nullptr;
    if (e.kind == Kind::launch) {
      row = &kernels[{e.name, e.op, e.device}];
      row->op = e.op;
      ++summary.launches;
      summary.launch_us += e.duration_us;
    } else if (e.kind == Kind::layer) {
      row = &layers[{e.name, e.device}];
    } else {
      ++summary.ops;
      continue;
    }
    row->name = e.name;
    row->device = Device{e.device}.name();
    ++row->count;
    row->total_us += e.duration_us;
  }
  summary.span_us = last - first;
  auto by_time = [](const auto& rows) {
    std::vector<SummaryRow> sorted;
    for (const auto& [key, row] : rows) sorted.push_back(row);
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const SummaryRow& a, const SummaryRow& b) { return a.total_us > b.total_us; });
    return sorted;
  };
  summary.kernels = by_time(kernels);
  summary.layers = by_time(layers);
  return summary;
}

std::string summary_table(const Summary& s, size_t top) {
  std::string out = fmt::format("trace: {} kernel launches taking {:.3f} ms, over {:.3f} ms\n", format_count(s.launches),
                                s.launch_us / 1000, s.span_us / 1000);
  const size_t kernels = top > 0 ? std::min(top, s.kernels.size()) : s.kernels.size();
  const size_t layers = top > 0 ? std::min(top, s.layers.size()) : s.layers.size();
  // Column widths from the names shown: a templated kernel's name is long. The op column only
  // when some kernel is not its own op (a GPU launch).
  size_t name_width = 10, op_width = 0;
  for (size_t i = 0; i < kernels; ++i) {
    name_width = std::max(name_width, s.kernels[i].name.size());
    if (s.kernels[i].op != s.kernels[i].name) op_width = std::max<size_t>({op_width, 2, s.kernels[i].op.size()});
  }
  const char* op_gap = op_width > 0 ? "  " : "";
  for (size_t i = 0; i < layers; ++i) name_width = std::max(name_width, s.layers[i].name.size());
  auto more = [&](size_t shown, size_t all, const char* what) {
    if (shown < all) out += fmt::format("({} more {}: i2v trace summary FILE lists them all)\n", all - shown, what);
  };
  if (kernels > 0) {
    out += fmt::format("{:<{}}  {:<{}}{}{:<6} {:>9} {:>11} {:>10} {:>6}\n", "kernel", name_width,
                       op_width > 0 ? "op" : "", op_width, op_gap, "device", "launches", "total ms", "mean us", "share");
    for (size_t i = 0; i < kernels; ++i) {
      const SummaryRow& row = s.kernels[i];
      out += fmt::format("{:<{}}  {:<{}}{}{:<6} {:>9} {:>11.3f} {:>10.1f} {:>5.1f}%\n", row.name, name_width,
                         row.op == row.name ? "" : row.op, op_width, op_gap, row.device, format_count(row.count),
                         row.total_us / 1000, row.total_us / double(row.count),
                         s.launch_us > 0 ? 100 * row.total_us / s.launch_us : 0.0);
    }
    more(kernels, s.kernels.size(), "kernels");
  }
  if (layers > 0) {
    out += fmt::format("{:<{}}  {:<{}}{}{:<6} {:>9} {:>11} {:>10}\n", "layer span", name_width, "", op_width, op_gap,
                       "device", "count", "total ms", "mean us");
    for (size_t i = 0; i < layers; ++i) {
      const SummaryRow& row = s.layers[i];
      out += fmt::format("{:<{}}  {:<{}}{}{:<6} {:>9} {:>11.3f} {:>10.1f}\n", row.name, name_width, "", op_width,
                         op_gap, row.device, format_count(row.count), row.total_us / 1000,
                         row.total_us / double(row.count));
    }
    more(layers, s.layers.size(), "layer spans");
  }
  return out;
}

std::string event_line(const Event& e) {
  nlohmann::ordered_json line{{"type", kind_name(e.kind)}, {"name", e.name}, {"device", Device{e.device}.name()}};
  if (e.kind == Kind::launch) {
    line["op"] = e.op;
    if (e.has_shape) {
      line["grid"] = e.grid;
      line["block"] = e.block;
      line["shared_bytes"] = e.shared_bytes;
    } else {
      line["grid"] = line["block"] = line["shared_bytes"] = nullptr;
    }
  }
  line["start_us"] = e.start_us;
  line["us"] = e.duration_us;
  line["thread"] = e.thread;
  return line.dump();
}

bool is_summary_line(const std::string& line) {
  return line.rfind("{\"type\":\"summary\"", 0) == 0 || line.rfind("{\"type\":\"layer_summary\"", 0) == 0;
}

Event parse_event_line(const std::string& text, const std::string& where) {
  nlohmann::json line;
  try {
    line = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    I2V_THROW("{}: not JSON: {}", where, e.what());
  }
  Event e;
  try {
    e.kind = kind_from_name(line.at("type").get<std::string>(), where);
    e.name = line.at("name").get<std::string>();
    e.device = device_from_name(line.at("device").get<std::string>(), where);
    if (e.kind == Kind::launch) {
      e.op = line.at("op").get<std::string>();
      e.has_shape = !line.at("grid").is_null();
      if (e.has_shape) {
        e.grid = line.at("grid").get<std::array<unsigned, 3>>();
        e.block = line.at("block").get<std::array<unsigned, 3>>();
        e.shared_bytes = line.at("shared_bytes").get<size_t>();
      }
    }
    e.start_us = line.at("start_us").get<double>();
    e.duration_us = line.at("us").get<double>();
    e.thread = line.at("thread").get<int>();
  } catch (const nlohmann::json::exception& error) {
    I2V_THROW("{}: not a trace event: {}", where, error.what());
  }
  I2V_CHECK(e.duration_us >= 0 && e.start_us >= 0 && e.thread >= 0, "{}: a negative time or thread", where);
  return e;
}

}  // namespace i2v::trace
