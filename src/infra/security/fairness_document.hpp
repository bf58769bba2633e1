#pragma once
// Reads the JSON of GET /schedules/{id}/fairness for `ticketing fairness verify`.
#include <optional>
#include <string>
#include <string_view>

#include "domain/fairness.hpp"

namespace ticketing::infra::security {

struct FairnessDocument {
  domain::FairnessReveal reveal;
  std::optional<std::int64_t> schedule_id;
};
// nullopt (with `error` set) when the text is not such a JSON object.
std::optional<FairnessDocument> parse_fairness_document(std::string_view text, std::string& error);

}  // namespace ticketing::infra::security
