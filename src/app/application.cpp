#include "app/application.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "api/dispatcher.hpp"
#include "api/routes.hpp"
#include "app/connection_limits.hpp"
#include "application/admin_service.hpp"
#include "application/auth_service.hpp"
#include "application/catalog_queries.hpp"
#include "application/health_service.hpp"
#include "application/hold_service.hpp"
#include "application/payment_service.hpp"
#include "application/queue_service.hpp"
#include "application/seat_events.hpp"
#include "application/ticket_service.hpp"
#include "application/web_app.hpp"
#include "domain/ports/clock.hpp"
#include "infra/blocking_executor.hpp"
#include "infra/events/order_settlement_board.hpp"
#include "infra/http/http_server.hpp"
#include "infra/kafka/confirmation_consumer.hpp"
#include "infra/kafka/kafka_health_probe.hpp"
#include "infra/kafka/kafka_producer.hpp"
#include "infra/kafka/kafka_topics.hpp"
#include "infra/kafka/recovering_producer.hpp"
#include "infra/live/live_seat_map.hpp"
#include "infra/live/seat_change_publisher.hpp"
#include "infra/mysql/mysql_account_repository.hpp"
#include "infra/mysql/mysql_catalog_repository.hpp"
#include "infra/mysql/mysql_dead_letter_store.hpp"
#include "infra/mysql/mysql_health_probe.hpp"
#include "infra/mysql/mysql_operator_repository.hpp"
#include "infra/mysql/mysql_payment_repository.hpp"
#include "infra/mysql/mysql_pool.hpp"
#include "infra/mysql/mysql_reservation_repository.hpp"
#include "infra/mysql/mysql_ticket_repository.hpp"
#include "infra/mysql/mysql_user_repository.hpp"
#include "infra/observability/metrics.hpp"
#include "infra/observability/seat_event_metrics.hpp"
#include "infra/outbox/outbox_relay.hpp"
#include "infra/outbox/retention_purge.hpp"
#include "infra/periodic_task.hpp"
#include "infra/redis/redis_auth_stores.hpp"
#include "infra/redis/redis_client.hpp"
#include "infra/redis/redis_health_probe.hpp"
#include "infra/redis/redis_prequeue_store.hpp"
#include "infra/redis/redis_queue_store.hpp"
#include "infra/redis/redis_seat_lock_store.hpp"
#include "infra/security/csprng_random_source.hpp"
#include "infra/security/gateway_signature.hpp"
#include "infra/security/hmac_proof_of_work.hpp"
#include "infra/security/jwt_access_token_service.hpp"
#include "infra/security/jwt_token_service.hpp"
#include "infra/security/sodium_fairness_crypto.hpp"
#include "infra/security/sodium_password_hasher.hpp"
#include "infra/security/ticket_payload.hpp"

