# Turns what Debian 12 ships into imported targets, for both the build and the installed
# roomwireConfig.cmake:
#   roomwire_dep::asio        standalone Asio (Debian ships no CMake config)
#   roomwire_dep::rapidjson   RapidJSON (its config only sets a variable)
#   roomwire_dep::websocketpp websocketpp (its config defines a target with no guard, so a second
#                             find_package in the same directory scope would fail)
# `roomwire_find_dependencies(websocketpp)` also looks for websocketpp; consumers of the installed
# package never need it, since the compiled library hides it.

include_guard(GLOBAL)

function(_roomwire_header_target target header)
  if(TARGET ${target})
    return()
  endif()
  find_path(_roomwire_inc_${header} NAMES ${header} PATH_SUFFIXES include)
  if(NOT _roomwire_inc_${header})
    message(FATAL_ERROR "roomwire: ${header} not found; on Debian 12: scripts/install-deps")
  endif()
  add_library(${target} INTERFACE IMPORTED GLOBAL)
  set_target_properties(${target} PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${_roomwire_inc_${header}}")
endfunction()

macro(roomwire_find_dependencies)
  set(_roomwire_want_websocketpp OFF)
  foreach(_arg ${ARGN})
    if(_arg STREQUAL "websocketpp")
      set(_roomwire_want_websocketpp ON)
    endif()
  endforeach()

  find_package(Threads REQUIRED)

  if(NOT TARGET roomwire_dep::asio)
    _roomwire_header_target(roomwire_dep::asio asio.hpp)
    set_property(TARGET roomwire_dep::asio APPEND PROPERTY
      INTERFACE_COMPILE_DEFINITIONS ASIO_STANDALONE)
    set_property(TARGET roomwire_dep::asio APPEND PROPERTY
      INTERFACE_LINK_LIBRARIES Threads::Threads)
  endif()

  if(NOT TARGET roomwire_dep::rapidjson)
    find_package(RapidJSON QUIET CONFIG)
    if(RapidJSON_FOUND AND RAPIDJSON_INCLUDE_DIRS)
      add_library(roomwire_dep::rapidjson INTERFACE IMPORTED GLOBAL)
      set_target_properties(roomwire_dep::rapidjson PROPERTIES
        INTERFACE_INCLUDE_DIRECTORIES "${RAPIDJSON_INCLUDE_DIRS}")
    else()
      _roomwire_header_target(roomwire_dep::rapidjson rapidjson/rapidjson.h)
    endif()
  endif()

  if(_roomwire_want_websocketpp AND NOT TARGET roomwire_dep::websocketpp)
    if(TARGET websocketpp::websocketpp)
      add_library(roomwire_dep::websocketpp INTERFACE IMPORTED GLOBAL)
      set_target_properties(roomwire_dep::websocketpp PROPERTIES
        INTERFACE_LINK_LIBRARIES websocketpp::websocketpp)
    else()
      _roomwire_header_target(roomwire_dep::websocketpp websocketpp/version.hpp)
    endif()
  endif()
endmacro()
