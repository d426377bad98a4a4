#pragma once

// The single source of the project's version: CMake reads these three lines.
#define ROOMWIRE_VERSION_MAJOR 0
#define ROOMWIRE_VERSION_MINOR 1
#define ROOMWIRE_VERSION_PATCH 0

namespace roomwire {
inline constexpr int version_major = ROOMWIRE_VERSION_MAJOR;
inline constexpr int version_minor = ROOMWIRE_VERSION_MINOR;
inline constexpr int version_patch = ROOMWIRE_VERSION_PATCH;
inline constexpr const char* version_string = "0.1.0";
}  // namespace roomwire