namespace ticketing::app {

namespace asio = boost::asio;
using infra::config::AppConfig;

namespace {

infra::mysql::DbEndpoint db_endpoint(const AppConfig& config) {
  const auto url = infra::config::parse_db_url(config.db.url);
  return infra::mysql::DbEndpoint{
      url.host, url.port, url.user, url.password, url.database, config.db.connect_timeout, config.db.query_timeout};
}

infra::redis::RedisOptions redis_options(const AppConfig& config) {
  auto options = infra::redis::parse_redis_url(config.redis.url);
  options.command_timeout = config.redis.command_timeout;
  options.connect_timeout = config.redis.connect_timeout;
  return options;
}

int io_thread_count(const AppConfig& config) {
  if (config.http.threads > 0) return config.http.threads;
  const unsigned cores = std::thread::hardware_concurrency();
  return cores == 0 ? 1 : static_cast<int>(cores);
}

domain::QueuePolicy queue_policy(const AppConfig& config) {
  return domain::QueuePolicy{config.queue.max_active, config.queue.admit_per_second, config.queue.heartbeat_timeout,
                             config.queue.active_ttl, config.queue.pow_threshold,    config.queue.admit_on_arrival};
}

// A signing key the service cannot start without (the loader checks length and prod rules).
std::string required_secret(const std::string& value, std::string_view key) {
  if (value.empty()) {
    throw std::runtime_error(fmt::format("{} is not set: set {} (at least 32 bytes) or use the dev profile", key,
                                         infra::config::env_var_for_key(key)));
  }
  return value;
}

// The e-ticket signing key; like the token keys, the service does not start without it.
infra::security::TicketSeed ticket_seed(const AppConfig& config) {
  const auto seed = infra::security::parse_ticket_seed(config.ticket.signing_seed);
  if (!seed) {
    throw std::runtime_error(
        fmt::format("ticket.signing-seed is not set: set {} (32 random bytes as 64 hex digits) or use the dev profile",
                    infra::config::env_var_for_key("ticket.signing-seed")));
  }
  return *seed;
}

application::AuthPolicy auth_policy(const AppConfig& config) {
  application::AuthPolicy policy;
  policy.access_ttl = config.security.access_token_ttl;
  policy.refresh_ttl = config.security.refresh_token_ttl;
  policy.login_failures = domain::Limit{config.auth.login_failure_limit, config.auth.login_failure_window};
  policy.address_attempts = domain::Limit{config.auth.address_limit, config.auth.address_window};
  policy.address_failures = domain::Limit{config.auth.address_failure_limit, config.auth.address_window};
  return policy;
}

std::unique_ptr<infra::security::HmacGatewayVerifier> gateway_verifier(const AppConfig& config) {
  if (config.payment.gateway_secret.empty()) return nullptr;  // every signed callback is refused
  return std::make_unique<infra::security::HmacGatewayVerifier>(
      config.payment.gateway_secret,
      std::chrono::duration_cast<std::chrono::seconds>(config.payment.gateway_signature_tolerance));
}

// A message the broker has not acknowledged within kMessageTimeout fails for good in the producer;
// the relay waits a little longer than that, so when it gives up on a message (and retries it in
// a later round) no earlier copy is still on its way: no duplicate events, refund requests included.
constexpr auto kMessageTimeout = std::chrono::milliseconds(5000);
constexpr auto kRelayPublishTimeout = kMessageTimeout + std::chrono::milliseconds(1000);

bool runs_jobs(const AppConfig& config) {
  return config.role != infra::config::Role::kApi;
}
// A worker-only process still answers /actuator/* (health, metrics), not the public API.
// The built web app under `root`, read into memory once (a few hundred KiB). Missing: API only.
application::WebApp load_web_app(const std::string& root) {
  namespace fs = std::filesystem;
  application::WebApp app;
  if (root.empty()) return app;
  std::error_code error;
  if (!fs::is_regular_file(fs::path(root) / application::WebApp::kIndexPage, error)) {
    spdlog::warn("web app not served: no {} in web.root '{}' (scripts/build builds it)",
                 application::WebApp::kIndexPage, root);
    return app;
  }
  constexpr std::uintmax_t kMaxFileSize = 16 * 1024 * 1024;
  for (auto it = fs::recursive_directory_iterator(root, error); !error && it != fs::recursive_directory_iterator();
       it.increment(error)) {
    if (!it->is_regular_file(error) || it->file_size(error) > kMaxFileSize) continue;
    std::ifstream in(it->path(), std::ios::binary);
    std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    app.add(fs::relative(it->path(), root).generic_string(), std::move(body));
  }
  spdlog::info("serving the web app from '{}' ({} files)", root, app.size());
  return app;
}

// The stream cap the open-file limit can reach (docs/limits.md), said at startup when it is lowered.
AppConfig fit_connection_caps(AppConfig config) {
  const auto open_files = raise_open_file_limit();
  const auto fitted = fit_to_open_files(config.http.max_connections, config.sse.max_streams, open_files);
  if (fitted.connections < config.http.max_connections) {
    spdlog::warn(
        "the open-file limit ({}) holds fewer connections than http.max-connections ({}); past it the "
        "acceptor backs off (docs/limits.md)",
        open_files, config.http.max_connections);
  }
  if (fitted.max_streams < config.sse.max_streams) {
    spdlog::warn(
        "sse.max-streams {} lowered to {}, below the {} connections the open-file limit holds "
        "(docs/limits.md)",
        config.sse.max_streams, fitted.max_streams, fitted.connections);
  }
  config.sse.max_streams = static_cast<int>(fitted.max_streams);
  return config;
}

infra::http::HttpServerOptions http_options(const AppConfig& config) {
  infra::http::HttpServerOptions options{
      config.http.address,      config.http.port,         config.http.max_body, config.http.max_header,
      config.http.read_timeout, config.http.idle_timeout, config.log.access,    config.http.trusted_proxies,
      config.sse.max_buffered};
  options.max_connections = config.http.max_connections;
  return options;
}

// The per-address limits of the anonymous and sign-in endpoints (docs/limits.md).
std::shared_ptr<api::AddressLimits> address_limits(const AppConfig& config) {
  auto limits = std::make_shared<api::AddressLimits>();
  auto exempt = api::parse_address_ranges(config.http.rate_limit_exempt);
  if (!exempt) {
    throw std::runtime_error("http.rate-limit-exempt: not a list of IP addresses or networks: " +
                             config.http.rate_limit_exempt);
  }
  limits->exempt = std::move(*exempt);
  const auto addresses = static_cast<std::size_t>(config.http.rate_limit_addresses);
  if (config.http.anonymous_rate > 0) {
    limits->anonymous =
        std::make_unique<api::AddressLimiter>(api::BucketLimit{static_cast<double>(config.http.anonymous_rate),
                                                               static_cast<double>(config.http.anonymous_burst)},
                                              addresses);
  }
  if (config.http.sign_in_rate > 0) {
    limits->sign_in = std::make_unique<api::AddressLimiter>(
        api::BucketLimit{static_cast<double>(config.http.sign_in_rate), static_cast<double>(config.http.sign_in_burst)},
        addresses);
  }
  return limits;
}

bool serves_api(const AppConfig& config) {
  return config.role != infra::config::Role::kWorker;
}

// The producer of the outbox relay and the dead-letter path, replaced after a fatal error; the
// first wait is kafka.producer-rebuild-backoff, doubling up to 30 s.
infra::kafka::RecoveringProducer::Factory producer_factory(const AppConfig& config) {
  return [options = infra::kafka::KafkaOptions{config.kafka.bootstrap_servers, config.kafka.client_id}] {
    return std::make_unique<infra::kafka::KafkaProducer>(options, infra::kafka::KafkaProducerSettings{kMessageTimeout});
  };
}

infra::kafka::RebuildBackoff rebuild_backoff(const AppConfig& config) {
  return {config.kafka.producer_rebuild_backoff, std::chrono::seconds(30)};
}

infra::live::LiveSeatMapSettings live_seat_map_settings(const AppConfig& config) {
  infra::live::LiveSeatMapSettings settings;
  settings.coalesce = config.sse.coalesce;
  settings.history = static_cast<std::size_t>(config.sse.history);
  settings.keepalive = config.sse.keepalive;
  settings.max_streams = config.sse.max_streams;
  settings.db = redis_options(config).db;
  return settings;
}

std::vector<asio::io_context*> raw(std::vector<std::unique_ptr<asio::io_context>>& contexts) {
  std::vector<asio::io_context*> out;
  for (auto& c : contexts) out.push_back(c.get());
  return out;
}

}  // namespace

struct Application::Parts {
  AppConfig config;
  // One io_context per I/O thread: a connection and the Redis connection it uses share a thread.
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> work_guards;
  std::vector<std::thread> threads;
  // The live seat map's own thread (docs/live-seat-map.md): the publisher's Redis connection, the
  // pub/sub subscriber and the per-schedule feeds.
  asio::io_context live_context{1};
  std::thread live_thread;

