#include "api/request_params.hpp"

#include <fmt/format.h>

#include "domain/errors.hpp"
#include "domain/ids.hpp"

namespace ticketing::api {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes application/x-www-form-urlencoded text; nullopt on a broken escape.
std::optional<std::string> decode_component(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int hi = hex_value(text[i + 1]);
      const int lo = hex_value(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

std::int64_t path_id(const ApiRequest& request, std::string_view name) {
  const std::string* raw = request.path_param(name);
  if (raw != nullptr) {
    if (auto id = domain::parse_canonical_id(*raw)) return *id;
  }
  throw domain::invalid_argument(std::string(name), "must be an integer between 1 and 9223372036854775807");
}

void refuse_user_id_param(const ApiRequest& request) {
  if (query_param(request, "userId")) {
    throw domain::invalid_argument("userId", "is not accepted: the caller is the signed-in user of the access token");
  }
}

std::optional<std::string> query_param(const ApiRequest& request, std::string_view name) {
  std::optional<std::string> found;
  std::string_view rest = request.query;
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    const auto eq = pair.find('=');
    const auto raw_key = decode_component(pair.substr(0, eq));
    if (!raw_key || *raw_key != name) continue;
    if (found) throw domain::invalid_argument(std::string(name), "must be given once");
    auto value = decode_component(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
    if (!value) throw domain::invalid_argument(std::string(name), "malformed percent-encoding");
    found = std::move(*value);
  }
  return found;
}

std::int64_t query_id(const ApiRequest& request, std::string_view name) {
  const auto value = query_param(request, name);
  if (!value) throw domain::invalid_argument(std::string(name), "is required");
  if (auto id = domain::parse_canonical_id(*value)) return *id;
  throw domain::invalid_argument(std::string(name), "must be an integer between 1 and 9223372036854775807");
}

std::optional<std::int64_t> query_int(const ApiRequest& request, std::string_view name, std::int64_t min,
                                      std::int64_t max) {
  const auto text = query_param(request, name);
  if (!text) return std::nullopt;
  const auto value = *text == "0" ? std::optional<std::int64_t>(0) : domain::parse_canonical_id(*text);
  if (!value || *value < min || *value > max) {
    throw domain::invalid_argument(std::string(name), fmt::format("must be an integer from {} to {}", min, max));
  }
  return value;
}

bool etag_matches(std::string_view header, std::string_view etag) {
  std::size_t start = 0;
  while (start < header.size()) {
    auto end = header.find(',', start);
    if (end == std::string_view::npos) end = header.size();
    std::string_view item = header.substr(start, end - start);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (item.starts_with("W/")) item.remove_prefix(2);
    if (item == "*" || item == etag) return true;
    start = end + 1;
  }
  return false;
}

}  // namespace ticketing::api
