#include "infra/live/live_seat_map.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "domain/errors.hpp"
#include "infra/live/seat_stream_protocol.hpp"
#include "infra/redis/redis_sharded_subscriber.hpp"
#include "infra/redis/redis_subscriber.hpp"

namespace ticketing::infra::live {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using domain::SeatStatus;
using web::StreamBytes;

namespace {

// Reads the version and the history newer than ARGV[1] in one step, so they agree.
const redis::RedisScript& read_state_script() {
  static const redis::RedisScript kScript = redis::RedisScript::from_source(R"lua(
local version = tonumber(redis.call('GET', KEYS[1]) or '0')
return {version, redis.call('ZRANGEBYSCORE', KEYS[2], ARGV[1], '+inf')}
)lua");
  return kScript;
}

StreamBytes share(std::string text) {
  return std::make_shared<const std::string>(std::move(text));
}

}  // namespace

struct ThreadStreams;

// One client's stream, on its connection's I/O thread.
class SeatStream final : public web::ResponseStream {
 public:
  SeatStream(std::shared_ptr<LiveSeatMap::Impl> hub, ThreadStreams* thread, std::int64_t schedule, std::int64_t version,
             StreamBytes initial)
      : hub_(std::move(hub)), thread_(thread), schedule_(schedule), version_(version) {
    if (initial && !initial->empty()) pending_.push_back(std::move(initial));
  }

  void start(std::shared_ptr<web::StreamChannel> channel) override;
  void stopped(web::StreamEnd why) noexcept override;

  // Bytes that take the client to `version`; skipped when it is there already, unless `reset`
  // (a fresh snapshot after the feed was rebuilt).
  bool deliver(const StreamBytes& bytes, std::int64_t version, bool reset) {
    if (ended_) return false;
    if (!reset && version <= version_) return false;
    version_ = version;
    write(bytes);
    return true;
  }
  void write(const StreamBytes& bytes) {
    if (ended_) return;
    if (!channel_) {
      pending_.push_back(bytes);
      return;
    }
    channel_->write(bytes);  // false: the server drops the client and stopped() follows
  }
  bool ended() const noexcept { return ended_; }
  std::int64_t schedule() const noexcept { return schedule_; }

 private:
  std::shared_ptr<LiveSeatMap::Impl> hub_;
  ThreadStreams* thread_;
  std::int64_t schedule_;
  std::int64_t version_;
  std::vector<StreamBytes> pending_;  // before start()
  std::shared_ptr<web::StreamChannel> channel_;
  bool ended_ = false;
};

// The streams of one I/O thread, by schedule. Touched only on that thread.
struct ThreadStreams {
  explicit ThreadStreams(asio::any_io_executor executor) : ex(std::move(executor)), keepalive(ex) {}
  asio::any_io_executor ex;
  asio::steady_timer keepalive;
  std::unordered_map<std::int64_t, std::unordered_set<std::shared_ptr<SeatStream>>> by_schedule;
  bool keepalive_running = false;
  bool stopped = false;

  void add(const std::shared_ptr<SeatStream>& stream) {
    if (stream->ended()) return;  // ended before its registration arrived
    by_schedule[stream->schedule()].insert(stream);
  }
  void remove(SeatStream* stream) {
    const auto it = by_schedule.find(stream->schedule());
    if (it == by_schedule.end()) return;
    for (auto s = it->second.begin(); s != it->second.end(); ++s) {
      if (s->get() == stream) {
        it->second.erase(s);
        break;
      }
    }
    if (it->second.empty()) by_schedule.erase(it);
  }
  std::size_t deliver(std::int64_t schedule, const StreamBytes& bytes, std::int64_t version, bool reset) {
    const auto it = by_schedule.find(schedule);
    if (it == by_schedule.end()) return 0;
    std::size_t delivered = 0;
    // A copy: a write may drop a stream, whose stopped() removes it from the set.
    std::vector<std::shared_ptr<SeatStream>> streams(it->second.begin(), it->second.end());
    for (const auto& stream : streams) delivered += stream->deliver(bytes, version, reset) ? 1 : 0;
    return delivered;
  }
};

struct LiveSeatMap::Impl : std::enable_shared_from_this<Impl> {
  struct RingEntry {
    std::int64_t version;
    std::string json;   // delta_json of this version, as published
    StreamBytes event;  // its SSE event
  };

