// A host application's own message types, through the same field table as the built-in ones:
// one written with `type` and `fields()` members, one for a type it cannot edit through a
// schema<T> specialisation.

#include <catch2/catch.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol_test_support.hpp"
#include "roomwire/protocol.hpp"

namespace rp = roomwire::protocol;
using roomwire_test::decodes;
using roomwire_test::frame;
using roomwire_test::refused;

namespace host {

enum class drive_mode { idle, manual, autonomous };

// A type the host owns: a few lines.
struct robot_status {
  static constexpr std::string_view type = "robotStatus";
  std::string robot_id;
  double battery = 0;  // 0..1
  bool charging = false;
  drive_mode mode = drive_mode::idle;
  std::vector<std::int32_t> joint_angles;  // degrees, -180..180 each
  std::optional<std::string> note;

  static constexpr auto fields() {
    using rp::field;
    return rp::fields(field("robotId", &robot_status::robot_id).chars(1, 64),
                      field("battery", &robot_status::battery).range(0, 1),
                      field("charging", &robot_status::charging),
                      field("mode", &robot_status::mode).optional(),
                      field("jointAngles", &robot_status::joint_angles).range(-180, 180),
                      field("note", &robot_status::note).chars(0, 280));
  }
  friend bool operator==(const robot_status& a, const robot_status& b) {
    return a.robot_id == b.robot_id && a.battery == b.battery && a.charging == b.charging &&
           a.mode == b.mode && a.joint_angles == b.joint_angles && a.note == b.note;
  }
};

}  // namespace host

template <>
struct roomwire::protocol::enum_names<host::drive_mode> {
  static constexpr std::pair<std::string_view, host::drive_mode> values[] = {
      {"idle", host::drive_mode::idle},
      {"manual", host::drive_mode::manual},
      {"autonomous", host::drive_mode::autonomous},
  };
};

// Types from a library the host cannot edit.
namespace vendor {
struct position {
  double lat = 0;
  double lon = 0;
};
struct gps_fix {
  std::string device;
  position where;
  std::uint32_t satellites = 0;
  std::int64_t taken_at = 0;
};
inline bool operator==(const position& a, const position& b) {
  return a.lat == b.lat && a.lon == b.lon;
}
inline bool operator==(const gps_fix& a, const gps_fix& b) {
  return a.device == b.device && a.where == b.where && a.satellites == b.satellites &&
         a.taken_at == b.taken_at;
}
}  // namespace vendor

// A nested object: a table without a wire tag.
template <>
struct roomwire::protocol::schema<vendor::position> {
  static constexpr auto fields() {
    return rp::fields(rp::field("lat", &vendor::position::lat).range(-90, 90),
                      rp::field("lon", &vendor::position::lon).range(-180, 180));
  }
};

// A message: a table and a wire tag.
template <>
struct roomwire::protocol::schema<vendor::gps_fix> {
  static constexpr std::string_view type = "gpsFix";
  static constexpr auto fields() {
    return rp::fields(rp::field("device", &vendor::gps_fix::device).chars(1, 32),
                      rp::field("position", &vendor::gps_fix::where),
                      rp::field("satellites", &vendor::gps_fix::satellites),
                      rp::field("takenAt", &vendor::gps_fix::taken_at).optional());
  }
};

static_assert(rp::is_message_v<host::robot_status>);
static_assert(rp::is_message_v<vendor::gps_fix>);
static_assert(!rp::is_message_v<vendor::position>, "a table without a tag is not a message");
static_assert(!rp::is_message_v<std::string>);
static_assert(rp::type_of<host::robot_status>() == "robotStatus");
static_assert(rp::type_of<vendor::gps_fix>() == "gpsFix");

TEST_CASE("host type with its own table: round trip", "[host-types]") {
  rp::envelope<host::robot_status> env;
  env.payload.robot_id = "r2";
  env.payload.battery = 0.75;
  env.payload.charging = true;
  env.payload.mode = host::drive_mode::autonomous;
  env.payload.joint_angles = {-180, 0, 45, 180};
  env.payload.note = "docking";
  env.timestamp = 1764489600000;
  env.message_id = "rs-1";
  env.priority = rp::priority::background;

  const std::string wire = rp::encode(env);
  CHECK(wire == R"({"type":"robotStatus","payload":{"robotId":"r2","battery":0.75,"charging":true,)"
                R"("mode":"autonomous","jointAngles":[-180,0,45,180],"note":"docking"},)"
                R"("timestamp":1764489600000,"messageId":"rs-1","priority":4})");
  const auto back = decodes<host::robot_status>(wire);
  CHECK(back.payload == env.payload);
  CHECK(rp::encode(back) == wire);

  // Optional members: absent keeps the default, an empty optional is not written.
  const auto minimal = decodes<host::robot_status>(
      frame("robotStatus", R"({"robotId":"r2","battery":1,"charging":false,"jointAngles":[]})"));
  CHECK(minimal.payload.mode == host::drive_mode::idle);
  CHECK_FALSE(minimal.payload.note);
  std::string payload;
  rp::encode_payload(minimal.payload, payload);
  CHECK(payload ==
        R"({"robotId":"r2","battery":1,"charging":false,"mode":"idle","jointAngles":[]})");
}

