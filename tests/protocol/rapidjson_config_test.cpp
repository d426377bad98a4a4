// roomwire's public headers must leave RapidJSON's configuration macros to the host. This file
// includes them before anything else, so that any RAPIDJSON_* they (or the exported targets'
// compile definitions) set is visible here.
#include "roomwire/protocol.hpp"
// clang-format off
#if defined(RAPIDJSON_SSE2) || defined(RAPIDJSON_SSE42) || defined(RAPIDJSON_NEON)
#define ROOMWIRE_TEST_SIMD_SET 1
#else
#define ROOMWIRE_TEST_SIMD_SET 0
#endif
#if defined(RAPIDJSON_NOMEMBERITERATORCLASS) || defined(RAPIDJSON_NO_SIZETYPEDEFINE) || \
    defined(RAPIDJSON_NO_INT64DEFINE) || defined(RAPIDJSON_USE_MEMBERSMAP) ||            \
    defined(RAPIDJSON_DEFAULT_ALLOCATOR) || defined(RAPIDJSON_DEFAULT_STACK_ALLOCATOR) ||  \
    defined(RAPIDJSON_NAMESPACE_BEGIN_OVERRIDE) || defined(RAPIDJSON_ERROR_CHARTYPE_OVERRIDE)
#define ROOMWIRE_TEST_OPTION_SET 1
#else
#define ROOMWIRE_TEST_OPTION_SET 0
#endif
// clang-format on

#include <catch2/catch.hpp>

#include <cstring>
#include <type_traits>

#define ROOMWIRE_TEST_STR2(x) #x
#define ROOMWIRE_TEST_STR(x) ROOMWIRE_TEST_STR2(x)

TEST_CASE("public headers leave RapidJSON's configuration to the host", "[rapidjson]") {
  // These keep RapidJSON's own defaults, which rapidjson.h sets when nobody else did.
  CHECK(RAPIDJSON_HAS_STDSTRING == 0);
  {
    using namespace rapidjson;  // the default flags expand to unqualified enumerators
    CHECK(RAPIDJSON_PARSE_DEFAULT_FLAGS == kParseNoFlags);
    CHECK(RAPIDJSON_WRITE_DEFAULT_FLAGS == kWriteNoFlags);
  }
  CHECK(std::strcmp(ROOMWIRE_TEST_STR(RAPIDJSON_NAMESPACE), "rapidjson") == 0);
  CHECK(std::is_same<rapidjson::SizeType, unsigned>::value);
  // These have no default: defined at all means somebody chose them.
  CHECK(ROOMWIRE_TEST_SIMD_SET == 0);
  CHECK(ROOMWIRE_TEST_OPTION_SET == 0);
}
