#include "web/exchange.hpp"

#include <strings.h>

namespace ticketing::web {

std::string_view to_string(Method method) noexcept {
  switch (method) {
    case Method::kGet: return "GET";
    case Method::kHead: return "HEAD";
    case Method::kPost: return "POST";
    case Method::kPut: return "PUT";
    case Method::kDelete: return "DELETE";
    case Method::kPatch: return "PATCH";
    case Method::kOptions: return "OPTIONS";
    case Method::kOther: return "OTHER";
  }
  return "OTHER";
}

std::string_view to_string(StreamEnd end) noexcept {
  switch (end) {
    case StreamEnd::kFinished: return "finished";
    case StreamEnd::kClientGone: return "client-gone";
    case StreamEnd::kTooSlow: return "too-slow";
    case StreamEnd::kShutdown: return "shutdown";
  }
  return "finished";
}

const std::string* Request::header(std::string_view name) const {
  for (const auto& h : headers) {
    if (h.name.size() == name.size() && strncasecmp(h.name.data(), name.data(), name.size()) == 0) return &h.value;
  }
  return nullptr;
}

std::size_t Request::header_count(std::string_view name) const {
  std::size_t count = 0;
  for (const auto& h : headers) {
    if (h.name.size() == name.size() && strncasecmp(h.name.data(), name.data(), name.size()) == 0) ++count;
  }
  return count;
}

const std::string* Request::path_param(std::string_view name) const {
  for (const auto& [key, value] : path_params) {
    if (key == name) return &value;
  }
  return nullptr;
}

}  // namespace ticketing::web
