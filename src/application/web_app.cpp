#include "application/web_app.hpp"

#include <fmt/format.h>

#include <array>
#include <cstdint>
#include <utility>

namespace ticketing::application {
namespace {

bool ends_with(std::string_view text, std::string_view suffix) noexcept {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// FNV-1a 64: a content fingerprint for ETag, not a security boundary.
std::uint64_t fingerprint(std::string_view bytes) noexcept {
  std::uint64_t hash = 14695981039346656037ULL;
  for (const unsigned char c : bytes) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  return hash;
}

}  // namespace

std::string_view content_type_for(std::string_view path) noexcept {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 12> kTypes{{
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".ico", "image/x-icon"},
      {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"},
  }};
  for (const auto& [extension, type] : kTypes) {
    if (ends_with(path, extension)) return type;
  }
  return "application/octet-stream";
}

void WebApp::add(std::string path, std::string body) {
  WebFile file;
  file.content_type = std::string(content_type_for(path));
  file.etag = fmt::format("\"{:016x}-{:x}\"", fingerprint(body), body.size());
  // build.mjs puts every content-hashed file under assets/; index.html keeps its name and changes.
  file.immutable = path.starts_with("assets/");
  file.body = std::move(body);
  files_.insert_or_assign(std::move(path), std::move(file));
}

const WebFile* WebApp::file(std::string_view path) const {
  const auto found = files_.find(path);
  return found == files_.end() ? nullptr : &found->second;
}

}  // namespace ticketing::application