  infra::mysql::MysqlPool db_pool;
  // Bulkheads: seat holds, and the background jobs, have connections of their own, so a burst of
  // payments and order reads never delays the seat race or a confirmation batch.
  infra::mysql::MysqlPool hold_db_pool;
  infra::mysql::MysqlPool worker_db_pool;
  // Money paths (ready, the gateway callback) too: seat maps, order polling and sign-ins on the
  // request pool cannot keep a payment waiting.
  infra::mysql::MysqlPool payment_db_pool;
  infra::BlockingExecutor blocking{2};
  infra::redis::RedisClient redis;
  // The live seat map's own client on its thread (routed by slot on a Redis Cluster).
  infra::redis::RedisClient live_redis{std::vector<boost::asio::any_io_executor>{live_context.get_executor()},
                                       redis_options(config)};
  infra::mysql::MysqlHealthProbe db_probe{db_pool};
  infra::redis::RedisHealthProbe redis_probe{redis};
  infra::kafka::RecoveringProducer producer{producer_factory(config), rebuild_backoff(config)};
  infra::kafka::KafkaHealthProbe kafka_probe;

  domain::SystemClock clock;
  infra::mysql::SeatLayoutCache seat_layouts{db_pool};
  infra::mysql::MysqlCatalogRepository catalog_repository{db_pool, seat_layouts};
  infra::mysql::MysqlUserRepository users{db_pool};
  infra::redis::RedisQueueStore queue_store;
  infra::redis::RedisSeatLockStore seat_locks{redis};
  infra::mysql::MysqlReservationRepository reservations{hold_db_pool, seat_layouts};
  infra::security::JwtTokenService tokens;
  infra::security::JwtAccessTokenService access_tokens;
  infra::security::SodiumPasswordHasher password_hasher;
  infra::security::CsprngRandomSource random;
  infra::security::HmacProofOfWork proof_of_work;
  infra::mysql::MysqlAccountRepository accounts{db_pool};
  infra::mysql::MysqlRefreshTokenStore refresh_tokens{db_pool};
  infra::redis::RedisRateLimiter limiter{redis};
  infra::redis::RedisSessionRevocations revocations{redis, clock};
  application::AuthService auth{accounts, refresh_tokens, password_hasher, access_tokens,      revocations,
                                limiter,  random,         clock,           auth_policy(config)};
  // Logouts handled by other instances reach this one within a second.
  infra::PeriodicTask revocation_sync_task{*contexts.front(), "session-revocations", std::chrono::seconds(1),
                                           [this]() -> Task<void> { co_await revocations.sync(); }};
  std::unique_ptr<infra::security::HmacGatewayVerifier> gateway = gateway_verifier(config);

  application::CatalogQueries catalog{catalog_repository};
  application::HealthService health{{&db_probe, &redis_probe, &kafka_probe}, std::chrono::milliseconds(500)};
  infra::redis::RedisPrequeueStore prequeue_store{redis};
  infra::security::SodiumFairnessCrypto fairness_crypto;
  application::FairStart fair_start{prequeue_store, catalog_repository, fairness_crypto, clock};
  // Draws the seeds of opened pre-queues and applies each opening's shuffle (once, whichever
  // worker gets there first), on the admission job's interval.
  infra::PeriodicTask fair_start_task{*contexts.front(), "fair-start", config.queue.admission_interval,
                                      [this]() -> Task<void> { co_await fair_start.run_once(); }};
  application::QueueService queue;
  application::AdmissionGuard admission_guard{tokens, queue_store, clock};
  application::AdmissionJob admission_job{queue_store, clock, queue.counters(), config.queue.idle_retire_after};
  infra::PeriodicTask admission_task;
  // Every committed seat change, from the one place in the booking core that emits them; the
  // metrics subscribe (and the live seat map will).
  application::SeatEventFanOut seat_events;
  infra::observability::SeatEventMetrics seat_event_metrics;
  // Every change gets its schedule's next version and reaches every instance through Redis.
  infra::live::SeatChangePublisher seat_change_publisher{
      live_redis, live_context.get_executor(),
      infra::live::PublisherSettings{static_cast<std::size_t>(config.sse.history), config.sse.history_ttl,
                                     redis_options(config).db}};
  infra::live::LiveSeatMap live_seat_map{live_context, live_redis, redis_options(config), catalog_repository,
                                         live_seat_map_settings(config)};
  application::HoldService holds{
      admission_guard,    seat_locks,
      reservations,       clock,
      seat_events,        application::HoldPolicy{config.hold.ttl, config.hold.max_seats_per_user},
      &catalog_repository};

  infra::mysql::MysqlReservationRepository worker_reservations{worker_db_pool, seat_layouts};
  application::HoldExpiryJob hold_expiry_job{worker_reservations, clock, seat_events, config.hold.expiry_batch};
  infra::PeriodicTask hold_expiry_task{*contexts.front(), "hold-expiry", config.hold.expiry_interval,
                                       [this]() -> Task<void> { co_await hold_expiry_job.run_once(); }};

