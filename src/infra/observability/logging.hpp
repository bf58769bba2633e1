#pragma once
#include <string_view>

namespace ticketing::infra::observability {

enum class Level { kTrace, kDebug, kInfo, kWarn, kError };

// Application log to stderr; access log ("access" logger) to stdout through an async queue that
// drops the oldest line instead of ever blocking an I/O thread. Timestamps are UTC.
void configure_logging(Level level);
void flush_logs();

}  // namespace ticketing::infra::observability
