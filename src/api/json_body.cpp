#include "api/json_body.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse.hpp>
#include <cctype>

#include "support/json_sax.hpp"
#include "support/utf8.hpp"

namespace ticketing::api {
namespace {

using domain::DomainError;
using domain::ErrorCode;

constexpr std::size_t kMaxDepth = 32;
constexpr std::size_t kMaxProblems = 20;  // members named in one error answer

std::string lower_trimmed(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// First pass: Boost.JSON's DOM keeps the last of duplicate keys silently, so a SAX pass finds them.
using DuplicateKeyFinder = support::JsonDuplicateKeyFinder;

std::string_view type_name(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null: return "null";
    case boost::json::kind::bool_: return "a boolean";
    case boost::json::kind::int64:
    case boost::json::kind::uint64: return "an integer";
    case boost::json::kind::double_: return "a decimal number";
    case boost::json::kind::string: return "a string";
    case boost::json::kind::array: return "an array";
    case boost::json::kind::object: return "an object";
  }
  return "a value";
}

bool is_allowed(std::initializer_list<std::string_view> allowed_fields, std::string_view field) {
  return std::find(allowed_fields.begin(), allowed_fields.end(), field) != allowed_fields.end();
}

bool is_bare_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '+' || c == '-' || c == '.';
}

// A syntax error at `offset` in a bare scalar that is the value of a key of the body's own object
// (`"key": <scalar>`) and is not valid JSON itself — as `02`, `+2`, `0x2`, `2.` or `.5` are — is
// that key's: the field is named, as DESIGN.md §5 asks of a malformed id. Empty when the error is
// elsewhere (a missing comma after a valid value, a broken string, inside an array...).
std::string field_of_bad_scalar(std::string_view text, std::size_t offset, const DuplicateKeyFinder& finder) {
  if (finder.depth != 1 || finder.objects.size() != 1 || finder.top_level_key.empty() || offset > text.size()) {
    return {};
  }
  std::size_t start = offset;
  while (start > 0 && is_bare_token_char(text[start - 1])) --start;
  std::size_t end = offset;
  while (end < text.size() && is_bare_token_char(text[end])) ++end;
  if (end == start) return {};
  boost::system::error_code scalar_error;
  (void)boost::json::parse(text.substr(start, end - start), scalar_error);
  if (!scalar_error) return {};  // a valid value: what follows it is wrong, not the value
  const auto skip_space_back = [&](std::size_t at) {
    while (at > 0 && (text[at - 1] == ' ' || text[at - 1] == '\t' || text[at - 1] == '\r' || text[at - 1] == '\n')) {
      --at;
    }
    return at;
  };
  const std::size_t colon = skip_space_back(start);
  if (colon == 0 || text[colon - 1] != ':') return {};
  const std::size_t key_end = skip_space_back(colon - 1);  // the key's closing quote
  return key_end > 0 && text[key_end - 1] == '"' ? finder.top_level_key : std::string();
}

// A member name as the error's message shows it: at most 64 bytes (cut at a character boundary)
// and control characters as \u escapes — the message is a C string inside the exception, so a NUL
// would end it there. The `errors` entries keep the name as sent (JSON-escaped by the writer).
std::string printable_name(std::string_view name) {
  constexpr std::size_t kMaxShown = 64;
  std::string out;
  const std::string_view shown = support::utf8_prefix(name, kMaxShown);
  for (const char c : shown) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      out += fmt::format("\\u{:04x}", byte);
    } else {
      out += c;
    }
  }
  if (shown.size() < name.size()) out += "...";
  return out;
}

DomainError malformed(std::string reason) {
  return DomainError(ErrorCode::kInvalidArgument, "malformed JSON body: " + reason, {{"body", reason}});
}

}  // namespace

bool is_json_content_type(std::string_view content_type) {
  const auto semicolon = content_type.find(';');
  if (lower_trimmed(content_type.substr(0, semicolon)) != "application/json") return false;
  if (semicolon == std::string_view::npos) return true;
  // Only a charset parameter, and only UTF-8 (JSON is UTF-8 by definition).
  std::string_view params = content_type.substr(semicolon + 1);
  while (!params.empty()) {
    const auto next = params.find(';');
    const std::string param = lower_trimmed(params.substr(0, next));
    params = next == std::string_view::npos ? std::string_view{} : params.substr(next + 1);
    if (param.empty()) continue;
    if (param != "charset=utf-8" && param != "charset=\"utf-8\"") return false;
  }
  return true;
}

void require_unencoded_body(const ApiRequest& request) {
  const auto count = request.header_count("Content-Encoding");
  if (count == 0) return;
  if (count > 1 || lower_trimmed(*request.header("Content-Encoding")) != "identity") {
    throw DomainError(ErrorCode::kUnsupportedMediaType,
                      "Content-Encoding is not supported: send the body uncompressed (identity)");
  }
}

