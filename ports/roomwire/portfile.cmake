# An overlay port that builds the roomwire checkout it lives in:
#   vcpkg install roomwire --overlay-ports=<checkout>/ports
# (ports/websocketpp comes along: the curated registry no longer has websocketpp.)
# For a registry, replace SOURCE_PATH with vcpkg_from_github(... REF "v${VERSION}" ...).
# tests/package/port_roomwire.cmake runs this file with stand-ins for vcpkg's helpers.

set(SOURCE_PATH "${CMAKE_CURRENT_LIST_DIR}/../..")

vcpkg_cmake_configure(
  SOURCE_PATH "${SOURCE_PATH}"
  OPTIONS
    -DROOMWIRE_BUILD_TESTS=OFF
    -DROOMWIRE_BUILD_EXAMPLES=OFF
    -DROOMWIRE_BUILD_BENCH=OFF
    -DROOMWIRE_INSTALL=ON
)
vcpkg_cmake_install()
vcpkg_cmake_config_fixup(CONFIG_PATH lib/cmake/roomwire)

file(REMOVE_RECURSE
  "${CURRENT_PACKAGES_DIR}/debug/include"
  "${CURRENT_PACKAGES_DIR}/debug/share"
  "${CURRENT_PACKAGES_DIR}/share/doc")  # the LICENSE, installed again as `copyright` below

# Header-only until src/ adds the compiled transport: then lib/ keeps the library.
foreach(dir lib debug/lib debug)
  file(GLOB_RECURSE files "${CURRENT_PACKAGES_DIR}/${dir}/*")
  if(NOT files)
    file(REMOVE_RECURSE "${CURRENT_PACKAGES_DIR}/${dir}")
  endif()
endforeach()

file(INSTALL "${CMAKE_CURRENT_LIST_DIR}/usage" DESTINATION "${CURRENT_PACKAGES_DIR}/share/${PORT}")
vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/LICENSE")
