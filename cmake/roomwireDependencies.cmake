# Turns what Debian 12 ships into imported targets, for both the build and the installed
# roomwireConfig.cmake:
#   roomwire_dep::asio        standalone Asio (Debian ships no CMake config)
#   roomwire_dep::rapidjson   RapidJSON (its config only sets a variable)
#   roomwire_dep::websocketpp websocketpp (its config defines a target with no guard, so a second
#                             find_package in the same directory scope would fail)
#   roomwire_dep::hiredis     hiredis, for roomwire::redis (Debian ships only hiredis.pc; a
#                             hiredis with its own CMake config, such as vcpkg's, works too)
# Each header directory is a cache variable (ROOMWIRE_ASIO_INCLUDE_DIR, ROOMWIRE_RAPIDJSON_INCLUDE_DIR,
# ROOMWIRE_WEBSOCKETPP_INCLUDE_DIR) that a packager may point elsewhere.
#
# roomwire_find_dependencies([websocketpp] [openssl] [hiredis] [NOT_FOUND_VAR <var>])
#   websocketpp    also look for websocketpp: the build needs it, and so does the build tree used
#                  as a package (its export keeps the compiled library's $<BUILD_INTERFACE:> deps);
#                  consumers of an installed package never need it.
#   openssl        also look for OpenSSL (OpenSSL::SSL, OpenSSL::Crypto): a static roomwire
#                  library passes its private OpenSSL link on to whoever links it.
#   hiredis        also look for hiredis: roomwire::redis needs it, and as a static library passes
#                  its private link on to whoever links it.
#   NOT_FOUND_VAR  set <var> to a message naming what is missing instead of stopping with an
#                  error: a package config must let a non-REQUIRED find_package(roomwire) fail.

include_guard(GLOBAL)

function(_roomwire_header_target target header var missing_var)
  if(TARGET ${target})
    return()
  endif()
  find_path(${var} NAMES ${header} PATH_SUFFIXES include
            DOC "Directory holding ${header}, for ${target}")
  mark_as_advanced(${var})
  if(NOT ${var})
    set(${missing_var} ${${missing_var}} "${header}" PARENT_SCOPE)
    return()
  endif()
  add_library(${target} INTERFACE IMPORTED GLOBAL)
  set_target_properties(${target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${${var}}")
endfunction()

function(roomwire_find_dependencies)
  cmake_parse_arguments(PARSE_ARGV 0 arg "websocketpp;openssl;hiredis" "NOT_FOUND_VAR" "")
  set(missing "")

  # Unconditionally: FindThreads' target is directory-scoped, and roomwire_dep::asio (global)
  # names it.
  find_package(Threads QUIET)
  if(NOT Threads_FOUND)
    list(APPEND missing "Threads")
  endif()

  if(NOT TARGET roomwire_dep::asio)
    _roomwire_header_target(roomwire_dep::asio asio.hpp ROOMWIRE_ASIO_INCLUDE_DIR missing)
    if(TARGET roomwire_dep::asio)
      set_property(TARGET roomwire_dep::asio APPEND PROPERTY
        INTERFACE_COMPILE_DEFINITIONS ASIO_STANDALONE)
      set_property(TARGET roomwire_dep::asio APPEND PROPERTY
        INTERFACE_LINK_LIBRARIES Threads::Threads)
    endif()
  endif()

  if(NOT TARGET roomwire_dep::rapidjson)
    find_package(RapidJSON QUIET CONFIG)
    if(RapidJSON_FOUND AND RAPIDJSON_INCLUDE_DIRS)
      add_library(roomwire_dep::rapidjson INTERFACE IMPORTED GLOBAL)
      set_target_properties(roomwire_dep::rapidjson PROPERTIES
        INTERFACE_INCLUDE_DIRECTORIES "${RAPIDJSON_INCLUDE_DIRS}")
    else()
      _roomwire_header_target(roomwire_dep::rapidjson rapidjson/rapidjson.h
                              ROOMWIRE_RAPIDJSON_INCLUDE_DIR missing)
    endif()
  endif()

  if(arg_websocketpp AND NOT TARGET roomwire_dep::websocketpp)
    if(TARGET websocketpp::websocketpp)
      add_library(roomwire_dep::websocketpp INTERFACE IMPORTED GLOBAL)
      set_target_properties(roomwire_dep::websocketpp PROPERTIES
        INTERFACE_LINK_LIBRARIES websocketpp::websocketpp)
    else()
      _roomwire_header_target(roomwire_dep::websocketpp websocketpp/version.hpp
                              ROOMWIRE_WEBSOCKETPP_INCLUDE_DIR missing)
    endif()
  endif()

  if(arg_openssl AND NOT (TARGET OpenSSL::SSL AND TARGET OpenSSL::Crypto))
    find_package(OpenSSL QUIET)
    if(NOT OPENSSL_FOUND)
      list(APPEND missing "OpenSSL")
    endif()
  endif()

  if(arg_hiredis AND NOT TARGET roomwire_dep::hiredis)
    find_package(PkgConfig QUIET)
    if(PKG_CONFIG_FOUND)
      pkg_check_modules(ROOMWIRE_HIREDIS QUIET IMPORTED_TARGET GLOBAL hiredis)
    endif()
    if(NOT TARGET PkgConfig::ROOMWIRE_HIREDIS)
      find_package(hiredis QUIET CONFIG)
    endif()
    if(TARGET PkgConfig::ROOMWIRE_HIREDIS OR TARGET hiredis::hiredis)
      add_library(roomwire_dep::hiredis INTERFACE IMPORTED GLOBAL)
      if(TARGET PkgConfig::ROOMWIRE_HIREDIS)
        set_target_properties(roomwire_dep::hiredis PROPERTIES
          INTERFACE_LINK_LIBRARIES PkgConfig::ROOMWIRE_HIREDIS)
      else()
        set_target_properties(roomwire_dep::hiredis PROPERTIES
          INTERFACE_LINK_LIBRARIES hiredis::hiredis)
      endif()
    else()
      list(APPEND missing "hiredis")
    endif()
  endif()

  if(missing)
    list(JOIN missing ", " missing)
    set(message "roomwire: not found: ${missing}; on Debian 12: scripts/install-deps")
    if(arg_NOT_FOUND_VAR)
      set(${arg_NOT_FOUND_VAR} "${message}" PARENT_SCOPE)
    else()
      message(FATAL_ERROR "${message}")
    endif()
  elseif(arg_NOT_FOUND_VAR)
    set(${arg_NOT_FOUND_VAR} "" PARENT_SCOPE)
  endif()
endfunction()
