// The web app's file table and the dispatcher's page rule (DESIGN.md §13).
#include "application/web_app.hpp"

#include <gtest/gtest.h>

#include "api/dispatcher.hpp"

using namespace ticketing;

TEST(WebAppFiles, HashedAssetsAreImmutableAndTheIndexIsNot) {
  application::WebApp app;
  app.add("index.html", "<html>");
  app.add("assets/app-1A2B.js", "x");
  ASSERT_NE(app.index_page(), nullptr);
  EXPECT_FALSE(app.index_page()->immutable);
  EXPECT_EQ(app.index_page()->content_type, "text/html; charset=utf-8");
  ASSERT_NE(app.file("assets/app-1A2B.js"), nullptr);
  EXPECT_TRUE(app.file("assets/app-1A2B.js")->immutable);
  EXPECT_EQ(app.file("assets/app-1A2B.js")->content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(app.file("assets/../index.html"), nullptr);
  EXPECT_EQ(app.file("/index.html"), nullptr);
}

TEST(WebAppFiles, EtagFollowsTheContent) {
  application::WebApp a;
  application::WebApp b;
  a.add("index.html", "one");
  b.add("index.html", "two");
  EXPECT_NE(a.index_page()->etag, b.index_page()->etag);
  EXPECT_EQ(a.index_page()->etag.front(), '"');
  EXPECT_EQ(application::content_type_for("x.css"), "text/css; charset=utf-8");
  EXPECT_EQ(application::content_type_for("x.unknown"), "application/octet-stream");
}

// DESIGN.md §13: the language is chosen from Accept-Language (then switchable in the app).
TEST(WebAppLanguage, TheHighestQualityKoreanOrEnglishRangeWins) {
  using application::PageLanguage;
  using application::preferred_language;
  struct Case {
    const char* header;
    PageLanguage expected;
  };
  for (const auto& c : std::vector<Case>{
           {"", PageLanguage::kEnglish},
           {"ko", PageLanguage::kKorean},
           {"ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7", PageLanguage::kKorean},  // Chrome in Korean
           {"en-US,en;q=0.9,ko;q=0.8", PageLanguage::kEnglish},
           {"en;q=0.5, KO-kr;q=0.8", PageLanguage::kKorean},
           {"fr-FR,fr;q=0.9", PageLanguage::kEnglish},    // neither: English
           {"fr, ko;q=0.3", PageLanguage::kKorean},       // Korean over nothing
           {"ko;q=0, en;q=0.1", PageLanguage::kEnglish},  // q=0: not acceptable
           {"ko;q=0", PageLanguage::kEnglish},
           {"en, ko", PageLanguage::kEnglish},  // a tie: the earlier one
           {"ko, en", PageLanguage::kKorean},
           {"*;q=0.9, ko;q=0.5", PageLanguage::kEnglish},      // * stands for the default
           {"ko;q=1.0001, en;q=0.2", PageLanguage::kEnglish},  // unreadable q: skipped
           {"ko;q=abc", PageLanguage::kEnglish},
           {"kor, english", PageLanguage::kEnglish},  // not ranges of these languages
           {",,;;,ko-KR;q=0.7,", PageLanguage::kKorean},
           {"en;q=0, *", PageLanguage::kKorean},  // * is anything not named
           {"*;q=0.5, en;q=0", PageLanguage::kKorean},
           {"ko;q=0, *", PageLanguage::kEnglish},
           {"*", PageLanguage::kEnglish},                                  // a tie: English, the default
           {"en-US;q=0.2, ko-KR;q=0.5, ko;q=0.1", PageLanguage::kKorean},  // a language's best range
       }) {
    EXPECT_EQ(preferred_language(c.header), c.expected) << "'" << c.header << "'";
  }
}

TEST(WebAppLanguage, TheKoreanPageDiffersOnlyInItsLangAndEtag) {
  application::WebApp app;
  app.add("index.html", R"(<!doctype html><html lang="en"><head></head></html>)");
  const auto* english = app.index_page(application::PageLanguage::kEnglish);
  const auto* korean = app.index_page(application::PageLanguage::kKorean);
  ASSERT_NE(english, nullptr);
  ASSERT_NE(korean, nullptr);
  EXPECT_EQ(english, app.index_page());
  EXPECT_EQ(korean->body, R"(<!doctype html><html lang="ko"><head></head></html>)");
  EXPECT_NE(korean->etag, english->etag);
  EXPECT_EQ(korean->content_type, english->content_type);
  EXPECT_FALSE(korean->immutable);
  // A page without the literal to set is served as built, in either language.
  app.add("index.html", "<html>");
  EXPECT_EQ(app.index_page(application::PageLanguage::kKorean), app.index_page());
}

namespace {
api::ApiRequest request(web::Method method, std::string path, std::vector<web::Header> headers) {
  api::ApiRequest r;
  r.method = method;
  r.path = std::move(path);
  r.headers = std::move(headers);
  return r;
}
}  // namespace

TEST(WebAppPages, OnlyBrowserPageLoadsGetThePage) {
  using web::Method;
  const web::Header html{"Accept", "text/html,*/*"};
  const web::Header navigate{"Sec-Fetch-Mode", "navigate"};
  // Unknown path: any GET/HEAD that accepts HTML.
  EXPECT_TRUE(api::wants_page(request(Method::kGet, "/shows/1", {html}), false));
  EXPECT_TRUE(api::wants_page(request(Method::kHead, "/shows/1", {html}), false));
  EXPECT_FALSE(api::wants_page(request(Method::kGet, "/shows/1", {}), false));
  EXPECT_FALSE(api::wants_page(request(Method::kGet, "/shows/1", {{"Accept", "application/json"}}), false));
  EXPECT_FALSE(api::wants_page(request(Method::kPost, "/shows/1", {html}), false));
  // A path the API serves: only a top-level navigation.
  EXPECT_FALSE(api::wants_page(request(Method::kGet, "/me/tickets", {html}), true));
  EXPECT_FALSE(api::wants_page(request(Method::kGet, "/me/tickets", {html, {"Sec-Fetch-Mode", "cors"}}), true));
  EXPECT_TRUE(api::wants_page(request(Method::kGet, "/me/tickets", {html, navigate}), true));
  EXPECT_FALSE(api::wants_page(request(Method::kGet, "/me/tickets", {navigate}), true));
  // Never for the operators' endpoints or missing assets.
  EXPECT_FALSE(api::wants_page(request(Method::kGet, "/actuator/health", {html, navigate}), true));
  EXPECT_FALSE(api::wants_page(request(Method::kGet, "/assets/app-0000.js", {html, navigate}), false));
}