  infra::events::EventTopics topics = infra::events::EventTopics::with_prefix(config.kafka.topic_prefix);
  infra::mysql::MysqlPaymentRepository payment_repository{payment_db_pool, topics};
  infra::mysql::MysqlPaymentRepository payment_reads{db_pool, topics};
  application::PaymentService payments{
      admission_guard,
      payment_repository,
      payment_reads,
      clock,
      config.payment.order_ttl,
      config.hold.max_total,
      application::GatewayAuth{gateway.get(), config.payment.gateway_plain_secret, config.payment.gateway_secret}};
  infra::mysql::MysqlPaymentRepository worker_payment_repository{worker_db_pool, topics};

  application::ConfirmationHandler confirmation{worker_payment_repository, queue_store, seat_locks, clock, seat_events,
                                                payments.counters()};
  // This instance's settlements, for GET /payment/{orderNo}?waitMs= (a waiting answer).
  infra::events::OrderSettlementBoard order_settlements;
  infra::mysql::MysqlOperatorRepository operator_repository{db_pool, topics};
  infra::mysql::MysqlDeadLetterStore dead_letter_store{db_pool};
  application::AdminService admin{operator_repository, queue_store, seat_locks,  seat_events,        dead_letter_store,
                                  confirmation,        clock,       &fair_start, &catalog_repository};
  // Puts the console's sale controls back next to the queues after Redis lost them (flush,
  // failover): admission then follows the database's state again within this interval.
  infra::PeriodicTask controls_restore_task{*contexts.front(), "queue-controls-restore", std::chrono::seconds(10),
                                            [this]() -> Task<void> { co_await admin.restore_controls(); }};
  // Settles payments whose event never arrived: picks them up two intervals before reconcile-after
  // (the next round starts an interval after the last one ended), so each is settled by then.
  application::PaymentReconciler reconciler{worker_payment_repository, confirmation, clock,
                                            config.payment.reconcile_after - 2 * config.payment.reconcile_interval,
                                            config.kafka.consumer_batch};
  infra::PeriodicTask reconcile_task{*contexts.front(), "payment-reconciler", config.payment.reconcile_interval,
                                     [this]() -> Task<void> { co_await reconciler.run_once(); }};
  infra::outbox::OutboxRelay outbox_relay{worker_db_pool, producer, config.kafka.relay_batch, kRelayPublishTimeout};
  infra::PeriodicTask outbox_task{*contexts.front(), "outbox-relay", config.kafka.relay_interval,
                                  [this]() -> Task<void> { co_await outbox_relay.publish_pending(); }};
  infra::outbox::RetentionPurge retention_purge{worker_db_pool, config.kafka.outbox_retention,
                                                config.kafka.relay_batch};
  infra::PeriodicTask purge_task{*contexts.front(), "retention-purge", config.kafka.purge_interval,
                                 [this]() -> Task<void> { co_await retention_purge.run_once(clock.now()); }};
  infra::kafka::ConfirmationConsumer confirmation_consumer{
      infra::kafka::KafkaOptions{config.kafka.bootstrap_servers, config.kafka.client_id},
      producer,
      *contexts.back(),
      [this](const domain::PaymentCompleted& event) { return confirmation.handle(event); },
      infra::kafka::ConfirmationConsumerSettings{topics, static_cast<std::size_t>(config.kafka.consumer_batch)},
      [this](const std::vector<domain::PaymentCompleted>& events) { return confirmation.handle_batch(events); }};

  infra::security::Ed25519TicketSigner ticket_signer{ticket_seed(config)};
  infra::mysql::MysqlTicketRepository ticket_repository{db_pool};
  application::TicketService tickets{ticket_repository, ticket_signer, clock};

  infra::observability::Metrics metrics;
  application::WebApp web_app = serves_api(config) ? load_web_app(config.web.root) : application::WebApp{};
  std::shared_ptr<api::AddressLimits> limits = address_limits(config);
  api::Dispatcher dispatcher;
  infra::http::HttpServer server;
  bool stopped = false;

  explicit Parts(const AppConfig& cfg, std::vector<std::unique_ptr<asio::io_context>> io)
      : config(cfg),
        contexts(std::move(io)),
        db_pool(db_endpoint(cfg),
                infra::mysql::PoolOptions{cfg.db.pool_size, cfg.db.max_queue, cfg.db.pool_wait_timeout}),
        hold_db_pool(db_endpoint(cfg),
                     infra::mysql::PoolOptions{cfg.db.hold_pool_size, cfg.db.max_queue, cfg.db.pool_wait_timeout}),
        // The worker and money-path pools run transactions only: autocommit off saves a
        // START TRANSACTION per transaction (statements per booking, issue 14).
        worker_db_pool(db_endpoint(cfg), infra::mysql::PoolOptions{cfg.db.worker_pool_size, cfg.db.max_queue,
                                                                   cfg.db.pool_wait_timeout, true}),
        payment_db_pool(db_endpoint(cfg), infra::mysql::PoolOptions{cfg.db.payment_pool_size, cfg.db.max_queue,
                                                                    cfg.db.pool_wait_timeout, true}),
        redis(raw(contexts), redis_options(cfg)),
        kafka_probe(infra::kafka::KafkaOptions{cfg.kafka.bootstrap_servers, cfg.kafka.client_id}, blocking, &producer),
        queue_store(redis, queue_policy(cfg)),
        tokens(required_secret(cfg.security.token_secret, "security.token-secret")),
        access_tokens(required_secret(cfg.security.access_token_secret, "security.access-token-secret")),
        password_hasher(infra::security::Argon2Options{static_cast<unsigned long long>(cfg.auth.argon2_ops),
                                                       cfg.auth.argon2_memory},
                        cfg.auth.hash_threads, cfg.auth.hash_queue),
        proof_of_work(required_secret(cfg.queue.pow_secret, "queue.pow-secret")),
        queue(queue_store, catalog_repository, users, tokens, clock, queue_policy(cfg), cfg.security.token_ttl,
              &fair_start),
        admission_task(*contexts.front(), "admission", cfg.queue.admission_interval,
                       [this] { return admission_job.run_once(); }),
        dispatcher(
            make_router(), [this](const std::optional<std::string>& bearer) { return auth.authenticate(bearer); },
            [this](const api::ApiRequest& request) { return api::web_app_page(web_app, request); }, limits),
        server(raw(contexts), http_options(cfg), dispatcher, request_observer()) {
    queue.enable_proof_of_work(
        proof_of_work, random,
        application::PowPolicy{cfg.queue.pow_threshold, cfg.queue.pow_difficulty, cfg.queue.pow_challenge_ttl});
    seat_events.subscribe(seat_event_metrics);
    seat_events.subscribe(seat_change_publisher);
    confirmation_consumer.set_dead_letter_recorder(
        [this](const domain::DeadLetter& letter) { return dead_letter_store.record(letter); });
    if (config.metrics.enabled) register_samplers();
  }

