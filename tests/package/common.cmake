# Helpers shared by the package test drivers (run as `cmake -P`).
cmake_minimum_required(VERSION 3.21)  # policies of the project (IN_LIST, ...) for these scripts

# A test whose output contains this line is reported as skipped (SKIP_REGULAR_EXPRESSION): CMake
# 3.25 scripts cannot exit with a chosen code, so SKIP_RETURN_CODE is out of reach.
set(ROOMWIRE_SKIP_MARKER "ROOMWIRE-TEST-SKIPPED")

function(roomwire_skip why)
  message("${ROOMWIRE_SKIP_MARKER}: ${why}")
endfunction()

# Runs a command, echoing it; stops the test when it fails.
function(roomwire_run)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "WORKING_DIRECTORY" "")
  if(NOT arg_WORKING_DIRECTORY)
    set(arg_WORKING_DIRECTORY "${CMAKE_CURRENT_BINARY_DIR}")
  endif()
  execute_process(COMMAND ${arg_UNPARSED_ARGUMENTS}
                  WORKING_DIRECTORY "${arg_WORKING_DIRECTORY}"
                  COMMAND_ECHO STDOUT
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    list(JOIN arg_UNPARSED_ARGUMENTS " " cmd)
    message(FATAL_ERROR "failed (${rc}): ${cmd}")
  endif()
endfunction()

function(roomwire_require_variables)
  foreach(var IN LISTS ARGN)
    if(NOT DEFINED ${var})
      message(FATAL_ERROR "driver: -D${var}=... is required")
    endif()
  endforeach()
endfunction()

# Fails unless every path (relative to `root`) exists.
function(roomwire_expect_files root)
  foreach(rel IN LISTS ARGN)
    if(NOT EXISTS "${root}/${rel}")
      message(FATAL_ERROR "missing: ${root}/${rel}")
    endif()
  endforeach()
endfunction()

# Fails when a CMake file, pkg-config file or header under `root` mentions one of `needles`
# (absolute paths that must not leak into a relocatable install). Binaries are not read: debug
# information names the build directory by design.
function(roomwire_expect_no_mention root)
  file(GLOB_RECURSE files LIST_DIRECTORIES false
       "${root}/*.cmake" "${root}/*.pc" "${root}/*.hpp" "${root}/*.h")
  foreach(f IN LISTS files)
    file(READ "${f}" content)
    foreach(needle IN LISTS ARGN)
      string(FIND "${content}" "${needle}" at)
      if(NOT at EQUAL -1)
        message(FATAL_ERROR "${f} mentions ${needle}: the install is not relocatable")
      endif()
    endforeach()
  endforeach()
endfunction()
