#include "api/identity.hpp"

#include <fmt/format.h>
#include <strings.h>

#include "domain/errors.hpp"

namespace ticketing::api {

namespace {

// A credential header: nullptr when absent; two of them (which one would name the caller?) are 401.
const std::string* credential_header(const ApiRequest& request, const char* name) {
  const std::string* found = nullptr;
  for (const auto& header : request.headers) {
    if (strcasecmp(header.name.c_str(), name) != 0) continue;
    if (found != nullptr) {
      throw domain::DomainError(domain::ErrorCode::kUnauthenticated, fmt::format("more than one {} header", name));
    }
    found = &header.value;
  }
  return found;
}

}  // namespace

std::optional<std::string> bearer_token(const ApiRequest& request) {
  const std::string* header = credential_header(request, "Authorization");
  if (header == nullptr) return std::nullopt;
  std::string_view value = *header;
  constexpr std::string_view kScheme = "bearer ";
  if (value.size() <= kScheme.size() || strncasecmp(value.data(), kScheme.data(), kScheme.size()) != 0) {
    return std::nullopt;
  }
  value.remove_prefix(kScheme.size());
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  return std::string(value);
}

const domain::Principal& principal_of(const ApiRequest& request) {
  if (!request.principal) throw domain::DomainError(domain::ErrorCode::kUnauthenticated, "sign in first");
  return *request.principal;
}

std::optional<std::string> queue_token(const ApiRequest& request) {
  const std::string* header = credential_header(request, "Queue-Token");
  if (header == nullptr) return std::nullopt;
  std::string_view value = *header;
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  return std::string(value);
}

std::optional<std::string> cookie(const ApiRequest& request, std::string_view name) {
  for (const auto& header : request.headers) {
    if (strcasecmp(header.name.c_str(), "Cookie") != 0) continue;
    std::string_view rest = header.value;
    while (!rest.empty()) {
      const auto semi = rest.find(';');
      std::string_view pair = rest.substr(0, semi);
      rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
      while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
      const auto eq = pair.find('=');
      if (eq == std::string_view::npos || pair.substr(0, eq) != name) continue;
      std::string_view value = pair.substr(eq + 1);
      while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
      return std::string(value);
    }
  }
  return std::nullopt;
}

}  // namespace ticketing::api
