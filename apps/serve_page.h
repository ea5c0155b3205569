// The exploration page of `i2v serve` (apps/serve_page/: plain HTML, JavaScript and CSS, no build
// step), compiled into the tool so that it serves from anywhere. cmake/embed_files.cmake writes
// the table at build time.
#pragma once

#include <string_view>
#include <vector>

namespace i2v {

struct PageFile {
  const char* name;          // "index.html", "app.js", ...
  const char* content_type;  // "text/html; charset=utf-8", ...
  std::string_view content;
};

const std::vector<PageFile>& page_files();

}  // namespace i2v
