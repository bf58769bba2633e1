#pragma once
// What the process's open-file limit lets it hold (docs/limits.md): a stream cap above it would
// never be reached — the process runs out of descriptors first, so a stream past the limit fails to
// be accepted instead of getting the documented 503. (The connection cap is left as configured:
// past the descriptors, the acceptor's backoff is what protects the server, tested as such.)
#include <cstdint>

namespace ticketing::app {

struct ConnectionLimits {
  std::int64_t connections = 0;  // what the server can hold: the cap, or the descriptors for clients
  std::int64_t max_streams = 0;
};

// Descriptors kept for everything but clients: database pools, Redis, Kafka, files.
inline constexpr std::int64_t kReservedDescriptors = 256;

// The connections the server can hold (the cap, or `open_files` less kReservedDescriptors when that
// is lower; the cap when `open_files` is 0: unknown), and the stream cap lowered below them by a
// tenth of them, so ordinary calls still get in while the streams are at their cap.
// Never below 1.
ConnectionLimits fit_to_open_files(std::int64_t max_connections, std::int64_t max_streams, std::int64_t open_files);

// Raises the soft open-file limit to the hard one (allowed without privileges); returns the soft
// limit now in force, 0 when it cannot be read.
std::int64_t raise_open_file_limit();

}  // namespace ticketing::app