JsonBody JsonBody::parse(const ApiRequest& request, std::initializer_list<std::string_view> allowed_fields) {
  require_unencoded_body(request);
  // Two of them would leave which one describes the body to chance (the first, or the last?).
  if (request.header_count("Content-Type") > 1) throw domain::invalid_argument("Content-Type", "must be sent once");
  const std::string* content_type = request.header("Content-Type");
  if (content_type == nullptr || !is_json_content_type(*content_type)) {
    throw DomainError(ErrorCode::kUnsupportedMediaType, "Content-Type must be application/json");
  }
  if (request.body.empty()) throw malformed("the body is empty");

  boost::json::parse_options options;
  options.max_depth = kMaxDepth;
  {
    boost::json::basic_parser<DuplicateKeyFinder> finder(options);
    boost::system::error_code ec;
    const std::size_t parsed = finder.write_some(false, request.body.data(), request.body.size(), ec);
    if (finder.handler().found) {
      throw malformed("duplicate key '" + printable_name(finder.handler().duplicate) + "'");
    }
    if (ec == boost::json::error::syntax) {
      const auto field = field_of_bad_scalar(request.body, parsed, finder.handler());
      if (is_allowed(allowed_fields, field)) {
        const std::string reason = "is not a JSON value (numbers have no '+', leading zeros, hex or bare '.')";
        throw DomainError(ErrorCode::kInvalidArgument, "malformed JSON body: " + field + " " + reason,
                          {{field, reason}});
      }
    }
  }
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(request.body, ec, {}, options);
  if (ec) {
    if (ec == boost::json::error::too_deep) throw malformed(fmt::format("nesting deeper than {}", kMaxDepth));
    if (ec == boost::json::error::extra_data) throw malformed("unexpected data after the JSON value");
    throw malformed(ec.message());
  }
  if (!value.is_object()) throw malformed("the body must be a JSON object");

  JsonBody body(std::move(value.as_object()));
  for (const auto& entry : body.object_) {
    if (!is_allowed(allowed_fields, entry.key())) body.problem(entry.key(), "unknown field");
  }
  return body;
}

void JsonBody::problem(std::string_view field, std::string reason) {
  // A body of thousands of unknown members gets the first of them named, not an answer larger than
  // the body.
  if (errors_.size() < kMaxProblems) errors_.push_back({std::string(field), std::move(reason)});
}

const boost::json::value* JsonBody::required(std::string_view field) {
  const auto* value = object_.if_contains(field);
  if (value == nullptr) {
    problem(field, "is required");
    return nullptr;
  }
  if (value->is_null()) {
    problem(field, "must not be null");
    return nullptr;
  }
  return value;
}

std::int64_t JsonBody::id(std::string_view field) {
  const auto* value = required(field);
  if (value == nullptr) return 0;
  if (value->is_int64() && value->as_int64() >= 1) return value->as_int64();
  if (value->is_int64() || value->is_uint64()) {
    problem(field, "must be an integer between 1 and 9223372036854775807");
  } else {
    problem(field, fmt::format("must be an integer id, not {}", type_name(*value)));
  }
  return 0;
}

std::string JsonBody::string(std::string_view field, std::size_t max_length) {
  const auto* value = required(field);
  if (value == nullptr) return {};
  if (!value->is_string()) {
    problem(field, fmt::format("must be a string, not {}", type_name(*value)));
    return {};
  }
  const auto& s = value->as_string();
  if (s.empty() || s.size() > max_length) {
    problem(field, fmt::format("must be 1 to {} characters", max_length));
    return {};
  }
  return std::string(s);
}

std::string JsonBody::text(std::string_view field) {
  const auto* value = required(field);
  if (value == nullptr) return {};
  if (!value->is_string()) {
    problem(field, fmt::format("must be a string, not {}", type_name(*value)));
    return {};
  }
  return std::string(value->as_string());
}

std::vector<std::string> JsonBody::string_array(std::string_view field, std::size_t min, std::size_t max,
                                                std::size_t max_length) {
  const auto* value = required(field);
  if (value == nullptr) return {};
  if (!value->is_array()) {
    problem(field, fmt::format("must be an array, not {}", type_name(*value)));
    return {};
  }
  const auto& array = value->as_array();
  if (array.size() < min || array.size() > max) {
    problem(field, fmt::format("must hold {} to {} items", min, max));
    return {};
  }
  std::vector<std::string> out;
  out.reserve(array.size());
  for (std::size_t i = 0; i < array.size(); ++i) {
    const auto& item = array[i];
    const std::string item_field = fmt::format("{}[{}]", field, i);
    if (!item.is_string()) {
      problem(item_field, fmt::format("must be a string, not {}", type_name(item)));
    } else if (item.as_string().empty() || item.as_string().size() > max_length) {
      problem(item_field, fmt::format("must be 1 to {} characters", max_length));
    } else {
      out.emplace_back(item.as_string());
    }
  }
  return out;
}

const boost::json::value* JsonBody::optional_value(std::string_view field) const {
  const auto* value = object_.if_contains(field);
  if (value == nullptr || value->is_null()) return nullptr;
  return value;
}

std::optional<std::int64_t> JsonBody::optional_integer(std::string_view field, std::int64_t min, std::int64_t max) {
  const auto* value = optional_value(field);
  if (value == nullptr) return std::nullopt;
  if (value->is_int64() && value->as_int64() >= min && value->as_int64() <= max) return value->as_int64();
  if (value->is_int64() || value->is_uint64()) {
    problem(field, fmt::format("must be an integer from {} to {}", min, max));
  } else {
    problem(field, fmt::format("must be an integer, not {}", type_name(*value)));
  }
  return std::nullopt;
}

std::optional<std::string> JsonBody::optional_string(std::string_view field, std::size_t max_length) {
  if (optional_value(field) == nullptr) return std::nullopt;
  auto text = string(field, max_length);
  if (text.empty()) return std::nullopt;
  return text;
}

void JsonBody::done() const {
  if (errors_.empty()) return;
  std::string message = "invalid request body:";
  for (const auto& e : errors_) message += fmt::format(" {} {};", printable_name(e.field), e.reason);
  message.pop_back();
  throw DomainError(ErrorCode::kInvalidArgument, std::move(message), errors_);
}

}  // namespace ticketing::api