  infra::http::RequestObserver request_observer() {
    if (!config.metrics.enabled) return {};
    return [this](std::string_view method, std::string_view route, int status, std::chrono::nanoseconds elapsed) {
      metrics.observe_request(method, route, status, elapsed);
    };
  }

  // Everything but the HTTP histogram is read at scrape time from counters the parts keep anyway.
  void register_samplers();

  api::Router make_router() {
    api::Router router;
    api::add_health_routes(router, health);
    if (config.metrics.enabled) api::add_metrics_routes(router, [this] { return metrics.scrape(); });
    if (serves_api(config)) {
      api::add_auth_routes(router, auth, api::AuthRouteOptions{config.security.cookie_secure});
      api::add_catalog_routes(router, catalog);
      api::add_seat_stream_routes(router, live_seat_map);
      api::add_queue_routes(router, queue);
      api::add_fairness_routes(router, fair_start);
      api::add_ticket_routes(router, holds);
      api::add_payment_routes(router, payments);
      api::add_eticket_routes(router, tickets);
      api::add_admin_routes(router, admin);
      if (config.payment.mock_gateway) api::add_mock_gateway_routes(router, payments);
      api::add_web_app_routes(router, web_app);
    }
    return router;
  }
};

void Application::Parts::register_samplers() {
  using infra::observability::SampleWriter;
  metrics.add_sampler(infra::observability::sample_process);
  metrics.add_sampler([this](SampleWriter& out) {
    for (const auto& [name, source] : {std::pair<const char*, infra::mysql::MysqlPool*>{"requests", &db_pool},
                                       std::pair<const char*, infra::mysql::MysqlPool*>{"holds", &hold_db_pool},
                                       std::pair<const char*, infra::mysql::MysqlPool*>{"payments", &payment_db_pool},
                                       std::pair<const char*, infra::mysql::MysqlPool*>{"jobs", &worker_db_pool}}) {
      const auto pool = source->stats();
      const std::string label = name;
      out.gauge("ticketing_db_pool_size", "Database connections in the pool.", pool.size, {{"pool", label}});
      out.gauge("ticketing_db_pool_connections", "Pool connections by state.", pool.busy,
                {{"pool", label}, {"state", "busy"}});
      out.gauge("ticketing_db_pool_connections", "Pool connections by state.", pool.size - pool.busy,
                {{"pool", label}, {"state", "idle"}});
      out.gauge("ticketing_db_pool_queued", "Database calls waiting for a connection.", pool.queued, {{"pool", label}});
      out.counter("ticketing_db_pool_wait_seconds_total", "Time spent waiting for a connection.",
                  static_cast<double>(pool.wait_micros_total) / 1e6, {{"pool", label}});
      out.counter("ticketing_db_pool_acquired_total", "Connections handed out.", static_cast<double>(pool.acquired),
                  {{"pool", label}});
      out.counter("ticketing_db_pool_rejected_total", "Calls refused: pool saturated or waited too long.",
                  static_cast<double>(pool.rejected), {{"pool", label}});
      out.counter("ticketing_db_pool_connects_total", "Database connections opened.",
                  static_cast<double>(pool.connects), {{"pool", label}});
    }

    const auto callbacks = payment_repository.callback_stats();
    out.gauge("ticketing_payment_calls_waiting", "Money-path calls waiting for the payments pool, to be run together.",
              static_cast<double>(callbacks.waiting), {{"call", "callback"}});
    out.counter("ticketing_payment_calls_total", "Money-path calls answered by a transaction.",
                static_cast<double>(callbacks.answered), {{"call", "callback"}});
    out.counter("ticketing_payment_call_transactions_total",
                "Transactions that answered money-path calls (several calls each under load).",
                static_cast<double>(callbacks.transactions), {{"call", "callback"}});

    const auto& r = redis.stats();
    out.histogram("ticketing_redis_command_seconds", "Redis command and script latency.", r.latency.cumulative(),
                  r.latency.count(), r.latency.sum());
    out.counter("ticketing_redis_errors_total", "Redis commands that failed or returned an error.",
                static_cast<double>(r.errors.load()));
    if (redis.cluster()) {
      out.counter("ticketing_redis_cluster_redirections_total", "Redis Cluster MOVED and ASK replies followed.",
                  static_cast<double>(r.moved.load()), {{"kind", "moved"}});
      out.counter("ticketing_redis_cluster_redirections_total", "Redis Cluster MOVED and ASK replies followed.",
                  static_cast<double>(r.asked.load()), {{"kind", "ask"}});
      out.counter("ticketing_redis_cluster_retries_total",
                  "Redis Cluster commands resent after TRYAGAIN, CLUSTERDOWN or an unreachable node.",
                  static_cast<double>(r.retries.load()));
      out.counter("ticketing_redis_cluster_slot_map_refreshes_total", "Redis Cluster slot maps read (CLUSTER SLOTS).",
                  static_cast<double>(redis.slot_map_refreshes()));
    }

    const auto& q = queue.counters();
    out.counter("ticketing_queue_entered_total", "Queue enters (including repeats).",
                static_cast<double>(q.entered.load()));
    out.counter("ticketing_queue_admitted_total",
                "Users admitted: from the waiting list, or on enter when nobody waited.",
                static_cast<double>(q.admitted.load()));
    out.counter("ticketing_queue_lapsed_slots_total", "Admitted slots that lapsed unused.",
                static_cast<double>(q.lapsed_slots.load()));
    out.counter("ticketing_queue_dropped_waiters_total", "Waiters dropped for not polling.",
                static_cast<double>(q.dropped_waiters.load()));
    out.counter("ticketing_queue_left_total", "Users who left the queue or gave up the slot.",
                static_cast<double>(q.left.load()));
    out.counter("ticketing_queue_admission_failures_total",
                "Schedule admission rounds that failed (the round went on with the other schedules).",
                static_cast<double>(q.admission_failures.load()));
    out.counter("ticketing_queue_retired_schedules_total",
                "Idle schedules taken out of the admission job (queue.idle-retire-after).",
                static_cast<double>(q.retired_schedules.load()));
    for (const auto& [schedule, size] : admission_job.queue_sizes()) {
      const std::string id = std::to_string(schedule);
      out.gauge("ticketing_queue_waiting", "Users waiting, per schedule.", static_cast<double>(size.waiting),
                {{"schedule", id}});
      out.gauge("ticketing_queue_active", "Users holding an active slot, per schedule.",
                static_cast<double>(size.active), {{"schedule", id}});
    }

    auto& h = holds.counters();
    out.counter("ticketing_holds_total", "Hold requests by result.", static_cast<double>(h.held.load()),
                {{"result", "held"}});
    out.counter("ticketing_holds_total", "Hold requests by result.", static_cast<double>(h.conflicts.load()),
                {{"result", "conflict"}});
    out.counter("ticketing_holds_total", "Hold requests by result.", static_cast<double>(h.limit_refused.load()),
                {{"result", "limit"}});
    out.counter("ticketing_holds_db_conflicts_total", "Holds refused by the database's unique key.",
                static_cast<double>(h.db_conflicts.load()));
    out.counter("ticketing_holds_redis_bypassed_total", "Holds decided by the database alone (Redis down).",
                static_cast<double>(h.redis_bypassed.load()));
    out.counter("ticketing_holds_released_total", "Release requests that released seats.",
                static_cast<double>(h.released.load()));
    seat_event_metrics.sample(out);
    const auto& live = live_seat_map.stats();
    out.gauge("ticketing_sse_streams", "Open live seat map streams (GET /schedules/{id}/seats/stream).",
              static_cast<double>(live.open_streams.load()));
    out.gauge("ticketing_sse_feeds", "Schedules whose live seat map this instance keeps in memory.",
              static_cast<double>(live.feeds.load()));
    out.counter("ticketing_sse_stream_starts_total", "Streams started, by what they got first.",
                static_cast<double>(live.snapshots.load()), {{"start", "snapshot"}});
    out.counter("ticketing_sse_stream_starts_total", "Streams started, by what they got first.",
                static_cast<double>(live.resumes.load()), {{"start", "resume"}});
    out.counter("ticketing_sse_rejected_total", "Streams refused with 503 because sse.max-streams were open.",
                static_cast<double>(live.rejected.load()));
    out.counter("ticketing_sse_deltas_sent_total", "Delta events handed to streams (one per stream per event).",
                static_cast<double>(live.deltas_sent.load()));
    out.counter("ticketing_sse_slow_clients_dropped_total",
                "Streams dropped for having more than sse.max-buffered waiting.",
                static_cast<double>(live.slow_dropped.load()));
    out.counter("ticketing_sse_resnapshots_total",
                "Feeds rebuilt from the database (a gap the history did not cover, or a reset counter).",
                static_cast<double>(live.resnapshots.load()));
    out.counter("ticketing_sse_gap_fills_total", "Gaps in the versions heard filled from the Redis history.",
                static_cast<double>(live.gap_fills.load()));
    out.counter("ticketing_sse_messages_total", "Seat map deltas heard on Redis for schedules this instance follows.",
                static_cast<double>(live.messages.load()));
    const auto& published = seat_change_publisher.stats();
    out.counter("ticketing_sse_published_total", "Seat changes published (versioned) on Redis by this instance.",
                static_cast<double>(published.published.load()));
    out.counter("ticketing_sse_publish_failures_total", "Seat changes this instance could not publish (Redis down).",
                static_cast<double>(published.failed.load()));

    auto& p = payments.counters();
    out.counter("ticketing_orders_total", "Orders that entered each status.",
                static_cast<double>(p.orders_created.load()), {{"status", "READY"}});
    out.counter("ticketing_orders_total", "Orders that entered each status.",
                static_cast<double>(p.payments_recorded.load()), {{"status", "CONFIRMING"}});
    out.counter("ticketing_orders_total", "Orders that entered each status.", static_cast<double>(p.confirmed.load()),
                {{"status", "PAID"}});
    out.counter("ticketing_orders_total", "Orders that entered each status.", static_cast<double>(p.cancelled.load()),
                {{"status", "CANCELLED"}});
    out.counter("ticketing_confirmations_total", "PaymentCompleted events handled, by result.",
                static_cast<double>(p.confirmed.load()), {{"result", "confirmed"}});
    out.counter("ticketing_confirmations_total", "PaymentCompleted events handled, by result.",
                static_cast<double>(p.cancelled.load()), {{"result", "cancelled"}});
    out.counter("ticketing_confirmations_total", "PaymentCompleted events handled, by result.",
                static_cast<double>(p.duplicates.load()), {{"result", "duplicate"}});
    out.counter("ticketing_payments_reconciled_total",
                "CONFIRMING orders settled by the reconciler because their event did not arrive in time.",
                static_cast<double>(reconciler.reconciled()));
    out.histogram("ticketing_confirm_latency_seconds", "From the recorded payment to PAID.",
                  p.confirm_latency.cumulative(), p.confirm_latency.count(), p.confirm_latency.sum());

    auto& a = auth.counters();
    for (const auto& [result, value] : {std::pair<const char*, std::uint64_t>{"success", a.logins.load()},
                                        std::pair<const char*, std::uint64_t>{"failure", a.login_failures.load()}}) {
      out.counter("ticketing_auth_logins_total", "Sign-in attempts by result.", static_cast<double>(value),
                  {{"result", result}});
    }
    out.counter("ticketing_auth_limited_total", "Sign-in and sign-up attempts refused by a rate limit (429).",
                static_cast<double>(a.limited.load()));
    out.counter("ticketing_auth_signups_total", "Accounts created by sign-up.", static_cast<double>(a.sign_ups.load()));
    out.counter("ticketing_auth_refreshes_total", "Refresh-token rotations.", static_cast<double>(a.refreshes.load()));
    out.counter("ticketing_auth_refresh_reuse_total", "Spent refresh tokens presented again (families revoked).",
                static_cast<double>(a.reuse_detected.load()));
    out.gauge("ticketing_auth_revoked_sessions", "Ended sign-ins whose access tokens this instance refuses.",
              static_cast<double>(revocations.size()));

    const auto accepts = server.accept_stats();
    out.gauge("ticketing_http_open_connections", "Open HTTP connections.", server.open_connections());
    out.gauge("ticketing_http_max_connections", "http.max-connections.", config.http.max_connections);
    out.counter("ticketing_http_connections_accepted_total", "Connections accepted and served.",
                static_cast<double>(accepts.accepted));
    out.counter("ticketing_http_connections_refused_total",
                "Connections closed at once because http.max-connections were open.",
                static_cast<double>(accepts.refused));
    out.counter("ticketing_http_accept_failures_total", "accept() errors (EMFILE, ENFILE, ENOBUFS, ENOMEM, ...).",
                static_cast<double>(accepts.failed));
    out.counter("ticketing_http_accept_backoff_seconds_total", "Time the acceptor waited after failed accepts.",
                static_cast<double>(accepts.backoff_millis) / 1e3);
    for (const auto& [kind, refused, limiter] :
         {std::tuple<const char*, std::uint64_t, const api::AddressLimiter*>{
              "anonymous", limits->refused_anonymous.load(), limits->anonymous.get()},
          std::tuple<const char*, std::uint64_t, const api::AddressLimiter*>{"sign_in", limits->refused_sign_in.load(),
                                                                             limits->sign_in.get()}}) {
      out.counter("ticketing_http_address_limited_total", "Requests refused by a per-client-address limit (429).",
                  static_cast<double>(refused), {{"endpoints", kind}});
      if (limiter == nullptr) continue;
      out.gauge("ticketing_http_limited_addresses", "Client addresses a per-address limit remembers (capped).",
                static_cast<double>(limiter->size()), {{"endpoints", kind}});
      out.counter("ticketing_http_limited_addresses_evicted_total",
                  "Addresses forgotten because the per-address limit's map was full.",
                  static_cast<double>(limiter->evicted()), {{"endpoints", kind}});
    }

    auto& o = outbox_relay.counters();
    out.counter("ticketing_outbox_published_total", "Outbox events published to Kafka.",
                static_cast<double>(o.published.load()));
    out.counter("ticketing_outbox_failed_rounds_total", "Relay rounds the broker did not fully acknowledge.",
                static_cast<double>(o.failed_rounds.load()));
    out.counter("ticketing_retention_purged_total",
                "Published outbox rows and processed-event ids purged after kafka.outbox-retention.",
                static_cast<double>(retention_purge.purged()));
    out.gauge("ticketing_outbox_backlog", "Unpublished outbox events seen by the last relay round.",
              static_cast<double>(o.backlog.load()));
    out.counter("ticketing_kafka_producer_rebuilds_total", "Kafka producers replaced after a fatal error.",
                static_cast<double>(producer.rebuilds()));
    auto& c = confirmation_consumer.counters();
    out.counter("ticketing_kafka_consumed_total", "payment.completed messages settled by the consumer.",
                static_cast<double>(c.consumed.load()));
    out.counter("ticketing_kafka_dead_lettered_total", "Messages sent to the dead-letter topic.",
                static_cast<double>(c.dead_lettered.load()));
    out.counter("ticketing_kafka_consumer_retries_total", "Event handling attempts that failed and were retried.",
                static_cast<double>(c.retries.load()));
    out.gauge("ticketing_kafka_consumer_lag",
              "payment.completed messages on the broker this process's consumer has not taken yet.",
              static_cast<double>(c.lag.load()));
  });
}

namespace {

std::vector<std::unique_ptr<asio::io_context>> make_contexts(int count) {
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  for (int i = 0; i < count; ++i) contexts.push_back(std::make_unique<asio::io_context>(1));
  return contexts;
}

}  // namespace

Application::Application(const AppConfig& config)
    : parts_(std::make_unique<Parts>(fit_connection_caps(config), make_contexts(io_thread_count(config)))) {}

Application::~Application() {
  stop();
}

void Application::start() {
  parts_->server.start();
  // Known users are loaded in the background; until then existence checks go to the database.
  asio::co_spawn(
      *parts_->contexts.front(),
      [&users = parts_->users]() -> Task<void> {
        try {
          const auto count = co_await users.preload();
          spdlog::info("user cache loaded: {} users", count);
        } catch (const std::exception& error) {
          spdlog::warn("user cache not loaded (lookups go to the database): {}", error.what());
        }
      },
      asio::detached);
  parts_->payments.keep_seat_locks_in(parts_->seat_locks);
  // In-process payments wake the relay at once instead of waiting for its next round.
  parts_->payments.on_payment_recorded([&task = parts_->outbox_task] { task.wake(); });
  parts_->confirmation.tell_settlements_to(parts_->order_settlements);
  // An instance that runs the consumer is told of (most) settlements; one that does not re-reads
  // sooner.
  const bool runs_the_jobs = runs_jobs(parts_->config);
  parts_->payments.wait_for_settlements_on(parts_->order_settlements,
                                           runs_the_jobs ? application::PaymentService::kSettlementRecheck
                                                         : application::PaymentService::kFirstSettlementRecheck,
                                           runs_the_jobs);
  if (runs_the_jobs) {
    // Topics first: a consumer subscribed to a topic that does not exist yet only notices it at its
    // next metadata refresh. Auto-creation stays as the fallback when Kafka is down right now.
    const auto& topics = parts_->topics;
    try {
      infra::kafka::ensure_topics(
          {parts_->config.kafka.bootstrap_servers, parts_->config.kafka.client_id},
          {{topics.payment_completed, 6}, {topics.payment_completed_dlq, 1}, {topics.refund_requested, 3}},
          std::chrono::seconds(5));
    } catch (const std::exception& error) {
      spdlog::warn("could not create the Kafka topics now ({}); relying on broker auto-creation", error.what());
    }
    parts_->admission_task.start();
    parts_->fair_start_task.start();
    parts_->controls_restore_task.start();
    parts_->hold_expiry_task.start();
    parts_->reconcile_task.start();
    parts_->purge_task.start();
    parts_->outbox_task.start();
    parts_->confirmation_consumer.start();
  }
  if (serves_api(parts_->config)) {
    parts_->revocation_sync_task.start();
    parts_->live_seat_map.start();
  }
  parts_->live_thread = std::thread([&live = parts_->live_context] {
    auto guard = asio::make_work_guard(live);
    live.run();
  });
  for (auto& context : parts_->contexts) {
    parts_->work_guards.push_back(asio::make_work_guard(*context));
    parts_->threads.emplace_back([c = context.get()] {
      // An exception out of a handler must not end an I/O thread, and with it every connection on
      // it or the process: it is logged and the thread goes on serving.
      for (;;) {
        try {
          c->run();
          return;
        } catch (const std::exception& error) {
          spdlog::error("I/O thread: a handler threw: {}", error.what());
        } catch (...) {
          spdlog::error("I/O thread: a handler threw a non-standard exception");
        }
      }
    });
  }
  spdlog::info("serving on {}:{} with {} I/O threads (profile {})", parts_->config.http.address, port(),
               parts_->contexts.size(), parts_->config.profile);
}

std::uint16_t Application::port() const {
  return parts_->server.port();
}

void Application::inject_kafka_fatal_error_for_test(const std::string& reason) {
  parts_->producer.inject_fatal_error_for_test(reason);
}

void Application::run_until_signal() {
  asio::io_context signals_context(1);
  asio::signal_set signals(signals_context, SIGINT, SIGTERM);
  signals.async_wait([](const boost::system::error_code& ec, int signal) {
    if (!ec) spdlog::info("received signal {}, shutting down", signal);
  });
  signals_context.run();
  stop();
}

void Application::stop() {
  if (!parts_ || parts_->stopped) return;
  parts_->stopped = true;
  // HTTP first: stop accepting, close idle connections, let in-flight requests finish.
  parts_->server.begin_shutdown();
  parts_->order_settlements.stop();  // waiting answers go out now, with what they have
  if (!parts_->server.wait_drained(parts_->config.http.shutdown_timeout)) {
    spdlog::warn("{} connections still open after {} ms; closing them", parts_->server.open_connections(),
                 parts_->config.http.shutdown_timeout.count());
  }
  parts_->live_seat_map.stop();
  // Then the workers: no new rounds; the consumer leaves its group (unsettled events are
  // delivered again to the next consumer).
  parts_->revocation_sync_task.stop();
  parts_->admission_task.stop();
  parts_->fair_start_task.stop();
  parts_->controls_restore_task.stop();
  parts_->hold_expiry_task.stop();
  parts_->reconcile_task.stop();
  parts_->purge_task.stop();
  parts_->outbox_task.stop();
  parts_->confirmation_consumer.stop();
  parts_->redis.close_all();
  parts_->work_guards.clear();
  for (auto& context : parts_->contexts) context->stop();
  for (auto& thread : parts_->threads) {
    if (thread.joinable()) thread.join();
  }
  // The live thread last: changes the stopping jobs emitted may still be publishing.
  parts_->seat_change_publisher.wait_idle(std::chrono::seconds(2));
  parts_->seat_change_publisher.stop();
  parts_->live_redis.close_all();
  parts_->live_context.stop();
  if (parts_->live_thread.joinable()) parts_->live_thread.join();
  parts_->live_seat_map.release();
  parts_->db_pool.stop();
  parts_->payment_db_pool.stop();
  parts_->hold_db_pool.stop();
  parts_->worker_db_pool.stop();
  parts_->blocking.stop();
  parts_->password_hasher.stop();
  spdlog::info("stopped");
}

}  // namespace ticketing::app
