# Compiles the dashboard's files into mcp-bridge: run by CMake at build time (cmake -P) with
#   UI_DIR      the ui/ folder (templates/*.mustache, static/*)
#   VENDOR_DIR  the libraries ui/vendor.sh copied from npm (may be empty)
#   OUTPUT      the C++ source to write
# Each file becomes a byte array and one row of the table that find_ui_asset() searches.
cmake_minimum_required(VERSION 3.20)

file(GLOB templates LIST_DIRECTORIES false "${UI_DIR}/templates/*.mustache")
file(GLOB statics LIST_DIRECTORIES false "${UI_DIR}/static/*")
file(GLOB vendored LIST_DIRECTORIES false "${VENDOR_DIR}/*.js" "${VENDOR_DIR}/*.css")
list(SORT templates)
list(SORT statics)
list(SORT vendored)

set(arrays "")
set(rows "")
set(index 0)

function(content_type_of file out)
  get_filename_component(ext "${file}" LAST_EXT)
  string(TOLOWER "${ext}" ext)
  if(ext STREQUAL ".css")
    set(type "text/css; charset=utf-8")
  elseif(ext STREQUAL ".js")
    set(type "text/javascript; charset=utf-8")
  elseif(ext STREQUAL ".svg")
    set(type "image/svg+xml")
  elseif(ext STREQUAL ".png")
    set(type "image/png")
  elseif(ext STREQUAL ".ico")
    set(type "image/x-icon")
  else()
    set(type "text/plain; charset=utf-8")
  endif()
  set(${out} "${type}" PARENT_SCOPE)
endfunction()

macro(embed file name)
  file(READ "${file}" hex HEX)
  string(LENGTH "${hex}" hex_length)
  math(EXPR size "${hex_length} / 2")
  # A trailing zero keeps an empty file a valid array; the row's size leaves it out.
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(REGEX REPLACE "((0x..,){32})" "\\1\n" bytes "${bytes}")
  content_type_of("${file}" type)
  string(APPEND arrays "const unsigned char asset_${index}[] = {\n${bytes}0x00};\n")
  string(APPEND rows "    {\"${name}\", \"${type}\", reinterpret_cast<const char*>(asset_${index}), ${size}},\n")
  math(EXPR index "${index} + 1")
endmacro()

foreach(file IN LISTS templates)
  get_filename_component(base "${file}" NAME)
  embed("${file}" "templates/${base}")
endforeach()
foreach(file IN LISTS statics)
  get_filename_component(base "${file}" NAME)
  embed("${file}" "static/${base}")
endforeach()
foreach(file IN LISTS vendored)
  get_filename_component(base "${file}" NAME)
  embed("${file}" "static/vendor/${base}")
endforeach()

set(source "// Generated at build time by ui/embed.cmake from ui/ and the vendored libraries.
#include \"ui_assets.hpp\"

namespace mcp::bridge {

namespace {

${arrays}
const UiAsset table[] = {
${rows}};

}  // namespace

const UiAsset* ui_assets_begin() { return table; }
std::size_t ui_asset_count() { return sizeof(table) / sizeof(table[0]); }

}  // namespace mcp::bridge
")

file(WRITE "${OUTPUT}" "${source}")
