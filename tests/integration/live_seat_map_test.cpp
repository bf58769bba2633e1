// The live seat map stream, GET /schedules/{id}/seats/stream (DESIGN.md §13, docs/live-seat-map.md):
// snapshot then deltas from real holds, resume with Last-Event-ID, stale ids, two instances on one
// Redis, the per-instance cap, bad ids, graceful shutdown, and the subscriber losing its link.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "infra/live/seat_change_publisher.hpp"
#include "infra/live/seat_stream_protocol.hpp"
#include "infra/redis/redis_options.hpp"
#include "sse_client.hpp"
#include "support.hpp"

using namespace ticketing;
using namespace ticketing::testing;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

std::string stream_path(std::int64_t schedule) {
  return fmt::format("/schedules/{}/seats/stream", schedule);
}

// Publishes changes the way every instance does (one version each), straight through the script.
class Publisher {
 public:
  explicit Publisher(std::string url = test_config().redis.url)
      : redis_(url), db_(infra::redis::parse_redis_url(url).db) {}
  std::int64_t publish(std::int64_t schedule, const std::string& seat, const std::string& status,
                       std::size_t history = 1024) {
    const std::string changes = fmt::format(R"([{{"seatNo":"{}","status":"{}"}}])", seat, status);
    const auto& script = infra::live::SeatChangePublisher::script();
    return redis_.integer({"EVAL", script.source, "2", infra::live::version_key(schedule),
                           infra::live::log_key(schedule), infra::live::channel_name(schedule, db_),
                           std::to_string(history), "3600000", changes});
  }
  RedisInspector& redis() { return redis_; }

 private:
  RedisInspector redis_;
  int db_;
};

