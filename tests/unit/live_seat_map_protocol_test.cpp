// The pure parts of the live seat map (docs/live-seat-map.md): statuses, wire format, SSE framing,
// Last-Event-ID parsing, coalescing, the resume decision and the Redis names.
#include <gtest/gtest.h>

#include "infra/live/seat_stream_protocol.hpp"
#include "web/seat_map_stream.hpp"

using namespace ticketing;
using namespace ticketing::infra::live;
using domain::SeatChange;
using domain::SeatStatus;

TEST(LiveSeatMapProtocol, SeatChangesMapToTheSeatMapStatuses) {
  EXPECT_EQ(map_status(SeatChange::kHeld), SeatStatus::kHeld);
  EXPECT_EQ(map_status(SeatChange::kSold), SeatStatus::kSold);
  for (const auto change :
       {SeatChange::kReleased, SeatChange::kExpired, SeatChange::kCancelled, SeatChange::kRefunded}) {
    EXPECT_EQ(map_status(change), SeatStatus::kAvailable) << domain::to_string(change);
  }
  EXPECT_EQ(parse_map_status("HELD"), SeatStatus::kHeld);
  EXPECT_EQ(parse_map_status("SOLD"), SeatStatus::kSold);
  EXPECT_EQ(parse_map_status("AVAILABLE"), SeatStatus::kAvailable);
  EXPECT_EQ(parse_map_status("held"), std::nullopt);
  EXPECT_EQ(parse_map_status(""), std::nullopt);
}

TEST(LiveSeatMapProtocol, ChangesAndDeltasAreTheDocumentedJson) {
  const domain::SeatChanged change{domain::ScheduleId{7}, {"A-1", "B-12"}, SeatChange::kExpired};
  EXPECT_EQ(changes_json(change), R"([{"seatNo":"A-1","status":"AVAILABLE"},{"seatNo":"B-12","status":"AVAILABLE"}])");
  const SeatDelta delta{42, {{"A-1", SeatStatus::kHeld}, {"A-2", SeatStatus::kSold}}};
  const std::string json = delta_json(delta);
  EXPECT_EQ(json, R"({"version":42,"changes":[{"seatNo":"A-1","status":"HELD"},{"seatNo":"A-2","status":"SOLD"}]})");
  EXPECT_EQ(parse_delta_json(json), delta);
  // What the Lua script builds around changes_json() parses the same way.
  EXPECT_EQ(parse_delta_json(R"({"version":3,"changes":)" + changes_json(change) + "}")->changes.size(), 2U);
}

TEST(LiveSeatMapProtocol, MalformedDeltasAreRefused) {
  for (const char* bad : {"", "null", "[]", "{}", R"({"version":0,"changes":[]})", R"({"version":-3,"changes":[]})",
                          R"({"version":"4","changes":[]})", R"({"version":4})", R"({"version":4,"changes":{}})",
                          R"({"version":4,"changes":[{"seatNo":"A-1"}]})",
                          R"({"version":4,"changes":[{"seatNo":"A-1","status":"GONE"}]})",
                          R"({"version":4,"changes":[{"seatNo":1,"status":"HELD"}]})", R"({"version":4,"changes":[1]})",
                          R"({"version":4,"changes":[)"}) {
    EXPECT_EQ(parse_delta_json(bad), std::nullopt) << bad;
  }
}

TEST(LiveSeatMapProtocol, SnapshotsListEverySeatInOrder) {
  EXPECT_EQ(snapshot_json(5, {"A-1", "A-2"}, {SeatStatus::kAvailable, SeatStatus::kSold}),
            R"({"version":5,"seats":[{"seatNo":"A-1","status":"AVAILABLE"},{"seatNo":"A-2","status":"SOLD"}]})");
  EXPECT_EQ(snapshot_json(0, {}, {}), R"({"version":0,"seats":[]})");
}

TEST(LiveSeatMapProtocol, EventsAreFramedAsServerSentEvents) {
  EXPECT_EQ(sse_event("delta", 12, R"({"version":12})"), "id: 12\nevent: delta\ndata: {\"version\":12}\n\n");
  EXPECT_EQ(sse_event("snapshot", 0, "{}", 2000), "retry: 2000\nid: 0\nevent: snapshot\ndata: {}\n\n");
  EXPECT_EQ(kKeepAliveComment, ": keep-alive\n\n");
}