  struct Feed {
    explicit Feed(std::int64_t id, asio::io_context& live) : schedule(id), flush_timer(live), ready(live) {
      // Set once: setting a timer's expiry cancels its waits, which would wake the other waiters.
      ready.expires_at(Clock::time_point::max());
    }
    enum class State { kBuilding, kReady, kMissing, kFailed };
    std::int64_t schedule;
    State state = State::kBuilding;
    std::exception_ptr error;  // kFailed
    bool syncing = false;      // a build or catch-up runs: deltas wait in `pending`
    bool recheck = false;      // (re)subscribed while syncing: check the version again once it ends
    // A message claimed a version the feed has, with other content: the next catch-up compares the
    // history from this version on with Redis's, and rebuilds on any difference.
    std::optional<std::int64_t> verify_from;
    std::vector<std::pair<SeatDelta, std::string>> pending;  // with the text as published
    std::unordered_map<std::string, std::uint32_t> index;
    std::vector<std::string> seat_nos;
    std::vector<SeatStatus> statuses;
    std::int64_t version = 0;
    std::deque<RingEntry> ring;  // contiguous versions ending at `version`
    StreamBytes snapshot;        // snapshot event of `snapshot_version`
    std::int64_t snapshot_version = -1;
    DeltaCoalescer coalescer;
    asio::steady_timer flush_timer;
    bool flush_armed = false;
    asio::steady_timer ready;  // first-build waiters wait on it; cancelled when the build ends
    std::map<ThreadStreams*, int> threads;
    int streams = 0;
    Clock::time_point idle_since = Clock::now();
    Clock::time_point missing_until{};
  };

  Impl(asio::io_context& l, redis::RedisClient& r, redis::RedisOptions sub, domain::CatalogRepository& c,
       LiveSeatMapSettings s)
      : live(l),
        redis(r),
        subscriber_options(std::move(sub)),
        catalog(c),
        settings(s),
        sweep_timer(std::make_unique<asio::steady_timer>(l)) {}

  asio::io_context& live;
  redis::RedisClient& redis;
  redis::RedisOptions subscriber_options;
  domain::CatalogRepository& catalog;
  LiveSeatMapSettings settings;
  Stats stats;
  std::unique_ptr<redis::RedisSubscriber> subscriber;      // single node: PSUBSCRIBE to every schedule
  std::unique_ptr<redis::RedisShardedSubscriber> sharded;  // Redis Cluster: SSUBSCRIBE per followed schedule
  std::unique_ptr<asio::steady_timer> sweep_timer;
  bool stopped = false;  // live thread
  std::atomic<bool> stopping{false};
  std::unordered_map<std::int64_t, std::shared_ptr<Feed>> feeds;  // live thread

  std::mutex threads_mutex;
  std::unordered_map<const void*, std::unique_ptr<ThreadStreams>> threads;

  // ---- I/O threads ------------------------------------------------------------------------------

  ThreadStreams* thread_for(const asio::any_io_executor& ex) {
    const void* context = &asio::query(ex, asio::execution::context_as<asio::execution_context&>);
    std::lock_guard lock(threads_mutex);
    auto& slot = threads[context];
    if (!slot) {
      slot = std::make_unique<ThreadStreams>(ex);
      asio::post(ex, [self = shared_from_this(), t = slot.get()] { self->start_keepalive(t); });
    }
    return slot.get();
  }

  void start_keepalive(ThreadStreams* t) {
    if (t->keepalive_running || t->stopped) return;
    t->keepalive_running = true;
    asio::co_spawn(t->ex, keepalive_loop(shared_from_this(), t), asio::detached);
  }

  static asio::awaitable<void> keepalive_loop(std::shared_ptr<Impl> self, ThreadStreams* t) {
    const StreamBytes comment = share(std::string(kKeepAliveComment));
    while (!t->stopped) {
      t->keepalive.expires_after(self->settings.keepalive);
      co_await t->keepalive.async_wait(asio::as_tuple(asio::use_awaitable));
      if (t->stopped) break;
      for (auto& [schedule, streams] : t->by_schedule) {
        std::vector<std::shared_ptr<SeatStream>> copy(streams.begin(), streams.end());
        for (const auto& stream : copy) stream->write(comment);
      }
    }
  }

