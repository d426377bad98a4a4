# Install rules and the exported package: find_package(roomwire) gives roomwire::protocol and
# roomwire::roomwire (and roomwire::redis, component `redis`, when built with ROOMWIRE_REDIS).
# Everything is relative to the install prefix, so a moved prefix still works.

include_guard(GLOBAL)
include(CMakePackageConfigHelpers)

set(ROOMWIRE_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/roomwire"
    CACHE STRING "Where roomwireConfig.cmake is installed, relative to the prefix")

# What a package config must find before loading the targets: OpenSSL and hiredis when a static
# library links them (its private links reach consumers as $<LINK_ONLY:>).
set(_roomwire_package_dependencies "")
foreach(_roomwire_target IN LISTS ROOMWIRE_EXPORTED_TARGETS)
  get_target_property(_roomwire_type ${_roomwire_target} TYPE)
  get_target_property(_roomwire_links ${_roomwire_target} LINK_LIBRARIES)
  if(_roomwire_type STREQUAL "STATIC_LIBRARY" AND "${_roomwire_links}" MATCHES "OpenSSL::")
    list(APPEND _roomwire_package_dependencies openssl)
  endif()
  if(_roomwire_type STREQUAL "STATIC_LIBRARY" AND "${_roomwire_links}" MATCHES "roomwire_dep::hiredis")
    list(APPEND _roomwire_package_dependencies hiredis)
  endif()
endforeach()
list(REMOVE_DUPLICATES _roomwire_package_dependencies)

# roomwire/redis.hpp only with the library behind it.
set(_roomwire_header_excludes "")
if(NOT TARGET roomwire_redis)
  set(_roomwire_header_excludes PATTERN "redis.hpp" EXCLUDE)
endif()
install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/roomwire"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
        FILES_MATCHING PATTERN "*.hpp" ${_roomwire_header_excludes})

install(TARGETS ${ROOMWIRE_EXPORTED_TARGETS}
        EXPORT roomwireTargets
        ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}"
        INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")

install(EXPORT roomwireTargets
        NAMESPACE roomwire::
        DESTINATION "${ROOMWIRE_INSTALL_CMAKEDIR}")

# The installed config needs no websocketpp: the install export drops the compiled library's
# $<BUILD_INTERFACE:roomwire_dep::websocketpp>.
list(JOIN _roomwire_package_dependencies " " ROOMWIRE_CONFIG_DEPENDENCIES)
configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/roomwireConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/install-config/roomwireConfig.cmake"
  INSTALL_DESTINATION "${ROOMWIRE_INSTALL_CMAKEDIR}")

# While 0.x, a minor version may break the API: only the same minor is compatible.
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/roomwireConfigVersion.cmake"
  COMPATIBILITY SameMinorVersion)

install(FILES
          "${PROJECT_BINARY_DIR}/install-config/roomwireConfig.cmake"
          "${PROJECT_BINARY_DIR}/roomwireConfigVersion.cmake"
          "${PROJECT_SOURCE_DIR}/cmake/roomwireDependencies.cmake"
        DESTINATION "${ROOMWIRE_INSTALL_CMAKEDIR}")

install(FILES "${PROJECT_SOURCE_DIR}/LICENSE" DESTINATION "${CMAKE_INSTALL_DATADIR}/doc/roomwire")

# The build tree as a package too (find_package with roomwire_DIR=<build dir>). Its export keeps
# $<BUILD_INTERFACE:> link items, so its config looks for websocketpp as well.
export(EXPORT roomwireTargets NAMESPACE roomwire:: FILE "${PROJECT_BINARY_DIR}/roomwireTargets.cmake")
list(JOIN _roomwire_package_dependencies " " ROOMWIRE_CONFIG_DEPENDENCIES)
string(PREPEND ROOMWIRE_CONFIG_DEPENDENCIES "websocketpp ")
configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/roomwireConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/roomwireConfig.cmake"
  INSTALL_PREFIX "${PROJECT_BINARY_DIR}"
  INSTALL_DESTINATION .)
unset(ROOMWIRE_CONFIG_DEPENDENCIES)
configure_file("${PROJECT_SOURCE_DIR}/cmake/roomwireDependencies.cmake"
               "${PROJECT_BINARY_DIR}/roomwireDependencies.cmake" COPYONLY)
