#pragma once
// SHA-1, only to name Lua scripts the way Redis does (EVALSHA). Not for security: SHA-1 is broken
// for collision resistance, which does not matter for a script cache key we choose ourselves.
#include <string>
#include <string_view>

namespace ticketing::infra::redis {

// 40 lowercase hex digits, as SCRIPT LOAD returns them.
std::string sha1_hex(std::string_view data);

}  // namespace ticketing::infra::redis