// A redis-server of the test's own (so it may CLIENT KILL, FLUSHALL or PUBLISH anything).
class PrivateRedis {
 public:
  PrivateRedis()
      : port_(free_port()),
        process_({"redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                  "no"}) {}
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  // Once it answers PING (within 5 s).
  bool ready() const {
    return wait_for(
        [&] {
          try {
            RedisInspector probe(url());
            return probe.string({"PING"}) == std::optional<std::string>("PONG");
          } catch (...) {
            return false;
          }
        },
        5s);
  }

 private:
  std::uint16_t port_;
  ChildProcess process_;
};

std::int64_t expect_snapshot(SseClient& client, SeatMap& map) {
  const auto first = client.next(5s);
  EXPECT_TRUE(first.has_value());
  if (!first) return -1;
  EXPECT_EQ(first->event, "snapshot");
  const auto version = apply_event(map, *first);
  EXPECT_EQ(first->id, version);
  return version;
}

}  // namespace

// (a) A snapshot first, then the delta of a real hold (and of its release) within a second.
TEST(LiveSeatMap, SnapshotThenDeltasOfAHoldAndARelease) {
  const auto schedule = create_schedule(-60, 20);
  TestServer server(kFastAdmission);
  SseClient stream(server.port(), stream_path(schedule));
  ASSERT_EQ(stream.status(), 200) << stream.head().raw;
  EXPECT_EQ(stream.head().header("content-type"), "text/event-stream");
  EXPECT_EQ(stream.head().header("cache-control"), "no-cache");
  EXPECT_EQ(stream.head().header("x-accel-buffering"), "no");
  EXPECT_FALSE(stream.head().header("x-request-id").empty());
  EXPECT_EQ(stream.head().header("content-length"), "");
  SeatMap map;
  const auto v0 = expect_snapshot(stream, map);
  ASSERT_EQ(map.size(), 20U);
  for (const auto& [seat, status] : map) EXPECT_EQ(status, "AVAILABLE") << seat;

  const auto tokens = admit_users(server.port(), schedule, 1, 1);
  const auto held_at = std::chrono::steady_clock::now();
  ASSERT_EQ(seat_call(server.port(), "/tickets/hold", tokens.at(1), 1, schedule, {"S-3", "S-4"}).status, 200);
  const auto delta = stream.next(1s);
  ASSERT_TRUE(delta.has_value()) << "no delta within 1 s of the hold";
  EXPECT_LT(std::chrono::steady_clock::now() - held_at, 1s);
  EXPECT_EQ(delta->event, "delta");
  const auto v1 = apply_event(map, *delta);
  EXPECT_EQ(delta->id, v1);
  EXPECT_EQ(v1, v0 + 1);
  EXPECT_EQ(map["S-3"], "HELD");
  EXPECT_EQ(map["S-4"], "HELD");

  ASSERT_EQ(seat_call(server.port(), "/tickets/release", tokens.at(1), 1, schedule, {"S-3"}).status / 100, 2);
  const auto released = stream.next(1s);
  ASSERT_TRUE(released.has_value());
  EXPECT_EQ(apply_event(map, *released), v1 + 1);
  EXPECT_EQ(map["S-3"], "AVAILABLE");
  EXPECT_EQ(map["S-4"], "HELD");

  // The stream agrees with GET /schedules/{id}/seats.
  const auto seats = json::parse(http(server.port(), "GET", fmt::format("/schedules/{}/seats", schedule)).body);
  for (const auto& seat : seats.at("seats").as_array()) {
    EXPECT_EQ(map[std::string(seat.at("seatNo").as_string())], std::string(seat.at("status").as_string()));
  }
}

// The expiry job's changes (the worker side) reach the stream like the API's.
TEST(LiveSeatMap, AnExpiredHoldComesBackAvailable) {
  const auto schedule = create_schedule(-60, 5);
  TestServer server(with(kFastAdmission, {"hold.ttl=1s", "hold.expiry-interval=200ms"}));
  SseClient stream(server.port(), stream_path(schedule));
  SeatMap map;
  const auto v0 = expect_snapshot(stream, map);
  const auto tokens = admit_users(server.port(), schedule, 1, 1);
  ASSERT_EQ(seat_call(server.port(), "/tickets/hold", tokens.at(1), 1, schedule, {"S-2"}).status, 200);
  const auto held = stream.next(1s);
  ASSERT_TRUE(held.has_value());
  EXPECT_EQ(apply_event(map, *held), v0 + 1);
  EXPECT_EQ(map["S-2"], "HELD");
  const auto expired = stream.next(4s);
  ASSERT_TRUE(expired.has_value()) << "no delta after the hold expired";
  EXPECT_EQ(apply_event(map, *expired), v0 + 2);
  EXPECT_EQ(map["S-2"], "AVAILABLE");
}

// (b) Resuming with Last-Event-ID N gets exactly the versions N+1..M, one event each, no snapshot.
TEST(LiveSeatMap, ResumeGetsExactlyTheMissedDeltas) {
  const auto schedule = create_schedule(-60, 10);
  TestServer server({"sse.coalesce=20ms"});
  Publisher publisher;
  std::int64_t n = 0;
  {
    SseClient first(server.port(), stream_path(schedule));
    SeatMap map;
    n = expect_snapshot(first, map);
  }
  std::vector<std::int64_t> published;
  for (int i = 1; i <= 5; ++i) published.push_back(publisher.publish(schedule, fmt::format("S-{}", i), "HELD"));
  const auto m = published.back();
  ASSERT_EQ(m, n + 5);
  // The instance has heard them (its feed is at M) before the client comes back.
  std::this_thread::sleep_for(200ms);

  for (const bool by_header : {true, false}) {
    SCOPED_TRACE(by_header ? "Last-Event-ID header" : "lastEventId query parameter");
    std::unique_ptr<SseClient> resumed =
        by_header
            ? std::make_unique<SseClient>(server.port(), stream_path(schedule),
                                          std::map<std::string, std::string>{{"Last-Event-ID", std::to_string(n)}})
            : std::make_unique<SseClient>(server.port(), stream_path(schedule) + "?lastEventId=" + std::to_string(n));
    ASSERT_EQ(resumed->status(), 200);
    const auto events = resumed->drain(600ms);
    ASSERT_EQ(events.size(), 5U);
    for (std::size_t i = 0; i < events.size(); ++i) {
      EXPECT_EQ(events[i].event, "delta");
      EXPECT_EQ(events[i].id, n + 1 + static_cast<std::int64_t>(i));
      const auto value = json::parse(events[i].data);
      EXPECT_EQ(value.at("version").as_int64(), events[i].id);
      EXPECT_EQ(value.at("changes").as_array().at(0).at("seatNo").as_string(), fmt::format("S-{}", i + 1));
    }
  }
  // Up to date: nothing at all until something changes, then just that.
  SseClient current(server.port(), stream_path(schedule), {{"Last-Event-ID", std::to_string(m)}});
  EXPECT_FALSE(current.next(400ms).has_value());
  publisher.publish(schedule, "S-9", "SOLD");
  const auto live = current.next(1s);
  ASSERT_TRUE(live.has_value());
  EXPECT_EQ(live->event, "delta");
  EXPECT_EQ(live->id, m + 1);
}

// (c) An id older than the history, one ahead of the counter, or garbage: a fresh snapshot.
TEST(LiveSeatMap, StaleOrBadLastEventIdGetsASnapshot) {
  const auto schedule = create_schedule(-60, 30);
  TestServer server({"sse.history=16", "sse.coalesce=20ms"});
  Publisher publisher;
  std::int64_t n = 0;
  {
    SseClient first(server.port(), stream_path(schedule));
    SeatMap map;
    n = expect_snapshot(first, map);
  }
  std::int64_t m = 0;
  for (int i = 1; i <= 20; ++i) m = publisher.publish(schedule, fmt::format("S-{}", i), "HELD", 16);
  std::this_thread::sleep_for(200ms);
  for (const std::string& id : {std::to_string(n), std::to_string(m + 100), std::string("abc"), std::string("-1"),
                                std::string("99999999999999999999999"), std::string("")}) {
    SCOPED_TRACE("Last-Event-ID: " + id);
    SseClient resumed(server.port(), stream_path(schedule), {{"Last-Event-ID", id}});
    ASSERT_EQ(resumed.status(), 200);
    SeatMap map;
    EXPECT_EQ(expect_snapshot(resumed, map), m);
    for (int i = 1; i <= 20; ++i) EXPECT_EQ(map[fmt::format("S-{}", i)], "HELD");
    EXPECT_EQ(map["S-21"], "AVAILABLE");
  }
  // Still inside the history: the deltas.
  SseClient recent(server.port(), stream_path(schedule), {{"Last-Event-ID", std::to_string(m - 3)}});
  const auto events = recent.drain(400ms);
  ASSERT_EQ(events.size(), 3U);
  EXPECT_EQ(events.front().id, m - 2);
}

// (d) Two instances on one Redis: a hold through A reaches B's streams with the same version.
TEST(LiveSeatMap, ChangesReachEveryInstanceWithTheSameVersion) {
  const auto schedule = create_schedule(-60, 10);
  ServerProcess a(kFastAdmission);
  ServerProcess b(kFastAdmission);
  SseClient on_a(a.port(), stream_path(schedule));
  SseClient on_b(b.port(), stream_path(schedule));
  SeatMap map_a;
  SeatMap map_b;
  const auto va = expect_snapshot(on_a, map_a);
  const auto vb = expect_snapshot(on_b, map_b);
  EXPECT_EQ(va, vb);

  const auto tokens = admit_users(a.port(), schedule, 1, 2);
  ASSERT_EQ(seat_call(a.port(), "/tickets/hold", tokens.at(1), 1, schedule, {"S-1"}).status, 200);
  const auto on_a_delta = on_a.next(2s);
  const auto on_b_delta = on_b.next(2s);
  ASSERT_TRUE(on_a_delta.has_value() && on_b_delta.has_value());
  EXPECT_EQ(on_a_delta->id, on_b_delta->id);
  EXPECT_EQ(on_a_delta->data, on_b_delta->data);
  apply_event(map_b, *on_b_delta);
  EXPECT_EQ(map_b["S-1"], "HELD");

  // And the other way round, through B.
  ASSERT_EQ(seat_call(b.port(), "/tickets/hold", tokens.at(2), 2, schedule, {"S-2"}).status, 200);
  const auto second_a = on_a.next(2s);
  const auto second_b = on_b.next(2s);
  ASSERT_TRUE(second_a.has_value() && second_b.has_value());
  EXPECT_EQ(second_a->id, on_a_delta->id + 1);
  EXPECT_EQ(second_a->id, second_b->id);
  EXPECT_EQ(second_a->data, second_b->data);
}

// (e) Beyond sse.max-streams: 503 JSON with Retry-After; a closed stream frees its place.
TEST(LiveSeatMap, CapAnswers503WithRetryAfter) {
  const auto schedule = create_schedule(-60, 5);
  ServerProcess server({"sse.max-streams=2"});
  auto one = std::make_unique<SseClient>(server.port(), stream_path(schedule));
  SseClient two(server.port(), stream_path(schedule));
  ASSERT_EQ(one->status(), 200);
  ASSERT_EQ(two.status(), 200);
  const auto refused = http(server.port(), "GET", stream_path(schedule));
  EXPECT_EQ(refused.status, 503);
  EXPECT_FALSE(refused.header("retry-after").empty());
  EXPECT_EQ(refused.header("content-type"), "application/json");
  EXPECT_EQ(std::string(json::parse(refused.body).at("code").as_string()), "SERVICE_UNAVAILABLE");
  // HEAD answers what a GET would get now (it opens no stream): the same 503.
  const auto head = http(server.port(), "HEAD", stream_path(schedule));
  EXPECT_EQ(head.status, 503) << head.raw;
  EXPECT_FALSE(head.header("retry-after").empty());
  one.reset();  // the client goes: its place is free once the server notices
  EXPECT_TRUE(wait_for([&] { return SseClient(server.port(), stream_path(schedule)).status() == 200; }, 5s, 100ms));
}

// (f) Bad and unknown ids: the usual JSON errors, before any event.
TEST(LiveSeatMap, BadAndUnknownIdsAreJsonErrors) {
  TestServer server;
  for (const char* id : {"abc", "0", "-1", "1.5", "99999999999999999999"}) {
    const auto response = http(server.port(), "GET", std::string("/schedules/") + id + "/seats/stream");
    EXPECT_EQ(response.status, 400) << id;
    EXPECT_EQ(response.header("content-type"), "application/json") << id;
    EXPECT_EQ(std::string(json::parse(response.body).at("code").as_string()), "INVALID_ARGUMENT") << id;
  }
  const auto unknown = http(server.port(), "GET", "/schedules/987654321/seats/stream");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.header("content-type"), "application/json");
  EXPECT_EQ(std::string(json::parse(unknown.body).at("code").as_string()), "NOT_FOUND");
  EXPECT_EQ(unknown.body.find("event:"), std::string::npos);
  // HEAD: the headers of the stream, no body; and the same 404.
  const auto schedule = create_schedule(-60, 3);
  const auto head = http(server.port(), "HEAD", stream_path(schedule));
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("content-type"), "text/event-stream");
  // As GET's: no Content-Length (the stream's body runs until the connection closes), and closed.
  EXPECT_EQ(head.header("content-length"), "") << head.raw;
  EXPECT_EQ(head.header("connection"), "close") << head.raw;
  EXPECT_EQ(http(server.port(), "HEAD", "/schedules/987654321/seats/stream").status, 404);
}

