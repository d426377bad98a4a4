# Install rules and the exported package: find_package(roomwire) gives roomwire::protocol and
# roomwire::roomwire. Everything is relative to the install prefix, so a moved prefix still works.

include_guard(GLOBAL)
include(CMakePackageConfigHelpers)

set(ROOMWIRE_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/roomwire"
    CACHE STRING "Where roomwireConfig.cmake is installed, relative to the prefix")

install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/roomwire"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
        FILES_MATCHING PATTERN "*.hpp")

install(TARGETS ${ROOMWIRE_EXPORTED_TARGETS}
        EXPORT roomwireTargets
        ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}"
        INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")

install(EXPORT roomwireTargets
        NAMESPACE roomwire::
        DESTINATION "${ROOMWIRE_INSTALL_CMAKEDIR}")

configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/roomwireConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/roomwireConfig.cmake"
  INSTALL_DESTINATION "${ROOMWIRE_INSTALL_CMAKEDIR}")

# While 0.x, a minor version may break the API: only the same minor is compatible.
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/roomwireConfigVersion.cmake"
  COMPATIBILITY SameMinorVersion)

install(FILES
          "${PROJECT_BINARY_DIR}/roomwireConfig.cmake"
          "${PROJECT_BINARY_DIR}/roomwireConfigVersion.cmake"
          "${PROJECT_SOURCE_DIR}/cmake/roomwireDependencies.cmake"
        DESTINATION "${ROOMWIRE_INSTALL_CMAKEDIR}")

install(FILES "${PROJECT_SOURCE_DIR}/LICENSE" DESTINATION "${CMAKE_INSTALL_DATADIR}/doc/roomwire")

# The build tree as a package too (find_package with roomwire_DIR=<build dir>).
export(EXPORT roomwireTargets NAMESPACE roomwire:: FILE "${PROJECT_BINARY_DIR}/roomwireTargets.cmake")
configure_file("${PROJECT_SOURCE_DIR}/cmake/roomwireDependencies.cmake"
               "${PROJECT_BINARY_DIR}/roomwireDependencies.cmake" COPYONLY)
