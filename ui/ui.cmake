# Included by bridge/CMakeLists.txt: the dashboard's templates and static files, with htmx,
# Alpine.js (CSP build) and uPlot from npm (pinned by test/ui/package-lock.json), compiled
# into mcp_bridge_core, so the bridge serves /ui/static/ from its own binary.
set(MCP_UI_DIR ${CMAKE_CURRENT_LIST_DIR})
set(MCP_UI_VENDOR_DIR ${CMAKE_CURRENT_BINARY_DIR}/ui-vendor)
set(MCP_UI_NODE_DIR ${CMAKE_CURRENT_BINARY_DIR}/../ui-node CACHE PATH
    "Where npm installs the dashboard's libraries (test/ui/package-lock.json)")
set(MCP_UI_ASSETS_CPP ${CMAKE_CURRENT_BINARY_DIR}/ui_assets_data.cpp)
file(GLOB MCP_UI_FILES CONFIGURE_DEPENDS
     ${MCP_UI_DIR}/templates/*.mustache ${MCP_UI_DIR}/static/*)

add_custom_command(
  OUTPUT ${MCP_UI_VENDOR_DIR}/stamp
  COMMAND ${MCP_UI_DIR}/vendor.sh ${MCP_UI_VENDOR_DIR} ${MCP_UI_NODE_DIR}
  DEPENDS ${MCP_UI_DIR}/vendor.sh ${MCP_UI_DIR}/../test/ui/package-lock.json
  COMMENT "Dashboard libraries from npm (htmx, Alpine.js, uPlot)"
  VERBATIM)
add_custom_command(
  OUTPUT ${MCP_UI_ASSETS_CPP}
  COMMAND ${CMAKE_COMMAND} -DUI_DIR=${MCP_UI_DIR} -DVENDOR_DIR=${MCP_UI_VENDOR_DIR}
          -DOUTPUT=${MCP_UI_ASSETS_CPP} -P ${MCP_UI_DIR}/embed.cmake
  DEPENDS ${MCP_UI_FILES} ${MCP_UI_VENDOR_DIR}/stamp ${MCP_UI_DIR}/embed.cmake
  COMMENT "Embedding the dashboard's templates and static files"
  VERBATIM)
target_sources(mcp_bridge_core PRIVATE ${MCP_UI_ASSETS_CPP})
