# websocketpp 0.8.2 as an overlay port: the curated registry dropped it, and its 0.8.2 release
# does not compile as C++20 with GCC 11+ (cxx20-template-id-constructors.patch). Header-only;
# use it with standalone Asio (ASIO_STANDALONE), as roomwire does.
# tests/package/port_websocketpp.cmake runs this file with stand-ins for vcpkg's helpers.

set(VCPKG_BUILD_TYPE release)  # header-only

vcpkg_from_github(
  OUT_SOURCE_PATH SOURCE_PATH
  REPO zaphoyd/websocketpp
  REF 56123c87598f8b1dd471be83ca841ceae07f95ba  # tag 0.8.2
  SHA512 f185a66e5a7c783254352a6ef87e2e559f681032b7368765d08393ed12bcae76825abed7dcaea73de09df644320409dad46279701f5f469520542a2c9b6a6163
  HEAD_REF master
  PATCHES
    cxx20-template-id-constructors.patch
)

file(INSTALL "${SOURCE_PATH}/websocketpp" DESTINATION "${CURRENT_PACKAGES_DIR}/include"
     FILES_MATCHING PATTERN "*.hpp")

# Upstream's config defines websocketpp::websocketpp with no guard, so a second find_package in
# one scope fails; this one is guarded and relative to wherever the package is installed.
file(WRITE "${CURRENT_PACKAGES_DIR}/share/${PORT}/websocketpp-config.cmake" [[
get_filename_component(_websocketpp_prefix "${CMAKE_CURRENT_LIST_DIR}/../.." ABSOLUTE)
set(WEBSOCKETPP_INCLUDE_DIR "${_websocketpp_prefix}/include")
set(WEBSOCKETPP_FOUND TRUE)
if(NOT TARGET websocketpp::websocketpp)
  add_library(websocketpp::websocketpp INTERFACE IMPORTED)
  set_target_properties(websocketpp::websocketpp PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${WEBSOCKETPP_INCLUDE_DIR}")
endif()
unset(_websocketpp_prefix)
]])
include(CMakePackageConfigHelpers)
write_basic_package_version_file(
  "${CURRENT_PACKAGES_DIR}/share/${PORT}/websocketpp-config-version.cmake"
  VERSION 0.8.2 COMPATIBILITY ExactVersion ARCH_INDEPENDENT)

vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/COPYING")