  // ---- live thread: messages --------------------------------------------------------------------

  void on_message(std::string_view channel, std::string_view payload) {
    const auto schedule = schedule_of_channel(channel, settings.db);
    if (!schedule) return;
    const auto it = feeds.find(*schedule);
    if (it == feeds.end()) return;
    stats.messages.fetch_add(1, std::memory_order_relaxed);
    Feed& feed = *it->second;
    if (feed.state != Feed::State::kReady && feed.state != Feed::State::kBuilding) return;
    auto delta = parse_delta_json(payload);
    if (!delta) {
      spdlog::warn("live seat map: ignored a malformed message on {}", channel);
      return;
    }
    if (feed.syncing) {
      feed.pending.emplace_back(std::move(*delta), std::string(payload));
      return;
    }
    if (delta->version == feed.version + 1) {
      apply(feed, *delta, std::string(payload));
    } else if (delta->version > feed.version + 1) {
      feed.pending.emplace_back(std::move(*delta), std::string(payload));
      start_catch_up(it->second);
    } else if (!is_known(feed, delta->version, payload)) {
      // Not a version we had: the counter was reset (Redis flushed or restarted), or a message of a
      // failed-over master that lost its counter's last increments.
      verify_if_in_history(feed, delta->version);
      start_catch_up(it->second);
    }
  }

  // A version the feed's history holds, with other text than this message's: the next catch-up
  // compares the history with Redis's from there. (One older than the history — a late copy — is
  // left to the catch-up's counter check, as before.)
  static void verify_if_in_history(Feed& feed, std::int64_t version) {
    if (feed.ring.empty() || version < feed.ring.front().version || version > feed.version) return;
    feed.verify_from = std::min(version, feed.verify_from.value_or(version));
  }

  // A repeat of a version the feed has (a live message racing a catch-up that already read it).
  // Anything else — other content, or older than the history — is checked against Redis by a
  // catch-up: one script call, which rebuilds the feed if the counter went back.
  static bool is_known(const Feed& feed, std::int64_t version, std::string_view payload) {
    if (feed.ring.empty() || version < feed.ring.front().version) return false;
    const auto& entry = feed.ring[static_cast<std::size_t>(version - feed.ring.front().version)];
    return entry.json == payload;
  }

  // After every (re)subscription: anything published while this instance was not listening is in
  // the history, or the feed is rebuilt.
  void on_subscribed() {
    for (auto& [schedule, feed] : feeds) {
      if (feed->state == Feed::State::kReady) start_catch_up(feed);
    }
  }

  // Redis Cluster: the schedule's sharded channel was (re)subscribed — first for a new feed, again
  // after a failover, a slot migration or a lost link. Whatever was published meanwhile is in the
  // history: the same check as after a reconnect. A feed still syncing (its first build may have
  // read the version before the subscription took) checks once more when it is done.
  void on_channel_subscribed(const std::string& channel) {
    const auto schedule = schedule_of_channel(channel, settings.db);
    if (!schedule) return;
    const auto it = feeds.find(*schedule);
    if (it == feeds.end()) return;
    const auto& feed = it->second;
    if (feed->syncing || feed->state == Feed::State::kBuilding) {
      feed->recheck = true;
    } else if (feed->state == Feed::State::kReady) {
      start_catch_up(feed);
    }
  }

  void recheck_if_asked(const std::shared_ptr<Feed>& feed) {
    if (!feed->recheck || feed->syncing || feed->state != Feed::State::kReady) return;
    feed->recheck = false;
    start_catch_up(feed);
  }

  void apply(Feed& feed, const SeatDelta& delta, std::string json) {
    for (const auto& change : delta.changes) {
      const auto it = feed.index.find(change.seat_no);
      if (it != feed.index.end()) feed.statuses[it->second] = change.status;
    }
    feed.version = delta.version;
    StreamBytes event = share(sse_event("delta", delta.version, json));
    feed.ring.push_back(RingEntry{delta.version, std::move(json), std::move(event)});
    while (feed.ring.size() > settings.history) feed.ring.pop_front();
    feed.coalescer.add(delta);
    if (!feed.flush_armed) {
      feed.flush_armed = true;
      feed.flush_timer.expires_after(settings.coalesce);
      feed.flush_timer.async_wait(
          [self = shared_from_this(), schedule = feed.schedule](boost::system::error_code) { self->flush(schedule); });
    }
  }

