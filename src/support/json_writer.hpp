#pragma once
// A small, fast, always-valid JSON writer (responses, events). Used by every layer, so it lives in
// src/support/, which depends on nothing of ours. Strings are escaped; invalid UTF-8 is
// replaced with U+FFFD so an error body never echoes raw bytes (DESIGN.md §5).
#include <cstdint>
#include <string>
#include <string_view>

namespace ticketing::support {

class JsonWriter {
 public:
  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  JsonWriter& key(std::string_view name);
  JsonWriter& string(std::string_view value);
  JsonWriter& integer(std::int64_t value);
  JsonWriter& boolean(bool value);
  JsonWriter& null();
  // A number already formatted by the caller, e.g. "120.00" for money.
  JsonWriter& raw_number(std::string_view digits);

  const std::string& str() const& { return out_; }
  std::string str() && { return std::move(out_); }
  void reserve(std::size_t n) { out_.reserve(n); }

 private:
  void separate();
  std::string out_;
  bool need_comma_ = false;
};

void append_json_string(std::string& out, std::string_view value);

}  // namespace ticketing::support
