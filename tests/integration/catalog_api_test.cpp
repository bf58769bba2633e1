#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <functional>
#include <map>
#include <set>

#include "support.hpp"

using namespace ticketing::testing;
namespace json = boost::json;

class CatalogApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    prepare_test_database();
    server_ = new TestServer();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static std::uint16_t port() { return server_->port(); }
  static TestServer* server_;
};
TestServer* CatalogApi::server_ = nullptr;

TEST_F(CatalogApi, ListsSeededConcerts) {
  const auto response = http(port(), "GET", "/concerts");
  ASSERT_EQ(response.status, 200) << response.raw;
  EXPECT_EQ(response.header("content-type"), "application/json");
  const auto concerts = json::parse(response.body).as_array();
  ASSERT_GE(concerts.size(), 3u);
  EXPECT_EQ(concerts[0].at("id").as_int64(), 1);
  EXPECT_TRUE(concerts[0].at("title").is_string());
}

TEST_F(CatalogApi, ListsSchedulesOfAConcertAnd404ForUnknown) {
  const auto response = http(port(), "GET", "/concerts/1/schedules");
  ASSERT_EQ(response.status, 200) << response.raw;
  const auto schedules = json::parse(response.body).as_array();
  ASSERT_EQ(schedules.size(), 2u);
  EXPECT_EQ(schedules[0].at("id").as_int64(), 1);
  EXPECT_EQ(schedules[0].at("concertId").as_int64(), 1);
  const std::string show_at(schedules[0].at("showAt").as_string());
  EXPECT_EQ(show_at.back(), 'Z');
  EXPECT_EQ(show_at[10], 'T');

  // Each date lists its price tiers, dearest first, exactly as its seat map has them.
  for (const auto& schedule : schedules) {
    const auto id = schedule.at("id").as_int64();
    std::map<std::int64_t, std::set<std::string>, std::greater<>> expected;  // cents → sections
    const auto map = json::parse(http(port(), "GET", fmt::format("/schedules/{}/seats", id)).body);
    for (const auto& seat : map.at("seats").as_array()) {
      const auto cents = std::llround(seat.at("price").to_number<double>() * 100);
      expected[cents].insert(std::string(seat.at("section").as_string()));
    }
    const auto& tiers = schedule.at("priceTiers").as_array();
    ASSERT_EQ(tiers.size(), expected.size()) << json::serialize(schedule);
    auto want = expected.begin();
    for (const auto& tier : tiers) {
      EXPECT_EQ(std::llround(tier.at("price").to_number<double>() * 100), want->first);
      std::set<std::string> sections;
      for (const auto& section : tier.at("sections").as_array()) sections.insert(std::string(section.as_string()));
      EXPECT_EQ(sections, want->second);
      ++want;
    }
  }

  const auto missing = http(port(), "GET", "/concerts/999999999/schedules");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(json::parse(missing.body).at("code").as_string(), "NOT_FOUND");
}