// (g) Shutdown ends open streams, so the drain completes well before http.shutdown-timeout.
TEST(LiveSeatMap, GracefulShutdownEndsOpenStreams) {
  const auto schedule = create_schedule(-60, 5);
  auto server = std::make_unique<TestServer>(std::vector<std::string>{"http.shutdown-timeout=10s"});
  std::vector<std::unique_ptr<SseClient>> clients;
  for (int i = 0; i < 5; ++i) {
    clients.push_back(std::make_unique<SseClient>(server->port(), stream_path(schedule)));
    SeatMap map;
    expect_snapshot(*clients.back(), map);
  }
  // Without the streams ending, the drain would wait the whole http.shutdown-timeout (10 s).
  const auto started = std::chrono::steady_clock::now();
  std::thread stopper([&] { server->stop(); });
  for (auto& client : clients) EXPECT_TRUE(client->closed_by_server(1500ms));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1500ms);
  stopper.join();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 8s);
}

// Keep-alive comments flow on an idle stream.
TEST(LiveSeatMap, IdleStreamsGetKeepAliveComments) {
  const auto schedule = create_schedule(-60, 3);
  TestServer server({"sse.keepalive=200ms"});
  SseClient stream(server.port(), stream_path(schedule));
  SeatMap map;
  expect_snapshot(stream, map);
  EXPECT_FALSE(stream.next(1100ms).has_value());
  EXPECT_GE(stream.comments(), 3);
}

