#pragma once
// Strict reading of JSON request bodies (DESIGN.md §5 "Bodies"): Content-Type must be
// application/json (415 otherwise); invalid UTF-8, trailing garbage, duplicate keys, unknown
// fields, nesting deeper than 32, a non-object top level, null or wrongly typed fields → 400.
// Field problems are collected so one 400 names every bad field.
#include <boost/json/object.hpp>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/http_types.hpp"
#include "domain/errors.hpp"

namespace ticketing::api {

class JsonBody {
 public:
  // Throws DomainError (415 / 400) for a body that cannot be read at all.
  static JsonBody parse(const ApiRequest& request, std::initializer_list<std::string_view> allowed_fields);

  // Required canonical id (JSON integer 1..2^63-1).
  std::int64_t id(std::string_view field);
  // Required string of 1..max_length bytes.
  std::string string(std::string_view field, std::size_t max_length);
  // Required string of any length (the body's limit bounds it), empty too: for fields whose rules
  // (and their messages) are the domain's.
  std::string text(std::string_view field);
  // Required array of min..max strings, each 1..max_length bytes.
  std::vector<std::string> string_array(std::string_view field, std::size_t min, std::size_t max,
                                        std::size_t max_length);

  // Optional integer in min..max (absent or null: nullopt).
  std::optional<std::int64_t> optional_integer(std::string_view field, std::int64_t min, std::int64_t max);
  // Optional string of 1..max_length bytes (absent or null: nullopt).
  std::optional<std::string> optional_string(std::string_view field, std::size_t max_length);
  // A required field's raw value for nested documents (nullptr, with a problem noted, when missing).
  const boost::json::value* value(std::string_view field) { return required(field); }
  // An optional field's raw value (nullptr when absent or null).
  const boost::json::value* optional_value(std::string_view field) const;
  // Notes a problem found while reading a nested value; done() reports it with the others.
  void problem(std::string_view field, std::string reason);

  // Throws one 400 listing every field problem seen so far.
  void done() const;
  // The problems seen so far, for a service that adds its own and reports them all in one 400.
  std::vector<domain::FieldError> problems() && { return std::move(errors_); }

 private:
  explicit JsonBody(boost::json::object object) : object_(std::move(object)) {}
  const boost::json::value* required(std::string_view field);

  boost::json::object object_;
  std::vector<domain::FieldError> errors_;
};

// Content-Type check alone: application/json, optionally with charset=utf-8.
bool is_json_content_type(std::string_view content_type);

// A body must come as it is: any Content-Encoding but "identity" (gzip, br, …) is 415 (RFC 9110
// §15.5.16), never read as if it were plain. JsonBody::parse calls it; other body readers must too.
void require_unencoded_body(const ApiRequest& request);

}  // namespace ticketing::api