TEST_CASE("host type with its own table: validation paths", "[host-types]") {
  const auto make = [](const std::string& members) {
    return frame("robotStatus", "{" + members + "}");
  };
  const std::string ok_rest = R"("battery":0.5,"charging":false,"jointAngles":[1,2,3])";
  refused<host::robot_status>(make(ok_rest), "/payload/robotId", "is required");
  refused<host::robot_status>(make(R"("robotId":"",)" + ok_rest), "/payload/robotId",
                              "must be 1 to 64 characters");
  refused<host::robot_status>(
      make(R"("robotId":"r","battery":1.5,"charging":false,"jointAngles":[])"), "/payload/battery",
      "must be between 0 and 1");
  refused<host::robot_status>(
      make(R"("robotId":"r","battery":0.5,"charging":"yes","jointAngles":[])"), "/payload/charging",
      "must be a boolean");
  refused<host::robot_status>(
      make(R"("robotId":"r","battery":0.5,"charging":false,"jointAngles":{})"),
      "/payload/jointAngles", "must be an array");
  // Array elements get their own path, and the field's limits.
  refused<host::robot_status>(
      make(R"("robotId":"r","battery":0.5,"charging":false,"jointAngles":[0,90,181])"),
      "/payload/jointAngles/2", "must be between -180 and 180");
  refused<host::robot_status>(
      make(R"("robotId":"r","battery":0.5,"charging":false,"jointAngles":[0,"90"])"),
      "/payload/jointAngles/1", "must be an integer");
  refused<host::robot_status>(
      make(R"("robotId":"r","battery":0.5,"charging":false,"jointAngles":[4294967296])"),
      "/payload/jointAngles/0", "is out of range");
  refused<host::robot_status>(make(R"("robotId":"r","mode":"flying",)" + ok_rest), "/payload/mode",
                              "must be one of idle, manual, autonomous");
  refused<host::robot_status>(make(R"("robotId":"r","note":null,)" + ok_rest), "/payload/note",
                              "must be a string");
}

TEST_CASE("schema<T> specialisation for a type that cannot be edited", "[host-types]") {
  rp::envelope<vendor::gps_fix> env;
  env.payload.device = "gps-7";
  env.payload.where = {48.8584, 2.2945};
  env.payload.satellites = 11;
  env.payload.taken_at = 1764489600000;
  env.message_id = "fix-1";

  const std::string wire = rp::encode(env);
  CHECK(
      wire ==
      R"({"type":"gpsFix","payload":{"device":"gps-7","position":{"lat":48.8584,"lon":2.2945},)"
      R"("satellites":11,"takenAt":1764489600000},"timestamp":0,"messageId":"fix-1","priority":2})");
  const auto back = decodes<vendor::gps_fix>(wire);
  CHECK(back.payload == env.payload);
  CHECK(rp::encode(back) == wire);

  const auto make = [](const std::string& position, const std::string& satellites) {
    return frame("gpsFix", R"({"device":"d","position":)" + position + R"(,"satellites":)" +
                               satellites + "}");
  };
  decodes<vendor::gps_fix>(make(R"({"lat":0,"lon":0})", "0"));
  refused<vendor::gps_fix>(make(R"({"lat":0,"lon":200})", "3"), "/payload/position/lon",
                           "must be between -180 and 180");
  refused<vendor::gps_fix>(make(R"({"lon":0})", "3"), "/payload/position/lat", "is required");
  refused<vendor::gps_fix>(make("[0,0]", "3"), "/payload/position", "must be an object");
  refused<vendor::gps_fix>(make(R"({"lat":0,"lon":0})", "-1"), "/payload/satellites",
                           "is out of range");
  refused<vendor::gps_fix>(make(R"({"lat":0,"lon":0})", "4294967296"), "/payload/satellites",
                           "is out of range");
  refused<vendor::gps_fix>(frame("robotStatus", "{}"), "/type", "expected \"gpsFix\"");
}