// The subscriber loses its link: what was published meanwhile comes from the history; a reset
// counter (Redis flushed) brings a fresh snapshot. On a private redis-server (CLIENT KILL, FLUSHALL).
TEST(LiveSeatMap, SubscriberReconnectFillsTheGapAndAResetCounterResnapshots) {
  PrivateRedis redis;
  ASSERT_TRUE(redis.ready());
  const std::string url = redis.url();
  const auto schedule = create_schedule(-60, 10);
  TestServer server({"redis.url=" + url, "sse.coalesce=20ms"});
  Publisher publisher(url);
  SseClient stream(server.port(), stream_path(schedule));
  SeatMap map;
  std::int64_t version = expect_snapshot(stream, map);
  ASSERT_EQ(version, 0);
  publisher.publish(schedule, "S-1", "HELD");
  auto event = stream.next(2s);
  ASSERT_TRUE(event.has_value());
  version = apply_event(map, *event);
  EXPECT_EQ(version, 1);

  // Drop the subscriber's link and publish while it is away (it reconnects after its backoff).
  publisher.redis().integer({"CLIENT", "KILL", "TYPE", "pubsub"});
  for (int i = 2; i <= 4; ++i) publisher.publish(schedule, fmt::format("S-{}", i), "SOLD");
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (version < 4 && std::chrono::steady_clock::now() < deadline) {
    auto next = stream.next(500ms);
    if (!next) continue;
    EXPECT_EQ(next->event, "delta");
    version = apply_event(map, *next);
  }
  EXPECT_EQ(version, 4);
  EXPECT_EQ(map["S-1"], "HELD");
  for (int i = 2; i <= 4; ++i) EXPECT_EQ(map[fmt::format("S-{}", i)], "SOLD");

  // Redis loses everything: the counter starts again at 1, which the feed cannot be at: snapshot.
  publisher.redis().string({"FLUSHALL"});
  EXPECT_EQ(publisher.publish(schedule, "S-5", "HELD"), 1);
  auto fresh = stream.next(3s);
  ASSERT_TRUE(fresh.has_value());
  EXPECT_EQ(fresh->event, "snapshot");
  EXPECT_EQ(apply_event(map, *fresh), 1);
  EXPECT_EQ(map["S-1"], "AVAILABLE");  // the database has no holds: the snapshot says so
}

