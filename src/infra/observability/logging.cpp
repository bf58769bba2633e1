#include "infra/observability/logging.hpp"

#include <spdlog/async.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace ticketing::infra::observability {

void configure_logging(Level level) {
  static const bool once = [] {
    spdlog::init_thread_pool(65536, 1);
    auto app = spdlog::stderr_logger_mt("ticketing");
    spdlog::set_default_logger(app);
    auto access = spdlog::create_async_nb<spdlog::sinks::stdout_sink_mt>("access");
    (void)access;
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$ [%n] %v", spdlog::pattern_time_type::utc);
    spdlog::flush_every(std::chrono::seconds(1));
    return true;
  }();
  (void)once;
  static constexpr spdlog::level::level_enum levels[] = {spdlog::level::trace, spdlog::level::debug,
                                                         spdlog::level::info, spdlog::level::warn, spdlog::level::err};
  spdlog::set_level(levels[static_cast<int>(level)]);
  spdlog::flush_on(spdlog::level::warn);
}

void flush_logs() {
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& logger) { logger->flush(); });
}

}  // namespace ticketing::infra::observability