  void flush(std::int64_t schedule) {
    const auto it = feeds.find(schedule);
    if (it == feeds.end()) return;
    Feed& feed = *it->second;
    feed.flush_armed = false;
    if (feed.coalescer.empty()) return;
    const SeatDelta merged = feed.coalescer.take();
    broadcast(feed, share(sse_event("delta", merged.version, delta_json(merged))), merged.version, false);
  }

  void broadcast(Feed& feed, const StreamBytes& bytes, std::int64_t version, bool reset) {
    for (const auto& [thread, count] : feed.threads) {
      if (count <= 0) continue;
      asio::post(thread->ex,
                 [self = shared_from_this(), thread = thread, schedule = feed.schedule, bytes, version, reset] {
                   const auto delivered = thread->deliver(schedule, bytes, version, reset);
                   if (!reset) self->stats.deltas_sent.fetch_add(delivered, std::memory_order_relaxed);
                 });
    }
  }

  // Applies the waiting deltas that follow `version`; a gap starts a catch-up. Returns false then.
  bool drain_pending(const std::shared_ptr<Feed>& feed) {
    auto pending = std::move(feed->pending);
    feed->pending.clear();
    std::sort(pending.begin(), pending.end(),
              [](const auto& a, const auto& b) { return a.first.version < b.first.version; });
    for (std::size_t i = 0; i < pending.size(); ++i) {
      const SeatDelta& delta = pending[i].first;
      if (delta.version <= feed->version) {
        if (!is_known(*feed, delta.version, pending[i].second)) verify_if_in_history(*feed, delta.version);
        continue;
      }
      if (delta.version != feed->version + 1) {
        feed->pending.assign(std::make_move_iterator(pending.begin() + static_cast<std::ptrdiff_t>(i)),
                             std::make_move_iterator(pending.end()));
        start_catch_up(feed);
        return false;
      }
      apply(*feed, delta, std::move(pending[i].second));
    }
    if (feed->verify_from) {
      start_catch_up(feed);
      return false;
    }
    return true;
  }

  // ---- live thread: building and catching up ---------------------------------------------------

  struct RedisState {
    std::int64_t version = 0;
    std::vector<std::string> log;  // entries with version >= the asked minimum, in version order
  };

  asio::awaitable<RedisState> read_state(std::int64_t schedule, std::string min_version) {
    const std::string keys_storage[] = {version_key(schedule), log_key(schedule)};
    const std::string_view keys[] = {keys_storage[0], keys_storage[1]};
    const std::string_view args[] = {min_version};
    const auto reply = co_await redis.evalsha(read_state_script(), keys, args);
    if (!reply.is_array() || reply.elements.size() != 2 || !reply.elements[0].is_integer() ||
        !reply.elements[1].is_array()) {
      throw domain::DependencyUnavailable("redis", "unexpected seat map state reply " + reply.to_string());
    }
    RedisState state{reply.elements[0].integer, {}};
    for (const auto& entry : reply.elements[1].elements) state.log.push_back(entry.str);
    co_return state;
  }

  std::shared_ptr<Feed> ensure_feed(std::int64_t schedule) {
    auto& slot = feeds[schedule];
    if (slot && slot->state == Feed::State::kMissing && Clock::now() >= slot->missing_until) slot.reset();
    if (slot && slot->state == Feed::State::kFailed) slot.reset();
    if (!slot) {
      slot = std::make_shared<Feed>(schedule, live);
      stats.feeds.store(static_cast<std::int64_t>(feeds.size()));
      slot->syncing = true;
      asio::co_spawn(live, build(shared_from_this(), slot, false), asio::detached);
      if (sharded) sharded->subscribe(channel_name(schedule, settings.db));
    }
    return slot;
  }

