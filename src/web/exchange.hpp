#pragma once
// Transport-neutral HTTP request and response: the contract between the Beast server
// (infra/http), which converts to and from these, and the routes (api), which never include Beast.
// A layer of its own so that neither of the two has to include the other (docs/architecture.md).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "domain/account.hpp"
#include "web/response_stream.hpp"

namespace ticketing::web {

enum class Method { kGet, kHead, kPost, kPut, kDelete, kPatch, kOptions, kOther };
std::string_view to_string(Method method) noexcept;

struct Header {
  std::string name;
  std::string value;
};

struct Request {
  Method method = Method::kGet;
  std::string method_text;  // as sent, for the access log
  std::string target;       // raw request target: path + query
  std::string path;         // target without the query
  std::string query;        // after '?', undecoded
  std::vector<Header> headers;
  std::string body;
  std::string request_id;
  std::string remote_address;
  // Filled by the router: `{name}` segments of the matched route template.
  std::vector<std::pair<std::string, std::string>> path_params;
  // Filled by the dispatcher from the access token on routes that need a signed-in caller.
  std::optional<domain::Principal> principal;

  // Case-insensitive; the first value, or nullptr.
  const std::string* header(std::string_view name) const;
  // How many fields named `name` (case-insensitive) the request carries.
  std::size_t header_count(std::string_view name) const;
  const std::string* path_param(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<Header> headers;  // extra headers (Allow, Retry-After, Location, ...)
  bool close_connection = false;
  // Set for a streamed body (web/response_stream.hpp): `body` is ignored, the server sends the
  // headers without a Content-Length and then whatever the stream writes, and closes the connection
  // when it ends.
  std::shared_ptr<ResponseStream> stream;
  // The answer to HEAD on a streamed route: the headers GET gets (no Content-Length, the
  // connection closed after), no body.
  bool head_of_stream = false;
};

}  // namespace ticketing::web