// Messages the counter never counted — a failed-over master's, whose last increments were lost — are
// not believed: one numbered above the counter is dropped (not waited for, which asked Redis in a
// loop) and the map read again from the database, and one that reuses a counted version with other
// content makes the feed check its history against Redis's and rebuild. On a private redis-server
// (raw PUBLISH).
TEST(LiveSeatMap, MessagesTheCounterDidNotCountAreNotBelieved) {
  PrivateRedis redis;
  ASSERT_TRUE(redis.ready());
  const std::string url = redis.url();
  const auto schedule = create_schedule(-60, 10);
  TestServer server({"redis.url=" + url, "sse.coalesce=20ms"});
  Publisher publisher(url);
  const auto channel = infra::live::channel_name(schedule, 0);
  const auto fake = [&](std::int64_t version, const char* seat, const char* status) {
    publisher.redis().integer(
        {"PUBLISH", channel,
         fmt::format(R"({{"version":{},"changes":[{{"seatNo":"{}","status":"{}"}}]}})", version, seat, status)});
  };
  const auto evalsha_calls = [&] {
    const auto info = publisher.redis().string({"INFO", "commandstats"}).value_or("");
    const auto at = info.find("cmdstat_evalsha:calls=");
    return at == std::string::npos ? 0LL : std::stoll(info.substr(at + 22));
  };
  SseClient stream(server.port(), stream_path(schedule));
  SeatMap map;
  ASSERT_EQ(expect_snapshot(stream, map), 0);
  ASSERT_EQ(publisher.publish(schedule, "S-1", "HELD"), 1);
  auto event = stream.next(2s);
  ASSERT_TRUE(event.has_value());
  ASSERT_EQ(apply_event(map, *event), 1);

  // Above the counter (1): dropped, and the map read again from the database (the change it told of
  // could be real): a snapshot. Redis is not asked again and again meanwhile.
  fake(11, "S-3", "HELD");
  ASSERT_EQ(publisher.publish(schedule, "S-2", "HELD"), 2);
  std::int64_t seen = 1;
  int snapshots = 0;
  const auto caught_up = std::chrono::steady_clock::now() + 3s;
  while (seen < 2 && std::chrono::steady_clock::now() < caught_up) {
    auto next = stream.next(500ms);
    if (!next) continue;
    snapshots += next->event == "snapshot" ? 1 : 0;
    seen = apply_event(map, *next);
  }
  EXPECT_EQ(seen, 2);
  EXPECT_EQ(snapshots, 1) << "the feed was not rebuilt after dropping the uncounted message";
  const auto calls_before = evalsha_calls();
  EXPECT_FALSE(stream.next(1s).has_value()) << "nothing else was published";
  EXPECT_LT(evalsha_calls() - calls_before, 100) << "the feed keeps asking Redis for a version it cannot have";
  for (int i = 3; i <= 11; ++i) publisher.publish(schedule, fmt::format("S-{}", i == 11 ? 10 : 4), "SOLD");
  std::int64_t version = 2;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (version < 11 && std::chrono::steady_clock::now() < deadline) {
    if (auto next = stream.next(500ms)) version = apply_event(map, *next);
  }
  EXPECT_EQ(version, 11);
  EXPECT_EQ(map["S-3"], "AVAILABLE") << "the uncounted message's change was applied";
  EXPECT_EQ(map["S-10"], "SOLD") << "the real version 11 was lost";

  // A counted version again, with other content: the real one (published next) makes the feed see
  // that its history differs from Redis's and start again from the database (a snapshot).
  fake(12, "S-6", "SOLD");
  event = stream.next(2s);
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(apply_event(map, *event), 12);
  EXPECT_EQ(map["S-6"], "SOLD");  // applied: a message in sequence is taken as it comes
  ASSERT_EQ(publisher.publish(schedule, "S-7", "HELD"), 12);
  std::optional<SseEvent> fresh;
  const auto until = std::chrono::steady_clock::now() + 3s;
  while (!fresh && std::chrono::steady_clock::now() < until) {
    auto next = stream.next(500ms);
    if (next && next->event == "snapshot") fresh = next;
  }
  ASSERT_TRUE(fresh.has_value()) << "the feed kept the uncounted message's history";
  SeatMap rebuilt;
  EXPECT_EQ(apply_event(rebuilt, *fresh), 12);
  EXPECT_EQ(rebuilt["S-6"], "AVAILABLE");  // the database's truth: nobody holds it
  SseClient newcomer(server.port(), stream_path(schedule));
  SeatMap theirs;
  EXPECT_EQ(expect_snapshot(newcomer, theirs), 12);
  EXPECT_EQ(theirs["S-6"], "AVAILABLE");
}
