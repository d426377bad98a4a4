# Runs ports/roomwire/portfile.cmake with stand-ins for vcpkg's helpers (vcpkg_stubs.cmake):
# the project is configured with exactly the portfile's options plus what vcpkg always passes,
# installed to a staging prefix, and fixed up as vcpkg_cmake_config_fixup(CONFIG_PATH ...)
# would. Then the package is checked against vcpkg's post-build rules and a consumer is built
# against it with find_package(roomwire).
#   MODE=full   as vcpkg does it: build and install for release and debug (minutes: the
#               library is compiled twice).
#   MODE=quick  configure for release only, exactly as the portfile says (which catches options
#               the project no longer reads, and a CONFIG_PATH that is not where the project puts
#               its config), and install with that configure's own rules; the compiled library
#               those rules pick up is taken from the install fixture (INSTALLED_PREFIX, same
#               sources) instead of being compiled again.
#   cmake -DMODE=quick|full -DPORTS_DIR=<ports> -DWORK=<dir> -DGENERATOR=<g> [-DMAKE_PROGRAM=<p>]
#         -DCXX=<c> -DPROJECT_VERSION=<x.y.z> -DCONSUMER=<consumer project>
#         [-DINSTALLED_PREFIX=<dir>] [-DCONSUMER_LINK_FLAGS=<-D...>] [-DENABLED=OFF]
#         -P port_roomwire.cmake

include("${CMAKE_CURRENT_LIST_DIR}/vcpkg_stubs.cmake")
roomwire_require_variables(MODE PORTS_DIR WORK GENERATOR CXX PROJECT_VERSION CONSUMER)
if(DEFINED ENABLED AND NOT ENABLED)
  roomwire_skip("the port build compiles the library twice; configure roomwire with "
                "-DROOMWIRE_TEST_PORT_BUILD=ON to run it (ports.roomwire covers the rest)")
  return()
endif()

set(port_dir "${PORTS_DIR}/roomwire")
file(READ "${port_dir}/vcpkg.json" manifest)
string(JSON PORT GET "${manifest}" name)
string(JSON VERSION GET "${manifest}" version)
if(NOT PORT STREQUAL "roomwire")
  message(FATAL_ERROR "ports/roomwire/vcpkg.json names the port '${PORT}'")
endif()
if(NOT VERSION STREQUAL PROJECT_VERSION)
  message(FATAL_ERROR "ports/roomwire/vcpkg.json says ${VERSION}, the project is ${PROJECT_VERSION}")
endif()
# The helper ports the portfile's functions come from.
string(JSON count LENGTH "${manifest}" dependencies)
math(EXPR last "${count} - 1")
set(dependencies "")
foreach(i RANGE ${last})
  string(JSON type TYPE "${manifest}" dependencies ${i})
  if(type STREQUAL "OBJECT")
    string(JSON name GET "${manifest}" dependencies ${i} name)
  else()
    string(JSON name GET "${manifest}" dependencies ${i})
  endif()
  list(APPEND dependencies ${name})
endforeach()
foreach(needed vcpkg-cmake vcpkg-cmake-config asio rapidjson websocketpp)
  if(NOT needed IN_LIST dependencies)
    message(FATAL_ERROR "ports/roomwire/vcpkg.json does not depend on ${needed}")
  endif()
endforeach()
if(NOT EXISTS "${PORTS_DIR}/websocketpp/portfile.cmake")
  message(FATAL_ERROR "the websocketpp dependency has no overlay port in ${PORTS_DIR}")
endif()

file(REMOVE_RECURSE "${WORK}")
set(CURRENT_PACKAGES_DIR "${WORK}/packages/${PORT}_x64-linux")
set(CURRENT_BUILDTREES_DIR "${WORK}/buildtrees/${PORT}")
set(CURRENT_INSTALLED_DIR "${WORK}/installed/x64-linux")

if(MODE STREQUAL "quick")
  roomwire_require_variables(INSTALLED_PREFIX)
  set(VCPKG_BUILD_TYPE release)
  # Installs the port's own configure with its own install rules, without building: each file
  # those rules take from the build tree (the compiled library) is put there from the fixture.
  function(vcpkg_cmake_install)
    get_property(build_dir GLOBAL PROPERTY z_stub_build_dirs)
    file(GLOB_RECURSE scripts "${build_dir}/cmake_install.cmake")
    foreach(script IN LISTS scripts)
      file(READ "${script}" content)
      string(REGEX MATCHALL "\"${build_dir}/[^\"]+\"" built "${content}")
      foreach(file IN LISTS built)
        string(REPLACE "\"" "" file "${file}")
        if(EXISTS "${file}" OR file MATCHES "\\$")  # there already, or not a file (${VAR})
          continue()
        endif()
        get_filename_component(name "${file}" NAME)
        file(GLOB_RECURSE found "${INSTALLED_PREFIX}/*/${name}")
        if(NOT found)
          roomwire_skip("the install fixture has no ${name} to stand in for the port's build")
          message(FATAL_ERROR "cannot stand in for the port's build")
        endif()
        list(GET found 0 found)
        file(COPY_FILE "${found}" "${file}")
      endforeach()
    endforeach()
    roomwire_run("${CMAKE_COMMAND}" --install "${build_dir}")
  endfunction()
elseif(NOT MODE STREQUAL "full")
  message(FATAL_ERROR "MODE must be quick or full")
endif()

include("${port_dir}/portfile.cmake")

vcpkg_stub_post_build_checks()
roomwire_expect_files("${CURRENT_PACKAGES_DIR}"
  include/roomwire/protocol.hpp
  include/roomwire/version.hpp
  share/roomwire/roomwireConfig.cmake
  share/roomwire/roomwireConfigVersion.cmake
  share/roomwire/roomwireTargets.cmake
  share/roomwire/roomwireDependencies.cmake
  share/roomwire/usage)
file(READ "${CURRENT_PACKAGES_DIR}/share/roomwire/usage" usage)
foreach(target roomwire::roomwire roomwire::protocol)
  string(FIND "${usage}" "${target}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "ports/roomwire/usage does not mention ${target}")
  endif()
endforeach()

# A user of the vcpkg package: find_package(roomwire) from the package as vcpkg installs it.
set(consumer_args -DROOMWIRE_ROUTE=package "-DCMAKE_PREFIX_PATH=${CURRENT_PACKAGES_DIR}"
    "-DROOMWIRE_EXPECT_DIR=${CURRENT_PACKAGES_DIR}/share/roomwire"
    -DROOMWIRE_EXPECT_VERSION=${PROJECT_VERSION}
    "-DROOMWIRE_HEADERS_FROM=${CURRENT_PACKAGES_DIR}/include" ${CONSUMER_LINK_FLAGS})
execute_process(COMMAND "${CMAKE_COMMAND}" "-DSOURCE=${CONSUMER}" "-DBINARY=${WORK}/consumer"
                  "-DGENERATOR=${GENERATOR}" "-DMAKE_PROGRAM=${MAKE_PROGRAM}" -DCONFIG=Release
                  "-DCXX=${CXX}" "-DARGS=${consumer_args}"
                  -P "${CMAKE_CURRENT_LIST_DIR}/build_project.cmake"
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the consumer of the vcpkg package failed")
endif()
