# Configures, builds and runs the tests of a small project from scratch, the way a user would:
#   cmake -DSOURCE=<dir> -DBINARY=<dir> -DGENERATOR=<g> [-DMAKE_PROGRAM=<p>] [-DCONFIG=<c>]
#         -DCXX=<compiler> [-DARGS=<-D...;-D...>] [-DSKIP_REASON=<why>] -P build_project.cmake
# A CXX that does not exist, or a SKIP_REASON, skips the test (see common.cmake).

include("${CMAKE_CURRENT_LIST_DIR}/common.cmake")
roomwire_require_variables(SOURCE BINARY GENERATOR CXX)

if(SKIP_REASON)
  roomwire_skip("${SKIP_REASON}")
  return()
endif()
if(NOT EXISTS "${CXX}")
  roomwire_skip("compiler '${CXX}' is not installed (Debian 12: apt-get install clang g++)")
  return()
endif()

set(configure_args -G "${GENERATOR}" -DCMAKE_CXX_COMPILER=${CXX}
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF)
if(MAKE_PROGRAM)
  list(APPEND configure_args -DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM})
endif()
set(config_args "")
if(CONFIG)
  list(APPEND configure_args -DCMAKE_BUILD_TYPE=${CONFIG})
  set(config_args --config ${CONFIG})
  set(ctest_config_args -C ${CONFIG})
endif()

file(REMOVE_RECURSE "${BINARY}")
roomwire_run("${CMAKE_COMMAND}" -S "${SOURCE}" -B "${BINARY}" ${configure_args} ${ARGS})
roomwire_run("${CMAKE_COMMAND}" --build "${BINARY}" ${config_args} --parallel 2)
roomwire_run("${CMAKE_CTEST_COMMAND}" --test-dir "${BINARY}" ${ctest_config_args}
             --output-on-failure --no-tests=ignore)