TEST_F(CatalogApi, SeatMapReflectsReservationsAtOnce) {
  auto db = test_db();
  db->execute("DELETE FROM reservation WHERE schedule_id = 4");
  db->execute(
      "INSERT INTO reservation (user_id, schedule_id, seat_no, status, expires_at, active) VALUES "
      "(1, 4, 'A-1', 'HELD', UTC_TIMESTAMP(3) + INTERVAL 5 MINUTE, 1),"
      "(2, 4, 'A-2', 'CONFIRMED', UTC_TIMESTAMP(3) + INTERVAL 5 MINUTE, 1),"
      "(3, 4, 'A-3', 'HELD', UTC_TIMESTAMP(3) - INTERVAL 1 SECOND, 1),"
      "(3, 4, 'A-4', 'EXPIRED', UTC_TIMESTAMP(3) - INTERVAL 1 MINUTE, NULL)");

  const auto response = http(port(), "GET", "/schedules/4/seats");
  ASSERT_EQ(response.status, 200) << response.raw;
  const auto map = json::parse(response.body).as_object();
  EXPECT_EQ(map.at("scheduleId").as_int64(), 4);
  const auto& seats = map.at("seats").as_array();
  ASSERT_EQ(seats.size(), 100u);
  std::map<std::string, std::string> status;
  for (const auto& seat : seats) {
    status[std::string(seat.at("seatNo").as_string())] = std::string(seat.at("status").as_string());
    EXPECT_TRUE(seat.at("price").is_number());
    EXPECT_TRUE(seat.at("section").is_string());
  }
  EXPECT_EQ(status["A-1"], "HELD");
  EXPECT_EQ(status["A-2"], "SOLD");
  EXPECT_EQ(status["A-3"], "AVAILABLE");  // held but past its expiry
  EXPECT_EQ(status["A-4"], "AVAILABLE");
  EXPECT_EQ(status["B-1"], "AVAILABLE");

  // The seat layout is cached, the statuses are not: the next read shows each change.
  db->execute("UPDATE reservation SET status = 'CANCELLED', active = NULL WHERE schedule_id = 4 AND seat_no = 'A-1'");
  db->execute(
      "INSERT INTO reservation (user_id, schedule_id, seat_no, status, expires_at, active) VALUES "
      "(4, 4, 'B-1', 'HELD', UTC_TIMESTAMP(3) + INTERVAL 5 MINUTE, 1)");
  const auto again = http(port(), "GET", "/schedules/4/seats");
  ASSERT_EQ(again.status, 200) << again.raw;
  status.clear();
  std::vector<std::string> order;
  const auto again_map = json::parse(again.body);
  for (const auto& seat : again_map.as_object().at("seats").as_array()) {
    order.emplace_back(seat.at("seatNo").as_string());
    status[order.back()] = std::string(seat.at("status").as_string());
  }
  ASSERT_EQ(order.size(), 100u);
  EXPECT_EQ(order.front(), "A-1");  // still in seat id order
  EXPECT_EQ(status["A-1"], "AVAILABLE");
  EXPECT_EQ(status["A-2"], "SOLD");
  EXPECT_EQ(status["B-1"], "HELD");
  db->execute("DELETE FROM reservation WHERE schedule_id = 4");
}

TEST_F(CatalogApi, LargeSeatMapAndPrices) {
  const auto response = http(port(), "GET", "/schedules/2/seats");
  ASSERT_EQ(response.status, 200);
  const auto map = json::parse(response.body).as_object();
  const auto& seats = map.at("seats").as_array();
  ASSERT_EQ(seats.size(), 10000u);
  EXPECT_EQ(seats[0].at("seatNo").as_string(), "A-1");
  EXPECT_DOUBLE_EQ(seats[0].at("price").to_number<double>(), 150.0);
}

TEST_F(CatalogApi, MalformedIdsAre400AndUnknownScheduleIs404) {
  for (const std::string route : {"seats", "layout"}) {
    for (const char* id : {"abc", "-1", "0", "007", "1.0", "1e2", "9223372036854775808", "%20"}) {
      const auto response = http(port(), "GET", std::string("/schedules/") + id + "/" + route);
      EXPECT_EQ(response.status, 400) << id << " " << route;
      const auto body = json::parse(response.body).as_object();
      EXPECT_EQ(body.at("code").as_string(), "INVALID_ARGUMENT");
      EXPECT_EQ(body.at("errors").as_array()[0].at("field").as_string(), "id");
    }
    const auto missing = http(port(), "GET", "/schedules/9223372036854775807/" + route);
    EXPECT_EQ(missing.status, 404) << route;
    EXPECT_EQ(json::parse(missing.body).at("code").as_string(), "NOT_FOUND") << route;
  }
}

