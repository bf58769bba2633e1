#pragma once
// Boost.JSON SAX handlers for what its DOM cannot tell: the DOM keeps the last of repeated keys
// silently, so request bodies (api) and tokens (infra/security) find repeats with a pass of these.
// Each handler hands its parser the events it looks at; JsonSaxEvents accepts the rest.
#include <boost/json/error.hpp>
#include <boost/json/string_view.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace ticketing::support {

// Every event of boost::json::basic_parser, accepted and ignored. Handlers derive from it and
// declare the events they need (name lookup finds theirs first).
struct JsonSaxEvents {
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);

  bool on_document_begin(boost::system::error_code&) { return true; }
  bool on_document_end(boost::system::error_code&) { return true; }
  bool on_object_begin(boost::system::error_code&) { return true; }
  bool on_object_end(std::size_t, boost::system::error_code&) { return true; }
  bool on_array_begin(boost::system::error_code&) { return true; }
  bool on_array_end(std::size_t, boost::system::error_code&) { return true; }
  bool on_key_part(boost::json::string_view, std::size_t, boost::system::error_code&) { return true; }
  bool on_key(boost::json::string_view, std::size_t, boost::system::error_code&) { return true; }
  bool on_string_part(boost::json::string_view, std::size_t, boost::system::error_code&) { return true; }
  bool on_string(boost::json::string_view, std::size_t, boost::system::error_code&) { return true; }
  bool on_number_part(boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_int64(std::int64_t, boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_uint64(std::uint64_t, boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_double(double, boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_bool(bool, boost::system::error_code&) { return true; }
  bool on_null(boost::system::error_code&) { return true; }
  bool on_comment_part(boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_comment(boost::json::string_view, boost::system::error_code&) { return true; }
};

// Counts the objects and arrays open (`depth`): 1 inside the outermost object.
struct JsonSaxNesting : JsonSaxEvents {
  int depth = 0;

  bool on_object_begin(boost::system::error_code&) {
    ++depth;
    return true;
  }
  bool on_object_end(std::size_t, boost::system::error_code&) {
    --depth;
    return true;
  }
  bool on_array_begin(boost::system::error_code&) {
    ++depth;
    return true;
  }
  bool on_array_end(std::size_t, boost::system::error_code&) {
    --depth;
    return true;
  }
};

// Stops the parse (a syntax error) at the first key an object repeats, at any depth.
struct JsonDuplicateKeyFinder : JsonSaxNesting {
  std::vector<std::set<std::string>> objects;
  std::string key;
  bool found = false;
  std::string duplicate;      // the repeated key, when found
  std::string top_level_key;  // the last key of the outermost object (whose value may be bad)

  bool on_object_begin(boost::system::error_code& ec) {
    objects.emplace_back();
    return JsonSaxNesting::on_object_begin(ec);
  }
  bool on_object_end(std::size_t size, boost::system::error_code& ec) {
    objects.pop_back();
    return JsonSaxNesting::on_object_end(size, ec);
  }
  bool on_key_part(boost::json::string_view s, std::size_t, boost::system::error_code&) {
    key.append(s.data(), s.size());
    return true;
  }
  bool on_key(boost::json::string_view s, std::size_t, boost::system::error_code& ec) {
    key.append(s.data(), s.size());
    if (!objects.back().insert(key).second) {
      found = true;
      duplicate = key;
      ec = boost::json::error::syntax;  // stop parsing
      key.clear();
      return false;
    }
    if (objects.size() == 1) top_level_key = key;
    key.clear();
    return true;
  }
};

// Counts the keys of the outermost object, repeats included, without allocating.
struct JsonTopLevelKeyCounter : JsonSaxNesting {
  std::size_t count = 0;

  bool on_key(boost::json::string_view, std::size_t, boost::system::error_code&) {
    if (depth == 1) ++count;
    return true;
  }
};

}  // namespace ticketing::support
