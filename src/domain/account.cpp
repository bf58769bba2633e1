#include "domain/account.hpp"

#include <algorithm>
#include <vector>

#include "domain/errors.hpp"

namespace ticketing::domain {
namespace {

std::string_view trim(std::string_view text) {
  constexpr std::string_view kSpace = " \t\r\n";
  const auto first = text.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(kSpace);
  return text.substr(first, last - first + 1);
}

bool is_email_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '%' || c == '+' || c == '-' ||
         c == '\'';
}

bool is_domain_label_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

}  // namespace

bool is_clean_text(std::string_view text, bool multiline) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      if ((c < 0x20 && !(multiline && (c == '\n' || c == '\r' || c == '\t'))) || c == 0x7f) return false;
      ++i;
      continue;
    }
    int extra = 0;
    std::uint32_t code = 0;
    if ((c & 0xE0) == 0xC0) {
      extra = 1;
      code = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      code = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      code = c & 0x07;
    } else {
      return false;
    }
    if (i + static_cast<std::size_t>(extra) >= text.size()) return false;
    for (int k = 1; k <= extra; ++k) {
      const auto next = static_cast<unsigned char>(text[i + static_cast<std::size_t>(k)]);
      if ((next & 0xC0) != 0x80) return false;
      code = (code << 6) | (next & 0x3F);
    }
    static constexpr std::uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (code < kMin[extra] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return false;
    if (code >= 0x80 && code < 0xA0) return false;  // C1 controls
    // Line and paragraph separators, and the bidirectional embeddings, overrides and isolates: a
    // name shown in the console or on a ticket must not break lines or reorder the text after it
    // ("Trojan Source"). The marks U+200E/U+200F, which right-to-left names need, stay allowed.
    if (code == 0x2028 || code == 0x2029 || (code >= 0x202A && code <= 0x202E) || (code >= 0x2066 && code <= 0x2069)) {
      return false;
    }
    i += static_cast<std::size_t>(extra) + 1;
  }
  return true;
}

std::string_view to_string(Role role) noexcept {
  return role == Role::kAdmin ? "ADMIN" : "FAN";
}

std::optional<Role> role_from(std::string_view text) noexcept {
  if (text == "FAN") return Role::kFan;
  if (text == "ADMIN") return Role::kAdmin;
  return std::nullopt;
}

std::string_view to_string(AccountStatus status) noexcept {
  return status == AccountStatus::kDisabled ? "DISABLED" : "ACTIVE";
}

std::optional<AccountStatus> account_status_from(std::string_view text) noexcept {
  if (text == "ACTIVE") return AccountStatus::kActive;
  if (text == "DISABLED") return AccountStatus::kDisabled;
  return std::nullopt;
}

std::optional<std::string> normalize_email(std::string_view raw) {
  const std::string_view trimmed = trim(raw);
  if (trimmed.empty() || trimmed.size() > kMaxEmailBytes) return std::nullopt;
  std::string email(trimmed);
  for (char& c : email) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  const auto at = email.find('@');
  if (at == std::string::npos || at == 0 || email.find('@', at + 1) != std::string::npos) return std::nullopt;
  const std::string_view local = std::string_view(email).substr(0, at);
  const std::string_view domain = std::string_view(email).substr(at + 1);
  if (local.size() > 64 || !std::all_of(local.begin(), local.end(), is_email_char)) return std::nullopt;
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos) return std::nullopt;
  // domain: labels of [a-z0-9-], not starting or ending with '-', at least two labels.
  if (domain.empty() || domain.find('.') == std::string_view::npos) return std::nullopt;
  std::size_t start = 0;
  while (start <= domain.size()) {
    const auto dot = std::min(domain.find('.', start), domain.size());
    const std::string_view label = domain.substr(start, dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-' ||
        !std::all_of(label.begin(), label.end(), is_domain_label_char)) {
      return std::nullopt;
    }
    start = dot + 1;
    if (dot == domain.size()) break;
  }
  return email;
}

std::optional<std::string> normalize_name(std::string_view raw) {
  const std::string_view trimmed = trim(raw);
  if (trimmed.empty() || trimmed.size() > kMaxNameBytes || !is_clean_text(trimmed)) return std::nullopt;
  return std::string(trimmed);
}

bool is_acceptable_password(std::string_view password) noexcept {
  return password.size() >= kMinPasswordBytes && password.size() <= kMaxPasswordBytes &&
         password.find('\0') == std::string_view::npos;
}

SignUpRequest validate_sign_up(std::string_view email, std::string_view password, std::string_view name,
                               std::vector<FieldError> read_errors) {
  std::vector<FieldError> errors = std::move(read_errors);
  const auto problem = [&errors](std::string_view field, const char* reason) {
    const bool named = std::any_of(errors.begin(), errors.end(), [&](const FieldError& e) { return e.field == field; });
    if (!named) errors.push_back({std::string(field), reason});
  };
  auto normal_email = normalize_email(email);
  if (!normal_email) problem("email", "must be an email address like fan@example.com");
  if (password.size() < kMinPasswordBytes || password.size() > kMaxPasswordBytes) {
    problem("password", "must be 10 to 128 bytes");
  } else if (!is_acceptable_password(password)) {
    problem("password", "must not contain a NUL character");
  }
  auto normal_name = normalize_name(name);
  if (!normal_name) problem("name", "must be 1 to 100 bytes of text without control characters");
  if (!errors.empty()) {
    // Field names may come from the body (unknown keys): at most 64 bytes each, no control bytes
    // (a NUL would cut the message short), and no more than the 20 the body reader keeps.
    std::string message = "invalid sign-up:";
    for (std::size_t i = 0; i < errors.size() && i < 20; ++i) {
      message += ' ';
      for (const char c : std::string_view(errors[i].field).substr(0, 64)) {
        message += static_cast<unsigned char>(c) < 0x20 || c == 0x7F ? '?' : c;
      }
    }
    throw DomainError(ErrorCode::kInvalidArgument, std::move(message), std::move(errors));
  }
  return SignUpRequest{std::move(*normal_email), std::move(*normal_name), std::string(password)};
}

RefreshDecision decide_refresh(const RefreshTokenRow& row, Timestamp now) noexcept {
  if (row.revoked) return RefreshDecision::kRevoked;
  // Reuse is checked before expiry: a spent token presented again is a theft signal even late.
  if (row.spent) return RefreshDecision::kReuseDetected;
  if (now >= row.expires_at) return RefreshDecision::kExpired;
  return RefreshDecision::kRotate;
}

}  // namespace ticketing::domain