  // Reads the version (and history), then the seat map: every change up to that version committed
  // before it was counted, so the map has it; the map may also have later ones, which the deltas
  // after the version then repeat (statuses are absolute, so repeating one is harmless).
  static asio::awaitable<void> build(std::shared_ptr<Impl> self, std::shared_ptr<Feed> feed, bool rebuild) {
    feed->syncing = true;
    try {
      RedisState state = co_await self->read_state(feed->schedule, "-inf");
      auto map = co_await self->catalog.seat_map(domain::ScheduleId{feed->schedule});
      if (!map) {
        feed->state = Feed::State::kMissing;
        feed->missing_until = Clock::now() + self->settings.missing_ttl;
        feed->syncing = false;
        feed->pending.clear();
        feed->ready.cancel();
        co_return;
      }
      feed->seat_nos.clear();
      feed->statuses.clear();
      feed->index.clear();
      feed->seat_nos.reserve(map->seats.size());
      feed->statuses.reserve(map->seats.size());
      for (auto& seat : map->seats) {
        feed->index.emplace(seat.seat_no, static_cast<std::uint32_t>(feed->seat_nos.size()));
        feed->seat_nos.push_back(std::move(seat.seat_no));
        feed->statuses.push_back(seat.status);
      }
      feed->version = state.version;
      feed->snapshot.reset();
      feed->snapshot_version = -1;
      // The history up to the version, contiguous, newest last.
      feed->ring.clear();
      std::vector<RingEntry> entries;
      for (auto& json : state.log) {
        auto delta = parse_delta_json(json);
        if (!delta || delta->version > state.version) continue;
        StreamBytes event = share(sse_event("delta", delta->version, json));
        entries.push_back(RingEntry{delta->version, std::move(json), std::move(event)});
      }
      std::int64_t expect = state.version;
      for (auto it = entries.rbegin(); it != entries.rend() && it->version == expect; ++it, --expect) {
        feed->ring.push_front(std::move(*it));
      }
      while (feed->ring.size() > self->settings.history) feed->ring.pop_front();
      feed->coalescer.take();  // whatever was waiting is in the map now
      feed->state = Feed::State::kReady;
      feed->syncing = false;
      if (rebuild) {
        self->stats.resnapshots.fetch_add(1, std::memory_order_relaxed);
        self->broadcast(*feed, self->snapshot_of(*feed), feed->version, true);
      }
      feed->ready.cancel();
      self->drain_pending(feed);
      self->recheck_if_asked(feed);
    } catch (const std::exception& error) {
      feed->syncing = false;
      if (!rebuild) {
        spdlog::warn("live seat map: schedule {} could not be loaded: {}", feed->schedule, error.what());
        feed->state = Feed::State::kFailed;
        feed->error = std::current_exception();
        feed->ready.cancel();
        co_return;
      }
      spdlog::warn("live seat map: schedule {} could not be rebuilt ({}); retrying in 1 s", feed->schedule,
                   error.what());
      feed->syncing = true;  // keep deltas waiting until the retry
      auto timer = std::make_shared<asio::steady_timer>(self->live, std::chrono::seconds(1));
      timer->async_wait([self, feed, timer](boost::system::error_code) {
        if (self->stopped) return;
        asio::co_spawn(self->live, build(self, feed, true), asio::detached);
      });
    }
  }

  void start_catch_up(const std::shared_ptr<Feed>& feed) {
    if (feed->syncing || stopped) return;
    feed->syncing = true;
    asio::co_spawn(live, catch_up(shared_from_this(), feed), asio::detached);
  }

