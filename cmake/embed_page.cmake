# Writes OUTPUT, a C++ source holding every file of PAGE_DIR as a string (apps/serve_page.h),
# so that `i2v serve` carries its page. Run at build time: cmake -DPAGE_DIR=... -DOUTPUT=... -P
file(GLOB files RELATIVE "${PAGE_DIR}" "${PAGE_DIR}/*")
list(SORT files)
set(table "")
set(strings "")
set(index 0)
foreach(name IN LISTS files)
  if(name MATCHES "\\.html$")
    set(type "text/html; charset=utf-8")
  elseif(name MATCHES "\\.js$")
    set(type "text/javascript; charset=utf-8")
  elseif(name MATCHES "\\.css$")
    set(type "text/css; charset=utf-8")
  elseif(name MATCHES "\\.svg$")
    set(type "image/svg+xml")
  else()
    message(FATAL_ERROR "${PAGE_DIR}/${name}: no content type for this kind of file")
  endif()
  file(READ "${PAGE_DIR}/${name}" content)
  if(content MATCHES "\\)i2v_page\"")
    message(FATAL_ERROR "${PAGE_DIR}/${name} holds the raw string's delimiter )i2v_page\"")
  endif()
  string(APPEND strings "const char file${index}[] = R\"i2v_page(${content})i2v_page\";\n")
  string(APPEND table "      {\"${name}\", \"${type}\", {file${index}, sizeof(file${index}) - 1}},\n")
  math(EXPR index "${index} + 1")
endforeach()
file(WRITE "${OUTPUT}.tmp" "// Written by cmake/embed_page.cmake from ${PAGE_DIR}: do not edit.
#include \"apps/serve_page.h\"

namespace i2v {
namespace {
${strings}}  // namespace

const std::vector<PageFile>& page_files() {
  static const std::vector<PageFile> files = {
${table}  };
  return files;
}

}  // namespace i2v
")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
