#include "application/web_app.hpp"

#include <fmt/format.h>
#include <strings.h>

#include <array>
#include <cstdint>
#include <utility>

#include "support/etag.hpp"

namespace ticketing::application {
namespace {

bool ends_with(std::string_view text, std::string_view suffix) noexcept {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
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

std::string_view to_string(PageLanguage language) noexcept {
  return language == PageLanguage::kKorean ? "ko" : "en";
}

PageLanguage preferred_language(std::string_view accept_language) noexcept {
  const auto trim = [](std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
  };
  const auto is = [](std::string_view subtag, std::string_view language) {
    return subtag.size() == language.size() && strncasecmp(subtag.data(), language.data(), subtag.size()) == 0;
  };
  // q in thousandths: "1", "1.0", "0.8", "0.125"; -1 for anything else (the range is skipped).
  const auto quality = [](std::string_view q) -> int {
    if (q.empty() || q.size() > 5 || (q[0] != '0' && q[0] != '1')) return -1;
    int value = (q[0] - '0') * 1000;
    if (q.size() == 1) return value;
    if (q[1] != '.') return -1;
    int scale = 100;
    for (std::size_t i = 2; i < q.size(); ++i, scale /= 10) {
      if (q[i] < '0' || q[i] > '9') return -1;
      value += (q[i] - '0') * scale;
    }
    return value > 1000 ? -1 : value;
  };
  // The best q each of English, Korean and "*" is given, and where it was first given (ties go to
  // the earlier range). A language named explicitly is not covered by "*" (RFC 4647 §2.3): so
  // "en;q=0, *" means anything but English.
  struct Weight {
    int q = -1;  // -1: not named
    std::size_t at = 0;
  };
  Weight english, korean, any;
  std::size_t index = 0;
  std::size_t start = 0;
  while (start <= accept_language.size()) {
    auto end = accept_language.find(',', start);
    if (end == std::string_view::npos) end = accept_language.size();
    std::string_view item = accept_language.substr(start, end - start);
    start = end + 1;
    int q = 1000;
    if (const auto semicolon = item.find(';'); semicolon != std::string_view::npos) {
      const auto parameter = trim(item.substr(semicolon + 1));
      item = item.substr(0, semicolon);
      q = parameter.size() > 2 && (parameter[0] == 'q' || parameter[0] == 'Q') && parameter[1] == '='
              ? quality(parameter.substr(2))
              : -1;
    }
    item = trim(item);
    if (q < 0 || item.empty()) continue;
    const auto primary = item.substr(0, item.find('-'));
    Weight* weight = nullptr;
    if (is(primary, "en")) weight = &english;
    if (is(primary, "ko")) weight = &korean;
    if (item == "*") weight = &any;
    ++index;
    if (weight != nullptr && q > weight->q) *weight = {q, weight->q < 0 ? index : weight->at};
  }
  if (english.q < 0) english = any;
  if (korean.q < 0) korean = any;
  if (korean.q > 0 && (korean.q > english.q || (korean.q == english.q && korean.at < english.at))) {
    return PageLanguage::kKorean;
  }
  return PageLanguage::kEnglish;
}

void WebApp::add(std::string path, std::string body) {
  WebFile file;
  file.content_type = std::string(content_type_for(path));
  file.etag = support::etag_of(body);
  // build.mjs puts every content-hashed file under assets/; index.html keeps its name and changes.
  file.immutable = path.starts_with("assets/");
  file.body = std::move(body);
  if (path == kIndexPage) {
    korean_index_.reset();
    constexpr std::string_view kEnglishRoot = "<html lang=\"en\">";
    if (const auto at = file.body.find(kEnglishRoot); at != std::string::npos) {
      WebFile korean = file;
      korean.body.replace(at, kEnglishRoot.size(), "<html lang=\"ko\">");
      korean.etag = support::etag_of(korean.body);
      korean_index_ = std::move(korean);
    }
  }
  files_.insert_or_assign(std::move(path), std::move(file));
}

const WebFile* WebApp::index_page(PageLanguage language) const {
  if (language == PageLanguage::kKorean && korean_index_) return &*korean_index_;
  return index_page();
}

const WebFile* WebApp::file(std::string_view path) const {
  const auto found = files_.find(path);
  return found == files_.end() ? nullptr : &found->second;
}

}  // namespace ticketing::application