  // Fills a gap from the history; rebuilds when the history no longer has it or the counter went
  // back (reset).
  static asio::awaitable<void> catch_up(std::shared_ptr<Impl> self, std::shared_ptr<Feed> feed) {
    bool rebuild = false;
    const auto verify_from = std::exchange(feed->verify_from, std::nullopt);
    // Messages that arrived before the read: one above the counter read cannot be real (a version
    // is counted before it is published), it is a failed-over master's — dropped, not waited for.
    const std::size_t arrived_before = feed->pending.size();
    try {
      const std::int64_t from = std::min(feed->version + 1, verify_from.value_or(feed->version + 1));
      RedisState state = co_await self->read_state(feed->schedule, std::to_string(from));
      std::size_t kept = 0;
      for (std::size_t i = 0; i < feed->pending.size(); ++i) {
        if (i < arrived_before && feed->pending[i].first.version > state.version) continue;
        if (kept != i) feed->pending[kept] = std::move(feed->pending[i]);
        ++kept;
      }
      const std::size_t dropped = feed->pending.size() - kept;
      feed->pending.resize(kept);
      if (dropped > 0) {
        // Such a message may still tell of a change the database has (a master that published it and
        // then lost its counter's increment): the map is read again, not trusted to the counter.
        spdlog::warn("live seat map: schedule {}: dropped {} message(s) numbered above the counter ({}); rebuilding",
                     feed->schedule, dropped, state.version);
      }
      if (dropped > 0 || state.version < feed->version ||
          (verify_from && !history_agrees(*feed, *verify_from, state))) {
        rebuild = true;
      } else if (state.version > feed->version) {
        std::vector<SeatDelta> deltas;
        std::vector<std::string> texts;
        for (auto& json : state.log) {
          auto delta = parse_delta_json(json);
          if (!delta || delta->version <= feed->version || delta->version > state.version) continue;
          deltas.push_back(std::move(*delta));
          texts.push_back(std::move(json));
        }
        if (deltas.empty() || deltas.front().version != feed->version + 1) {
          rebuild = true;
        } else {
          for (std::size_t i = 0; i < deltas.size(); ++i) {
            if (deltas[i].version != feed->version + 1) {
              rebuild = true;
              break;
            }
            self->apply(*feed, deltas[i], std::move(texts[i]));
          }
          if (!rebuild) self->stats.gap_fills.fetch_add(1, std::memory_order_relaxed);
        }
      }
    } catch (const std::exception& error) {
      spdlog::warn("live seat map: catching up schedule {} failed ({}); rebuilding", feed->schedule, error.what());
      rebuild = true;
    }
    if (rebuild) {
      spdlog::info("live seat map: schedule {} rebuilt from the database (history did not cover the gap)",
                   feed->schedule);
      co_await build(self, feed, true);
      co_return;
    }
    feed->syncing = false;
    self->drain_pending(feed);
    self->recheck_if_asked(feed);
  }

  // True when Redis's history has every version from `from` to the feed's and each is the text the
  // feed applied for it.
  static bool history_agrees(const Feed& feed, std::int64_t from, const RedisState& state) {
    std::int64_t expect = from;
    for (const auto& json : state.log) {
      if (expect > feed.version) break;
      const auto delta = parse_delta_json(json);
      if (!delta || delta->version != expect || !is_known(feed, expect, json)) return false;
      ++expect;
    }
    return expect > feed.version;
  }

  StreamBytes snapshot_of(Feed& feed) {
    if (feed.snapshot_version != feed.version || !feed.snapshot) {
      feed.snapshot =
          share(sse_event("snapshot", feed.version, snapshot_json(feed.version, feed.seat_nos, feed.statuses),
                          settings.retry_hint.count()));
      feed.snapshot_version = feed.version;
    }
    return feed.snapshot;
  }

