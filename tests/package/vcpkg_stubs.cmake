# Stand-ins for the vcpkg helpers our portfiles call, so that a portfile can run here (vcpkg
# cannot): they configure, build and install for real, and move files the way vcpkg does for an
# x64-linux (static) triplet. A portfile calling any other vcpkg helper stops with
# "Unknown CMake command", which is the cue to add a stand-in.
# Set before include()-ing a portfile: PORT, VERSION, CURRENT_PACKAGES_DIR,
# CURRENT_BUILDTREES_DIR, GENERATOR, MAKE_PROGRAM, CXX.

include("${CMAKE_CURRENT_LIST_DIR}/common.cmake")

set(TARGET_TRIPLET x64-linux)
set(VCPKG_TARGET_ARCHITECTURE x64)
set(VCPKG_CMAKE_SYSTEM_NAME Linux)
set(VCPKG_LIBRARY_LINKAGE static)
set(VCPKG_CRT_LINKAGE dynamic)
set(VCPKG_TARGET_IS_LINUX ON)
set(VCPKG_TARGET_EXECUTABLE_SUFFIX "")

# The configurations vcpkg builds: release, plus debug unless VCPKG_BUILD_TYPE is release.
macro(z_stub_configs out)
  set(${out} release)
  if(NOT VCPKG_BUILD_TYPE STREQUAL "release")
    list(APPEND ${out} debug)
  endif()
endmacro()

