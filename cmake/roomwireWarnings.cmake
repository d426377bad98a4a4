# Project-only build settings, never exported and never applied globally, so a host that adds
# roomwire with add_subdirectory keeps its own flags.

include_guard(GLOBAL)

option(ROOMWIRE_WARNINGS_AS_ERRORS "Treat warnings in roomwire's own code as errors" OFF)

add_library(roomwire_warnings INTERFACE)
if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  target_compile_options(roomwire_warnings INTERFACE
    -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
    -Woverloaded-virtual -Wnull-dereference -Wimplicit-fallthrough
    $<$<BOOL:${ROOMWIRE_WARNINGS_AS_ERRORS}>:-Werror>)
endif()

# ROOMWIRE_SANITIZE: a ';'-list such as "address;undefined" or "thread", applied to the targets
# passed to roomwire_sanitize() — roomwire's own tests, examples and libraries only.
set(ROOMWIRE_SANITIZE "" CACHE STRING "Sanitizers for roomwire's own targets (address;undefined or thread)")

function(roomwire_sanitize target)
  if(NOT ROOMWIRE_SANITIZE)
    return()
  endif()
  string(REPLACE ";" "," _list "${ROOMWIRE_SANITIZE}")
  get_target_property(_type ${target} TYPE)
  if(_type STREQUAL "INTERFACE_LIBRARY")
    set(_scope INTERFACE)
  else()
    set(_scope PRIVATE)
  endif()
  target_compile_options(${target} ${_scope} -fsanitize=${_list} -fno-omit-frame-pointer
    -fno-sanitize-recover=all)
  target_link_options(${target} ${_scope} -fsanitize=${_list})
endfunction()