TEST(LiveSeatMapProtocol, LastEventIdIsANonNegativeIntegerOrAbsent) {
  EXPECT_EQ(web::parse_last_event_id("0"), 0);
  EXPECT_EQ(web::parse_last_event_id("17"), 17);
  EXPECT_EQ(web::parse_last_event_id(" 17\t"), 17);
  EXPECT_EQ(web::parse_last_event_id("999999999999999999"), 999999999999999999LL);
  for (const char* garbage : {"", " ", "-1", "+1", "1.0", "1e3", "abc", "12a", "0x10", "1 2", "9999999999999999999",
                              "99999999999999999999999999"}) {
    EXPECT_EQ(web::parse_last_event_id(garbage), std::nullopt) << '"' << garbage << '"';
  }
  EXPECT_EQ(web::parse_last_event_id(std::string_view("1\0", 2)), std::nullopt);
}

TEST(LiveSeatMapProtocol, CoalescingKeepsTheLatestStatusPerSeatAndTheLastVersion) {
  DeltaCoalescer coalescer;
  EXPECT_TRUE(coalescer.empty());
  coalescer.add({10, {{"A-1", SeatStatus::kHeld}, {"A-2", SeatStatus::kHeld}}});
  coalescer.add({11, {{"B-1", SeatStatus::kHeld}}});
  coalescer.add({12, {{"A-1", SeatStatus::kAvailable}}});
  EXPECT_FALSE(coalescer.empty());
  EXPECT_EQ(coalescer.version(), 12);
  const SeatDelta merged = coalescer.take();
  EXPECT_EQ(merged.version, 12);
  const std::vector<SeatStatusChange> expected{
      {"A-1", SeatStatus::kAvailable}, {"A-2", SeatStatus::kHeld}, {"B-1", SeatStatus::kHeld}};
  EXPECT_EQ(merged.changes, expected);
  EXPECT_TRUE(coalescer.empty());
  coalescer.add({13, {{"A-1", SeatStatus::kSold}}});
  EXPECT_EQ(coalescer.take(), (SeatDelta{13, {{"A-1", SeatStatus::kSold}}}));
}

TEST(LiveSeatMapProtocol, ResumeReplaysExactlyTheMissedVersionsWhileTheHistoryHasThem) {
  using Kind = ResumePlan::Kind;
  // No id: snapshot.
  EXPECT_EQ(plan_resume(std::nullopt, 50, 10).kind, Kind::kSnapshot);
  // Inside the history (10..50): versions N+1..50.
  auto plan = plan_resume(20, 50, 10);
  EXPECT_EQ(plan.kind, Kind::kReplay);
  EXPECT_EQ(plan.from, 21);
  EXPECT_EQ(plan.to, 50);
  plan = plan_resume(9, 50, 10);  // 10..50 missed, all kept
  EXPECT_EQ(plan.kind, Kind::kReplay);
  EXPECT_EQ(plan.from, 10);
  // Older than the history: snapshot.
  EXPECT_EQ(plan_resume(8, 50, 10).kind, Kind::kSnapshot);
  EXPECT_EQ(plan_resume(0, 50, 10).kind, Kind::kSnapshot);
  // Up to date: nothing to send.
  plan = plan_resume(50, 50, 10);
  EXPECT_EQ(plan.kind, Kind::kReplay);
  EXPECT_GT(plan.from, plan.to);
  plan = plan_resume(50, 50, 51);  // empty history, nothing missed
  EXPECT_EQ(plan.kind, Kind::kReplay);
  // Ahead of the counter (it was reset): snapshot.
  EXPECT_EQ(plan_resume(51, 50, 10).kind, Kind::kSnapshot);
  EXPECT_EQ(plan_resume(3, 0, 1).kind, Kind::kSnapshot);
  // A schedule that never changed: id 0 is current.
  EXPECT_EQ(plan_resume(0, 0, 1).kind, Kind::kReplay);
}

TEST(LiveSeatMapProtocol, RedisNamesCarryTheHashTagAndTheDatabase) {
  EXPECT_EQ(version_key(42), "seats:{42}:version");
  EXPECT_EQ(log_key(42), "seats:{42}:log");
  EXPECT_EQ(channel_name(42, 0), "seats:{42}");
  EXPECT_EQ(channel_name(42, 5), "db5:seats:{42}");
  EXPECT_EQ(channel_pattern(0), "seats:*");
  EXPECT_EQ(channel_pattern(5), "db5:seats:*");
  EXPECT_EQ(schedule_of_channel("seats:{42}", 0), 42);
  EXPECT_EQ(schedule_of_channel("db5:seats:{42}", 5), 42);
  EXPECT_EQ(schedule_of_channel("db5:seats:{42}", 0), std::nullopt);
  EXPECT_EQ(schedule_of_channel("seats:{42}", 5), std::nullopt);
  for (const char* bad : {"seats:{}", "seats:{x}", "seats:{42", "seats:42", "seats:{0}", "seats:{-1}", "other"}) {
    EXPECT_EQ(schedule_of_channel(bad, 0), std::nullopt) << bad;
  }
}