TEST_F(CatalogApi, LayoutIsTheSeatMapWithoutStatusesAndRevalidatesByETag) {
  auto db = test_db();
  db->execute("DELETE FROM reservation WHERE schedule_id = 2");
  db->execute(
      "INSERT INTO reservation (user_id, schedule_id, seat_no, status, expires_at, active) VALUES "
      "(1, 2, 'A-1', 'HELD', UTC_TIMESTAMP(3) + INTERVAL 5 MINUTE, 1)");
  const auto map = json::parse(http(port(), "GET", "/schedules/2/seats").body).as_object();
  const auto response = http(port(), "GET", "/schedules/2/layout");
  ASSERT_EQ(response.status, 200) << response.raw;
  EXPECT_EQ(response.header("content-type"), "application/json");
  EXPECT_EQ(response.header("cache-control"), "no-cache");
  const std::string etag = response.header("etag");
  ASSERT_FALSE(etag.empty());
  EXPECT_EQ(etag.front(), '"');
  const auto layout = json::parse(response.body).as_object();
  EXPECT_EQ(layout.at("scheduleId").as_int64(), 2);
  EXPECT_EQ(layout.size(), 2u);
  // Seat for seat (same order) what the map says, without the status.
  const auto& seats = layout.at("seats").as_array();
  const auto& map_seats = map.at("seats").as_array();
  ASSERT_EQ(seats.size(), 10000u);
  ASSERT_EQ(seats.size(), map_seats.size());
  for (std::size_t i = 0; i < seats.size(); ++i) {
    auto expected = map_seats[i].as_object();
    expected.erase("status");
    ASSERT_EQ(json::serialize(seats[i]), json::serialize(expected)) << i;
  }
  EXPECT_EQ(map_seats[0].at("status").as_string(), "HELD");

  // A change of statuses is not a change of the layout: same bytes, same tag.
  db->execute("DELETE FROM reservation WHERE schedule_id = 2");
  const auto again = http(port(), "GET", "/schedules/2/layout");
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(again.header("etag"), etag);
  EXPECT_EQ(again.body, response.body);

  // Revalidation: the tag (strong, weak, in a list, or "*") is a 304 without a body.
  for (const std::string& tag : {etag, "W/" + etag, "\"other\", " + etag, "\"other\",\t" + etag, std::string("*")}) {
    const auto cached = http(port(), "GET", "/schedules/2/layout", "", {{"If-None-Match", tag}});
    EXPECT_EQ(cached.status, 304) << tag;
    EXPECT_TRUE(cached.body.empty()) << tag;
    EXPECT_EQ(cached.header("etag"), etag) << tag;
    EXPECT_EQ(cached.headers.count("content-length"), 0u) << cached.raw;
  }
  const auto head_cached = http(port(), "HEAD", "/schedules/2/layout", "", {{"If-None-Match", etag}});
  EXPECT_EQ(head_cached.status, 304);
  EXPECT_EQ(head_cached.headers.count("content-length"), 0u) << head_cached.raw;
  EXPECT_EQ(http(port(), "GET", "/schedules/2/layout", "", {{"If-None-Match", "\"other\""}}).status, 200);
  const auto head = http(port(), "HEAD", "/schedules/2/layout");
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
  EXPECT_EQ(head.header("etag"), etag);

  // A schedule without seats has an empty layout (not a 404).
  const auto empty_id =
      std::to_string(db->execute("INSERT INTO schedule (concert_id, show_at, booking_opens_at) VALUES "
                                 "(1, UTC_TIMESTAMP(3) + INTERVAL 30 DAY, UTC_TIMESTAMP(3))")
                         .last_insert_id);
  const auto empty = http(port(), "GET", "/schedules/" + empty_id + "/layout");
  db->execute("DELETE FROM schedule WHERE id = ?", {static_cast<std::int64_t>(std::stoll(empty_id))});
  ASSERT_EQ(empty.status, 200) << empty.raw;
  EXPECT_EQ(empty.body, R"({"scheduleId":)" + empty_id + R"(,"seats":[]})");
}
