#include "app/connection_limits.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <limits>

namespace ticketing::app {

ConnectionLimits fit_to_open_files(std::int64_t max_connections, std::int64_t max_streams, std::int64_t open_files) {
  const std::int64_t connections =
      open_files <= 0 ? max_connections
                      : std::clamp<std::int64_t>(open_files - kReservedDescriptors, 1, max_connections);
  if (open_files <= 0) return {connections, max_streams};
  const std::int64_t streams = std::clamp<std::int64_t>(connections - connections / 10, 1, max_streams);
  return {connections, streams};
}

std::int64_t raise_open_file_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur != limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  if (limit.rlim_cur == RLIM_INFINITY) return std::numeric_limits<std::int64_t>::max();
  return static_cast<std::int64_t>(limit.rlim_cur);
}

}  // namespace ticketing::app
