#pragma once
// Column conversions for text-protocol rows; a NULL or malformed value where the schema forbids
// one is a bug (or a schema drift), reported as std::runtime_error → 500.
#include <cstdint>
#include <optional>
#include <string>

#include "domain/money.hpp"
#include "domain/time.hpp"

namespace ticketing::infra::mysql {

std::int64_t to_int64(const std::optional<std::string>& value);
std::string to_string(const std::optional<std::string>& value);
domain::Money to_money(const std::optional<std::string>& value);
domain::Timestamp to_timestamp(const std::optional<std::string>& value);

}  // namespace ticketing::infra::mysql
