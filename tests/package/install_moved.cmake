# Installs a build tree to a staging prefix, moves the prefix elsewhere (as a packager or a user
# copying an install would) and checks what is there. Later tests build consumers against it.
#   cmake -DBUILD_DIR=<roomwire build> [-DCONFIG=<c>] -DSOURCE_DIR=<roomwire source>
#         -DWORK=<dir> -DCMAKEDIR=<rel> -DINCLUDEDIR=<rel> -DDOCDIR=<rel> -P install_moved.cmake
# Result: <WORK>/moved/prefix.

include("${CMAKE_CURRENT_LIST_DIR}/common.cmake")
roomwire_require_variables(BUILD_DIR SOURCE_DIR WORK CMAKEDIR INCLUDEDIR DOCDIR)

set(staged "${WORK}/staged/prefix")
set(moved "${WORK}/moved/prefix")
file(REMOVE_RECURSE "${WORK}")
set(config_args "")
if(CONFIG)
  set(config_args --config ${CONFIG})
endif()
roomwire_run("${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${staged}" ${config_args})

file(MAKE_DIRECTORY "${WORK}/moved")
file(RENAME "${staged}" "${moved}")
if(EXISTS "${staged}")
  message(FATAL_ERROR "the staged prefix is still there after the move")
endif()

# The layout consumers and the vcpkg port rely on.
roomwire_expect_files("${moved}"
  "${INCLUDEDIR}/roomwire/protocol.hpp"
  "${INCLUDEDIR}/roomwire/version.hpp"
  "${CMAKEDIR}/roomwireConfig.cmake"
  "${CMAKEDIR}/roomwireConfigVersion.cmake"
  "${CMAKEDIR}/roomwireTargets.cmake"
  "${CMAKEDIR}/roomwireDependencies.cmake"
  "${DOCDIR}/LICENSE")

# Every public header is installed.
file(GLOB_RECURSE headers RELATIVE "${SOURCE_DIR}/include" "${SOURCE_DIR}/include/roomwire/*.hpp")
foreach(h IN LISTS headers)
  roomwire_expect_files("${moved}" "${INCLUDEDIR}/${h}")
endforeach()

# Nothing installed may remember where it was built or installed.
roomwire_expect_no_mention("${moved}" "${staged}" "${BUILD_DIR}" "${SOURCE_DIR}/")

list(LENGTH headers count)
message(STATUS "installed, moved to ${moved}: ${count} headers, config in ${CMAKEDIR}")
