#pragma once
#include <string>
#include <string_view>

namespace ticketing::support {

// A strong HTTP entity tag of `body`: FNV-1a 64 of its bytes and its length, the same on every
// instance and build for the same bytes. A content fingerprint, not a security boundary.
std::string etag_of(std::string_view body);

}  // namespace ticketing::support