function(vcpkg_cmake_configure)
  cmake_parse_arguments(PARSE_ARGV 0 arg
    "PREFER_NINJA;DISABLE_PARALLEL_CONFIGURE;WINDOWS_USE_MSBUILD;NO_CHARSET_FLAG;Z_CMAKE_GET_VARS_USAGE"
    "SOURCE_PATH;GENERATOR;LOGFILE_BASE"
    "OPTIONS;OPTIONS_DEBUG;OPTIONS_RELEASE;MAYBE_UNUSED_VARIABLES")
  if(NOT IS_DIRECTORY "${arg_SOURCE_PATH}")
    message(FATAL_ERROR "vcpkg_cmake_configure: SOURCE_PATH '${arg_SOURCE_PATH}' is not a directory")
  endif()
  # What vcpkg_cmake_configure passes to every project (scripts/cmake, x64-linux).
  set(common -G "${GENERATOR}" "-DCMAKE_CXX_COMPILER=${CXX}"
      -DCMAKE_INSTALL_LIBDIR:STRING=lib -DCMAKE_INSTALL_BINDIR:STRING=bin
      -DFETCHCONTENT_FULLY_DISCONNECTED=ON -DCMAKE_EXPORT_NO_PACKAGE_REGISTRY=ON
      -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON
      -DCMAKE_FIND_PACKAGE_NO_SYSTEM_PACKAGE_REGISTRY=ON
      -DCMAKE_INSTALL_SYSTEM_RUNTIME_LIBS_SKIP=TRUE -DBUILD_SHARED_LIBS=OFF
      -DVCPKG_TARGET_TRIPLET=${TARGET_TRIPLET})
  if(MAKE_PROGRAM)
    list(APPEND common "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
  endif()
  z_stub_configs(configs)
  set(build_dirs "")
  foreach(config IN LISTS configs)
    if(config STREQUAL "release")
      set(dir "${CURRENT_BUILDTREES_DIR}/${TARGET_TRIPLET}-rel")
      set(options -DCMAKE_BUILD_TYPE=Release "-DCMAKE_INSTALL_PREFIX=${CURRENT_PACKAGES_DIR}"
          ${arg_OPTIONS} ${arg_OPTIONS_RELEASE})
    else()
      set(dir "${CURRENT_BUILDTREES_DIR}/${TARGET_TRIPLET}-dbg")
      set(options -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_INSTALL_PREFIX=${CURRENT_PACKAGES_DIR}/debug"
          ${arg_OPTIONS} ${arg_OPTIONS_DEBUG})
    endif()
    file(REMOVE_RECURSE "${dir}")
    execute_process(COMMAND "${CMAKE_COMMAND}" -S "${arg_SOURCE_PATH}" -B "${dir}" ${common} ${options}
                    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
    message("${out}")
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "vcpkg_cmake_configure (${config}) failed")
    endif()
    # vcpkg reports options the project never read; here that is an error, since it means the
    # portfile and CMakeLists.txt have drifted apart.
    if(out MATCHES "Manually-specified variables were not used by the project:(.*)")
      set(unused "${CMAKE_MATCH_1}")
      foreach(option IN LISTS arg_OPTIONS)
        if(option MATCHES "^-D([A-Za-z0-9_]+)")
          set(name "${CMAKE_MATCH_1}")
          if(unused MATCHES "[ \n]${name}\n")
            message(FATAL_ERROR "portfile option ${option} is not used by the project")
          endif()
        endif()
      endforeach()
    endif()
    list(APPEND build_dirs "${dir}")
  endforeach()
  set_property(GLOBAL PROPERTY z_stub_build_dirs "${build_dirs}")
endfunction()

function(vcpkg_cmake_install)
  get_property(build_dirs GLOBAL PROPERTY z_stub_build_dirs)
  if(NOT build_dirs)
    message(FATAL_ERROR "vcpkg_cmake_install before vcpkg_cmake_configure")
  endif()
  foreach(dir IN LISTS build_dirs)
    roomwire_run("${CMAKE_COMMAND}" --build "${dir}" --parallel 2)
    roomwire_run("${CMAKE_COMMAND}" --install "${dir}")
  endforeach()
endfunction()

# vcpkg-cmake-config's vcpkg_cmake_config_fixup, for what our ports need: moves the config files
# from CONFIG_PATH to share/<PACKAGE_NAME>, drops a parent directory named cmake, keeps the debug
# targets, and rewrites the prefix computations for the new depth (share/<name>: two levels).
function(vcpkg_cmake_config_fixup)
  cmake_parse_arguments(PARSE_ARGV 0 arg "DO_NOT_DELETE_PARENT_CONFIG_PATH;NO_PREFIX_CORRECTION"
                        "PACKAGE_NAME;CONFIG_PATH;TOOLS_PATH" "")
  if(NOT arg_PACKAGE_NAME)
    set(arg_PACKAGE_NAME "${PORT}")
  endif()
  if(NOT arg_CONFIG_PATH)
    set(arg_CONFIG_PATH "share/${arg_PACKAGE_NAME}")
  endif()
  set(release_share "${CURRENT_PACKAGES_DIR}/share/${arg_PACKAGE_NAME}")
  set(debug_share "${CURRENT_PACKAGES_DIR}/debug/share/${arg_PACKAGE_NAME}")
  z_stub_configs(configs)
  foreach(config IN LISTS configs)
    if(config STREQUAL "release")
      set(root "${CURRENT_PACKAGES_DIR}")
      set(share "${release_share}")
    else()
      set(root "${CURRENT_PACKAGES_DIR}/debug")
      set(share "${debug_share}")
    endif()
    set(from "${root}/${arg_CONFIG_PATH}")
    if(NOT EXISTS "${from}")
      message(FATAL_ERROR "vcpkg_cmake_config_fixup: '${from}' does not exist")
    endif()
    if(NOT from STREQUAL share)
      file(GLOB files "${from}/*")
      file(COPY ${files} DESTINATION "${share}")
      file(REMOVE_RECURSE "${from}")
      get_filename_component(parent "${from}" DIRECTORY)
      get_filename_component(parent_name "${parent}" NAME)
      if(parent_name STREQUAL "cmake" AND NOT arg_DO_NOT_DELETE_PARENT_CONFIG_PATH)
        file(REMOVE_RECURSE "${parent}")
      endif()
    endif()
  endforeach()
  if(EXISTS "${debug_share}")
    file(GLOB debug_targets "${debug_share}/*-debug.cmake")
    foreach(f IN LISTS debug_targets)
      file(READ "${f}" contents)
      string(REPLACE [[${_IMPORT_PREFIX}/lib]] [[${_IMPORT_PREFIX}/debug/lib]] contents "${contents}")
      get_filename_component(name "${f}" NAME)
      file(WRITE "${release_share}/${name}" "${contents}")
    endforeach()
    file(REMOVE_RECURSE "${debug_share}")
  endif()
  file(GLOB_RECURSE cmake_files "${release_share}/*.cmake")
  foreach(f IN LISTS cmake_files)
    file(READ "${f}" contents)
    if(NOT arg_NO_PREFIX_CORRECTION)
      string(REGEX REPLACE
[[get_filename_component\(_IMPORT_PREFIX "\${CMAKE_CURRENT_LIST_FILE}" PATH\)(
get_filename_component\(_IMPORT_PREFIX "\${_IMPORT_PREFIX}" PATH\))*]]
[[get_filename_component(_IMPORT_PREFIX "${CMAKE_CURRENT_LIST_FILE}" PATH)
get_filename_component(_IMPORT_PREFIX "${_IMPORT_PREFIX}" PATH)
get_filename_component(_IMPORT_PREFIX "${_IMPORT_PREFIX}" PATH)]]
        contents "${contents}")
      string(REGEX REPLACE
[[get_filename_component\(PACKAGE_PREFIX_DIR "\${CMAKE_CURRENT_LIST_DIR}/\.\./(\.\./)*" ABSOLUTE\)]]
[[get_filename_component(PACKAGE_PREFIX_DIR "${CMAKE_CURRENT_LIST_DIR}/../../" ABSOLUTE)]]
        contents "${contents}")
    endif()
    string(REPLACE "${CURRENT_PACKAGES_DIR}" [[${_IMPORT_PREFIX}]] contents "${contents}")
    file(WRITE "${f}" "${contents}")
  endforeach()
  file(GLOB_RECURSE rest "${CURRENT_PACKAGES_DIR}/debug/share/*")
  if(NOT rest)
    file(REMOVE_RECURSE "${CURRENT_PACKAGES_DIR}/debug/share")
  endif()
endfunction()

function(vcpkg_install_copyright)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "COMMENT" "FILE_LIST")
  set(text "")
  foreach(f IN LISTS arg_FILE_LIST)
    if(NOT EXISTS "${f}")
      message(FATAL_ERROR "vcpkg_install_copyright: '${f}' does not exist")
    endif()
    file(READ "${f}" content)
    string(APPEND text "${content}")
  endforeach()
  file(WRITE "${CURRENT_PACKAGES_DIR}/share/${PORT}/copyright" "${text}")