  // Waits for the feed's first build; throws what a client must hear (404, 503). `self` is a plain
  // pointer on purpose: GCC 12 destroys a coroutine's by-value shared_ptr parameter twice when the
  // coroutine ends with an exception (one reference lost per 404). The LiveSeatMap outlives the call.
  static asio::awaitable<std::shared_ptr<Feed>> ready_feed(Impl* self, std::int64_t schedule) {
    if (self->stopped)
      throw domain::RetryLater(domain::ErrorCode::kDependencyUnavailable, "shutting down", self->settings.retry_after);
    auto feed = self->ensure_feed(schedule);
    while (feed->state == Feed::State::kBuilding) {
      co_await feed->ready.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    if (feed->state == Feed::State::kMissing) {
      throw domain::DomainError(domain::ErrorCode::kNotFound, fmt::format("schedule {} not found", schedule));
    }
    if (feed->state == Feed::State::kFailed) std::rethrow_exception(feed->error);
    co_return feed;
  }

  static asio::awaitable<std::shared_ptr<web::ResponseStream>> open_on_live(Impl* self, std::int64_t schedule,
                                                                            std::optional<std::int64_t> last_event_id,
                                                                            ThreadStreams* thread) {
    auto feed = co_await ready_feed(self, schedule);
    const std::int64_t oldest = feed->ring.empty() ? feed->version + 1 : feed->ring.front().version;
    const ResumePlan plan = plan_resume(last_event_id, feed->version, oldest);
    StreamBytes initial;
    if (plan.kind == ResumePlan::Kind::kSnapshot) {
      initial = self->snapshot_of(*feed);
      self->stats.snapshots.fetch_add(1, std::memory_order_relaxed);
    } else {
      std::string replay;
      for (std::int64_t v = plan.from; v <= plan.to; ++v) {
        replay += *feed->ring[static_cast<std::size_t>(v - oldest)].event;
      }
      if (!replay.empty()) initial = share(std::move(replay));
      self->stats.resumes.fetch_add(1, std::memory_order_relaxed);
    }
    auto stream =
        std::make_shared<SeatStream>(self->shared_from_this(), thread, schedule, feed->version, std::move(initial));
    ++feed->threads[thread];
    ++feed->streams;
    // Posted from this thread before any later delta of the feed is: the stream sees every one.
    asio::post(thread->ex, [thread, stream] { thread->add(stream); });
    co_return stream;
  }

  // On the stream's thread, when it ended.
  void stream_closed(SeatStream* stream, ThreadStreams* thread, web::StreamEnd why) {
    thread->remove(stream);
    stats.open_streams.fetch_sub(1);
    if (why == web::StreamEnd::kTooSlow) stats.slow_dropped.fetch_add(1, std::memory_order_relaxed);
    asio::post(live, [self = shared_from_this(), schedule = stream->schedule(), thread] {
      const auto it = self->feeds.find(schedule);
      if (it == self->feeds.end()) return;
      Feed& feed = *it->second;
      if (--feed.threads[thread] <= 0) feed.threads.erase(thread);
      if (--feed.streams <= 0) {
        feed.streams = 0;
        feed.idle_since = Clock::now();
      }
    });
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  void start() {
    if (redis.cluster()) {
      // Sharded channels take no patterns: ensure_feed subscribes each followed schedule's channel
      // on the master of its slot, the sweep unsubscribes it with the feed.
      sharded = std::make_unique<redis::RedisShardedSubscriber>(
          live.get_executor(), redis,
          redis::RedisShardedSubscriber::Handlers{
              [w = weak_from_this()](std::string_view channel, std::string_view payload) {
                if (auto self = w.lock()) self->on_message(channel, payload);
              },
              [w = weak_from_this()](const std::string& channel) {
                if (auto self = w.lock()) self->on_channel_subscribed(channel);
              }});
      sharded->start();
      for (const auto& [schedule, feed] : feeds) sharded->subscribe(channel_name(schedule, settings.db));
      asio::co_spawn(live, sweep_loop(shared_from_this()), asio::detached);
      return;
    }
    subscriber = std::make_unique<redis::RedisSubscriber>(
        live.get_executor(), subscriber_options, channel_pattern(settings.db),
        redis::RedisSubscriber::Handlers{[w = weak_from_this()](std::string_view channel, std::string_view payload) {
                                           if (auto self = w.lock()) self->on_message(channel, payload);
                                         },
                                         [w = weak_from_this()] {
                                           if (auto self = w.lock()) self->on_subscribed();
                                         },
                                         {}});
    subscriber->start();
    asio::co_spawn(live, sweep_loop(shared_from_this()), asio::detached);
  }

  // Drops feeds nobody has watched for feed_linger, and expired "unknown schedule" answers.
  static asio::awaitable<void> sweep_loop(std::shared_ptr<Impl> self) {
    const auto interval = std::max(std::chrono::milliseconds(1000), self->settings.feed_linger / 4);
    while (!self->stopped) {
      self->sweep_timer->expires_after(interval);
      co_await self->sweep_timer->async_wait(asio::as_tuple(asio::use_awaitable));
      if (self->stopped) break;
      const auto now = Clock::now();
      for (auto it = self->feeds.begin(); it != self->feeds.end();) {
        const Feed& feed = *it->second;
        const bool idle = feed.state == Feed::State::kReady && feed.streams == 0 && !feed.syncing &&
                          now - feed.idle_since > self->settings.feed_linger;
        const bool expired =
            (feed.state == Feed::State::kMissing && now >= feed.missing_until) || feed.state == Feed::State::kFailed;
        if (idle || expired) {
          it->second->flush_timer.cancel();
          if (self->sharded) self->sharded->unsubscribe(channel_name(it->first, self->settings.db));
          it = self->feeds.erase(it);
        } else {
          ++it;
        }
      }
      self->stats.feeds.store(static_cast<std::int64_t>(self->feeds.size()));
    }
  }

  void stop() {
    stopping.store(true);
    asio::post(live, [self = shared_from_this()] {
      self->stopped = true;
      self->sweep_timer->cancel();
      if (self->subscriber) self->subscriber->stop();
      if (self->sharded) self->sharded->stop();
      for (auto& [schedule, feed] : self->feeds) {
        feed->flush_timer.cancel();
        feed->ready.cancel();
      }
    });
    std::lock_guard lock(threads_mutex);
    for (auto& [context, thread] : threads) {
      asio::post(thread->ex, [t = thread.get()] {
        t->stopped = true;
        t->keepalive.cancel();
      });
    }
  }
};

// After every thread has stopped: drops every I/O object, so it does not matter which io_context is
// destroyed first (handlers still queued in them may hold the Impl).
void LiveSeatMap::release() {
  impl_->stopped = true;
  impl_->feeds.clear();
  impl_->subscriber.reset();
  impl_->sharded.reset();
  impl_->sweep_timer.reset();
  std::lock_guard lock(impl_->threads_mutex);
  impl_->threads.clear();
}

void SeatStream::start(std::shared_ptr<web::StreamChannel> channel) {
  if (ended_) return;
  channel_ = std::move(channel);
  for (auto& bytes : pending_) {
    if (!channel_->write(bytes)) break;
  }
  pending_.clear();
}

void SeatStream::stopped(web::StreamEnd why) noexcept {
  if (ended_) return;
  ended_ = true;
  pending_.clear();
  channel_.reset();
  try {
    hub_->stream_closed(this, thread_, why);
  } catch (const std::exception& error) {
    spdlog::warn("live seat map: closing a stream failed: {}", error.what());
  }
}

LiveSeatMap::LiveSeatMap(asio::io_context& live, redis::RedisClient& redis, redis::RedisOptions subscriber_options,
                         domain::CatalogRepository& catalog, LiveSeatMapSettings settings)
    : impl_(std::make_shared<Impl>(live, redis, std::move(subscriber_options), catalog, settings)) {}

LiveSeatMap::~LiveSeatMap() = default;

void LiveSeatMap::start() {
  asio::post(impl_->live, [impl = impl_] { impl->start(); });
}

void LiveSeatMap::stop() {
  impl_->stop();
}

const LiveSeatMap::Stats& LiveSeatMap::stats() const noexcept {
  return impl_->stats;
}

Task<std::shared_ptr<web::ResponseStream>> LiveSeatMap::open(domain::ScheduleId schedule,
                                                             std::optional<std::int64_t> last_event_id) {
  auto& stats = impl_->stats;
  if (impl_->stopping.load()) throw shutting_down();
  if (stats.open_streams.fetch_add(1) >= impl_->settings.max_streams) {
    stats.open_streams.fetch_sub(1);
    stats.rejected.fetch_add(1, std::memory_order_relaxed);
    throw at_capacity();
  }
  try {
    ThreadStreams* thread = impl_->thread_for(co_await asio::this_coro::executor);
    co_return co_await asio::co_spawn(
        impl_->live, Impl::open_on_live(impl_.get(), schedule.value, last_event_id, thread), asio::use_awaitable);
  } catch (...) {
    stats.open_streams.fetch_sub(1);
    throw;
  }
}

domain::RetryLater LiveSeatMap::shutting_down() const {
  return domain::RetryLater(domain::ErrorCode::kDependencyUnavailable, "shutting down", impl_->settings.retry_after);
}

domain::RetryLater LiveSeatMap::at_capacity() const {
  return domain::RetryLater(
      domain::ErrorCode::kDependencyUnavailable,
      fmt::format("this instance already serves {} seat map streams (sse.max-streams)", impl_->settings.max_streams),
      impl_->settings.retry_after);
}

Task<void> LiveSeatMap::check(domain::ScheduleId schedule) {
  // HEAD: the errors a GET would get now, without a stream — shutting down or at the cap (503)
  // first; then whether the feed could be built (404, 503).
  if (impl_->stopping.load()) throw shutting_down();
  if (impl_->stats.open_streams.load() >= impl_->settings.max_streams) throw at_capacity();
  co_await asio::co_spawn(
      impl_->live,
      [](Impl* impl, std::int64_t id) -> asio::awaitable<void> { co_await Impl::ready_feed(impl, id); }(impl_.get(),
                                                                                                        schedule.value),
      asio::use_awaitable);
}

}  // namespace ticketing::infra::live
