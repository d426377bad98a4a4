# Runs ports/websocketpp/portfile.cmake with stand-ins for vcpkg's helpers. Instead of
# downloading 0.8.2, vcpkg_from_github copies the local websocketpp 0.8.2 headers (Debian 12's
# libwebsocketpp-dev) and applies the port's PATCHES with `patch -p1` — after `git apply --check`,
# which is how vcpkg applies them. Then a TU using the server and client endpoints must compile as
# C++20 with GCC against the installed, patched headers (unpatched 0.8.2 does not), and the
# installed config must survive two find_package calls in one scope.
#   cmake -DPORTS_DIR=<ports> -DWORK=<dir> -DGENERATOR=<g> [-DMAKE_PROGRAM=<p>] -DCXX=<g++>
#         -DWEBSOCKETPP_ROOT=<dir holding websocketpp/> -DTU=<websocketpp_cxx20.cpp>
#         -P port_websocketpp.cmake

include("${CMAKE_CURRENT_LIST_DIR}/vcpkg_stubs.cmake")
roomwire_require_variables(PORTS_DIR WORK GENERATOR CXX TU)

if(NOT EXISTS "${CXX}")
  roomwire_skip("GCC ('${CXX}') is not installed; the C++20 fix is for GCC")
  return()
endif()
if(NOT EXISTS "${WEBSOCKETPP_ROOT}/websocketpp/version.hpp")
  roomwire_skip("no websocketpp headers to stand in for the download (apt-get install libwebsocketpp-dev)")
  return()
endif()
file(READ "${WEBSOCKETPP_ROOT}/websocketpp/version.hpp" version_header)
set(local_version "")
foreach(part major minor patch)
  string(REGEX MATCH "${part}_version = ([0-9]+)" unused "${version_header}")
  list(APPEND local_version "${CMAKE_MATCH_1}")
endforeach()
list(JOIN local_version "." local_version)
if(NOT local_version STREQUAL "0.8.2")
  roomwire_skip("local websocketpp is not 0.8.2 (${local_version}); the patch is for 0.8.2")
  return()
endif()
find_program(PATCH_PROGRAM patch)
find_program(GIT_PROGRAM git)
if(NOT PATCH_PROGRAM)
  roomwire_skip("`patch` is not installed (apt-get install patch)")
  return()
endif()

set(port_dir "${PORTS_DIR}/websocketpp")
file(READ "${port_dir}/vcpkg.json" manifest)
string(JSON PORT GET "${manifest}" name)
string(JSON VERSION GET "${manifest}" version)
if(NOT VERSION STREQUAL "0.8.2")
  message(FATAL_ERROR "ports/websocketpp/vcpkg.json says ${VERSION}; the patch is for 0.8.2")
endif()

file(REMOVE_RECURSE "${WORK}")
set(CURRENT_PACKAGES_DIR "${WORK}/packages/${PORT}_x64-linux")
set(CURRENT_BUILDTREES_DIR "${WORK}/buildtrees/${PORT}")
set(CURRENT_INSTALLED_DIR "${WORK}/installed/x64-linux")

function(vcpkg_from_github)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "OUT_SOURCE_PATH;REPO;REF;SHA512;HEAD_REF" "PATCHES")
  if(NOT arg_REPO STREQUAL "zaphoyd/websocketpp" OR NOT arg_SHA512 MATCHES "^[0-9a-f]+$")
    message(FATAL_ERROR "vcpkg_from_github: unexpected REPO '${arg_REPO}' or SHA512")
  endif()
  set(src "${CURRENT_BUILDTREES_DIR}/src/0.8.2")
  file(MAKE_DIRECTORY "${src}")
  file(COPY "${WEBSOCKETPP_ROOT}/websocketpp" DESTINATION "${src}")
  if(EXISTS "/usr/share/doc/libwebsocketpp-dev/copyright")
    file(COPY_FILE "/usr/share/doc/libwebsocketpp-dev/copyright" "${src}/COPYING")
  else()
    file(WRITE "${src}/COPYING" "websocketpp: BSD-3-Clause (stand-in for upstream COPYING)\n")
  endif()
  foreach(patch IN LISTS arg_PATCHES)
    get_filename_component(patch "${patch}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_LIST_DIR}")
    if(GIT_PROGRAM)
      # Keep git from taking an enclosing repository's root as the base of the patch's paths.
      roomwire_run("${CMAKE_COMMAND}" -E env "GIT_CEILING_DIRECTORIES=${CURRENT_BUILDTREES_DIR}"
                   "${GIT_PROGRAM}" apply --check --ignore-whitespace "${patch}"
                   WORKING_DIRECTORY "${src}")
    endif()
    roomwire_run("${PATCH_PROGRAM}" -p1 --forward --batch --no-backup-if-mismatch -i "${patch}"
                 WORKING_DIRECTORY "${src}")
  endforeach()
  set(${arg_OUT_SOURCE_PATH} "${src}" PARENT_SCOPE)
endfunction()

include("${port_dir}/portfile.cmake")

vcpkg_stub_post_build_checks()
roomwire_expect_files("${CURRENT_PACKAGES_DIR}"
  include/websocketpp/version.hpp
  include/websocketpp/server.hpp
  share/websocketpp/websocketpp-config.cmake
  share/websocketpp/websocketpp-config-version.cmake)

# The patched headers compile as C++20 with GCC (-I before the system's unpatched copy).
foreach(std 20)
  roomwire_run("${CXX}" -std=c++${std} -DASIO_STANDALONE "-I${CURRENT_PACKAGES_DIR}/include"
               -fsyntax-only "${TU}")
endforeach()

# find_package(websocketpp) twice in one scope, from the package as installed.
set(project "${WORK}/find_twice")
file(WRITE "${project}/CMakeLists.txt" [[
cmake_minimum_required(VERSION 3.21)
project(find_twice LANGUAGES NONE)
find_package(websocketpp 0.8.2 EXACT CONFIG REQUIRED)
find_package(websocketpp 0.8.2 EXACT CONFIG REQUIRED)
if(NOT TARGET websocketpp::websocketpp OR NOT EXISTS "${WEBSOCKETPP_INCLUDE_DIR}/websocketpp/server.hpp")
  message(FATAL_ERROR "websocketpp::websocketpp or WEBSOCKETPP_INCLUDE_DIR missing")
endif()
]])
roomwire_run("${CMAKE_COMMAND}" -S "${project}" -B "${project}/build" -G "${GENERATOR}"
             "-DCMAKE_PREFIX_PATH=${CURRENT_PACKAGES_DIR}" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