endfunction()

# The post-build checks of vcpkg that apply to these ports.
function(vcpkg_stub_post_build_checks)
  set(pkg "${CURRENT_PACKAGES_DIR}")
  roomwire_expect_files("${pkg}" "share/${PORT}/copyright")
  file(GLOB headers "${pkg}/include/*")
  if(NOT headers)
    message(FATAL_ERROR "post-build: nothing in include/")
  endif()
  foreach(dir debug/include debug/share bin debug/bin lib/cmake debug/lib/cmake share/doc)
    if(EXISTS "${pkg}/${dir}")
      message(FATAL_ERROR "post-build: ${dir}/ must not exist in a vcpkg package")
    endif()
  endforeach()
  file(GLOB_RECURSE dirs LIST_DIRECTORIES true "${pkg}/*")
  foreach(d IN LISTS dirs)
    if(IS_DIRECTORY "${d}")
      file(GLOB content "${d}/*")
      if(NOT content)
        message(FATAL_ERROR "post-build: empty directory ${d}")
      endif()
    endif()
  endforeach()
  file(GLOB_RECURSE cmake_files RELATIVE "${pkg}" "${pkg}/*.cmake")
  foreach(f IN LISTS cmake_files)
    if(NOT f MATCHES "^share/")
      message(FATAL_ERROR "post-build: CMake file outside share/: ${f}")
    endif()
  endforeach()
  roomwire_expect_no_mention("${pkg}" "${pkg}" "${CURRENT_BUILDTREES_DIR}")
endfunction()
