#include "infra/security/fairness_document.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace ticketing::infra::security {
namespace json = boost::json;

std::optional<FairnessDocument> parse_fairness_document(std::string_view text, std::string& error) {
  boost::system::error_code code;
  const json::value value = json::parse(text, code);
  if (code || !value.is_object()) {
    error = "not a JSON object";
    return std::nullopt;
  }
  const auto& object = value.as_object();
  FairnessDocument document;
  const auto text_field = [&](std::string_view name) -> std::string {
    const auto* field = object.if_contains(name);
    return field != nullptr && field->is_string() ? std::string(field->as_string()) : std::string();
  };
  document.reveal.commitment = text_field("commitment");
  document.reveal.seed = text_field("seed");
  if (const auto* id = object.if_contains("scheduleId"); id != nullptr && id->is_int64()) {
    document.schedule_id = id->as_int64();
  }
  if (const auto* count = object.if_contains("preQueued"); count != nullptr && count->is_int64()) {
    document.reveal.pre_queued = count->as_int64();
  }
  const auto* order = object.if_contains("order");
  if (order == nullptr || !order->is_array()) {
    error = "no \"order\" array";
    return std::nullopt;
  }
  for (const auto& entry : order->as_array()) {
    if (!entry.is_string()) {
      error = "\"order\" holds a value that is not a string";
      return std::nullopt;
    }
    document.reveal.order.emplace_back(entry.as_string());
  }
  return document;
}

}  // namespace ticketing::infra::security
