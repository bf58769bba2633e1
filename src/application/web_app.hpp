#pragma once
// The built web app (DESIGN.md §13), held in memory: index.html plus content-hashed assets, a few
// hundred KiB read once at start (infra/web loads it). Lookups are the whole "service".
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace ticketing::application {

struct WebFile {
  std::string body;
  std::string content_type;
  std::string etag;        // strong validator, quoted; from the content
  bool immutable = false;  // content-hashed name: cacheable forever
};

// The languages the app speaks (DESIGN.md §13), as `<html lang>` values.
enum class PageLanguage { kEnglish, kKorean };
std::string_view to_string(PageLanguage language) noexcept;

// The language of an Accept-Language header (RFC 9110 §12.5.4): the range with the highest q that
// names Korean ("ko", "ko-KR") or English ("en", "en-GB", "*"); the earlier one on a tie; English
// when none does, when the header is absent or unreadable.
PageLanguage preferred_language(std::string_view accept_language) noexcept;

class WebApp {
 public:
  static constexpr std::string_view kIndexPage = "index.html";

  // `path` relative to the app's root with '/' separators, e.g. "assets/app-3F2A.js".
  void add(std::string path, std::string body);
  // The file at `path`, or nullptr. Never resolves "..": only the exact names added exist.
  const WebFile* file(std::string_view path) const;
  const WebFile* index_page() const { return file(kIndexPage); }
  // index.html with `<html lang="…">` set to `language` (its own ETag), so the app starts in the
  // language the browser asks for; the app's own switch overrides it. The page as built when it
  // has no `<html lang="en">` to set.
  const WebFile* index_page(PageLanguage language) const;
  bool empty() const noexcept { return files_.empty(); }
  std::size_t size() const noexcept { return files_.size(); }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view text) const noexcept { return std::hash<std::string_view>{}(text); }
  };
  std::unordered_map<std::string, WebFile, Hash, std::equal_to<>> files_;
  std::optional<WebFile> korean_index_;
};

// The Content-Type for a file name, by extension; application/octet-stream when unknown.
std::string_view content_type_for(std::string_view path) noexcept;

}  // namespace ticketing::application
