// The web app's files and page fallback (DESIGN.md §13) and the mock gateway page's dev-only
// payment route (issue 15), against the real server.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <filesystem>
#include <fstream>

#include "support.hpp"

using namespace ticketing::testing;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

constexpr const char* kIndex = "<!doctype html><title>app</title><script type=module src=/assets/app-AB12.js></script>";
constexpr const char* kScript = "console.log('app');";

// A built web app in a fresh directory: index.html and one hashed asset.
class WebRoot {
 public:
  WebRoot() : dir_(fs::temp_directory_path() / fmt::format("web-app-test-{}", ::getpid())) {
    fs::create_directories(dir_ / "assets");
    std::ofstream(dir_ / "index.html") << kIndex;
    std::ofstream(dir_ / "assets" / "app-AB12.js") << kScript;
  }
  ~WebRoot() { fs::remove_all(dir_); }
  std::string path() const { return dir_.string(); }

 private:
  fs::path dir_;
};

const std::map<std::string, std::string> kPageLoad{{"Accept", "text/html,application/xhtml+xml,*/*;q=0.8"},
                                                   {"Sec-Fetch-Mode", "navigate"}};

bool is_json_error(const HttpResponse& response, int status) {
  return response.status == status && response.header("content-type").starts_with("application/json") &&
         json::parse(response.body).as_object().contains("code");
}

}  // namespace

TEST(WebApp, ServesIndexUncachedAndHashedAssetsImmutableUnderAStrictPolicy) {
  WebRoot root;
  TestServer server({"web.root=" + root.path()});
  const auto index = http(server.port(), "GET", "/");
  ASSERT_EQ(index.status, 200) << index.raw;
  EXPECT_EQ(index.body, kIndex);
  EXPECT_TRUE(index.header("content-type").starts_with("text/html"));
  EXPECT_EQ(index.header("cache-control"), "no-cache");
  EXPECT_TRUE(index.header("content-security-policy").starts_with("default-src 'self'"));
  EXPECT_NE(index.header("content-security-policy").find("frame-ancestors 'none'"), std::string::npos);

  const auto asset = http(server.port(), "GET", "/assets/app-AB12.js");
  ASSERT_EQ(asset.status, 200);
  EXPECT_EQ(asset.body, kScript);
  EXPECT_TRUE(asset.header("content-type").starts_with("text/javascript"));
  EXPECT_NE(asset.header("cache-control").find("immutable"), std::string::npos);
  EXPECT_EQ(asset.header("x-content-type-options"), "nosniff");

  // Revalidation: the same ETag answers 304 without a body; HEAD gives the headers only.
  const auto etag = index.header("etag");
  ASSERT_FALSE(etag.empty());
  const auto again = http(server.port(), "GET", "/", "", {{"If-None-Match", etag}});
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
  EXPECT_EQ(again.headers.count("content-length"), 0u) << again.raw;  // not the 0 of an empty body
  EXPECT_EQ(http(server.port(), "GET", "/", "", {{"If-None-Match", "\"other\""}}).status, 200);
  const auto head = http(server.port(), "HEAD", "/assets/app-AB12.js");
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());

  // Only the files that were built exist: no traversal, no directory listing.
  EXPECT_TRUE(is_json_error(http(server.port(), "GET", "/assets/app-ZZZZ.js"), 404));
  EXPECT_TRUE(is_json_error(http(server.port(), "GET", "/assets/..%2Findex.html"), 404));
  EXPECT_TRUE(is_json_error(http(server.port(), "GET", "/assets/"), 404));
}

TEST(WebApp, BrowserPageLoadsGetTheAppWhileApiClientsKeepTheirJson) {
  WebRoot root;
  TestServer server({"web.root=" + root.path()});
  // An app route the API does not know: the page for a browser, the JSON 404 for anyone else.
  const auto page = http(server.port(), "GET", "/schedules/1/queue", "", {{"Accept", "text/html"}});
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.body, kIndex);
  EXPECT_TRUE(is_json_error(http(server.port(), "GET", "/schedules/1/queue"), 404));
  EXPECT_TRUE(
      is_json_error(http(server.port(), "GET", "/schedules/1/queue", "", {{"Accept", "application/json"}}), 404));
  EXPECT_TRUE(is_json_error(http(server.port(), "POST", "/schedules/1/queue", "", {{"Accept", "text/html"}}), 404));

  // An app page that shares its path with an API route: reloading it in the browser (a top-level
  // navigation) gets the page; fetch() from the app gets the JSON, without a token a 401.
  const auto reload = http(server.port(), "GET", "/me/tickets", "", kPageLoad);
  EXPECT_EQ(reload.status, 200);
  EXPECT_EQ(reload.body, kIndex);
  EXPECT_EQ(reload.header("vary"), "Accept, Sec-Fetch-Mode, Accept-Language");
  EXPECT_TRUE(is_json_error(http(server.port(), "GET", "/me/reservations", "", {{"Accept", "text/html"}}), 401));
  EXPECT_TRUE(is_json_error(http(server.port(), "GET", "/me/reservations", "", {{"Accept", "*/*"}}), 401));
  // Operators' endpoints never turn into the page.
  const auto health = http(server.port(), "GET", "/actuator/health", "", kPageLoad);
  EXPECT_TRUE(health.header("content-type").starts_with("application/json")) << health.raw;
}

// DESIGN.md §13: the app starts in the language Accept-Language asks for; the page names it in
// <html lang>, each language with its own ETag, and caches are told the answer varies by it.
TEST(WebApp, ThePageComesInTheLanguageTheBrowserAsksFor) {
  WebRoot root;
  constexpr const char* kLocalized = R"(<!doctype html><html lang="en"><title>app</title></html>)";
  std::ofstream(fs::path(root.path()) / "index.html") << kLocalized;
  TestServer server({"web.root=" + root.path()});
  const auto english = http(server.port(), "GET", "/", "", {{"Accept-Language", "en-US,en;q=0.9"}});
  ASSERT_EQ(english.status, 200) << english.raw;
  EXPECT_EQ(english.body, kLocalized);
  EXPECT_EQ(english.header("vary"), "Accept-Language");
  const auto korean = http(server.port(), "GET", "/", "", {{"Accept-Language", "ko-KR,ko;q=0.9,en-US;q=0.8"}});
  ASSERT_EQ(korean.status, 200) << korean.raw;
  EXPECT_EQ(korean.body, R"(<!doctype html><html lang="ko"><title>app</title></html>)");
  EXPECT_NE(korean.header("etag"), english.header("etag"));
  EXPECT_EQ(http(server.port(), "GET", "/").body, kLocalized);  // no header: English
  // Two header lines are one list: the second line's Korean outranks the first's English.
  const auto two_lines = raw_exchange(server.port(),
                                      "GET / HTTP/1.1\r\nHost: x\r\nAccept-Language: en;q=0.5\r\n"
                                      "Accept-Language: ko\r\nConnection: close\r\n\r\n");
  EXPECT_NE(two_lines.find(R"(<html lang="ko">)"), std::string::npos) << two_lines;

  // Revalidation is per language: the Korean ETag is current for a Korean request only.
  const std::map<std::string, std::string> korean_again{{"Accept-Language", "ko"},
                                                        {"If-None-Match", korean.header("etag")}};
  EXPECT_EQ(http(server.port(), "GET", "/", "", korean_again).status, 304);
  EXPECT_EQ(http(server.port(), "GET", "/", "", {{"If-None-Match", korean.header("etag")}}).status, 200);

  // An app page loaded in the browser (not "/"): the same choice.
  auto page_load = kPageLoad;
  page_load["Accept-Language"] = "ko";
  const auto seats = http(server.port(), "GET", "/schedules/1/seats", "", page_load);
  ASSERT_EQ(seats.status, 200) << seats.raw;
  EXPECT_NE(seats.body.find(R"(<html lang="ko">)"), std::string::npos);
  EXPECT_EQ(seats.header("vary"), "Accept, Sec-Fetch-Mode, Accept-Language");
}

TEST(WebApp, WithoutABuiltAppTheApiIsServedAndPagesAreJson404) {
  TestServer server({"web.root=" + (fs::temp_directory_path() / "no-such-web-root").string()});
  EXPECT_TRUE(is_json_error(http(server.port(), "GET", "/"), 404));
  EXPECT_TRUE(is_json_error(http(server.port(), "GET", "/schedules/1/queue", "", {{"Accept", "text/html"}}), 404));
  EXPECT_EQ(http(server.port(), "GET", "/concerts").status, 200);
}

// The mock gateway page's "Pay": only the order's owner, only with a token, once.
TEST(WebApp, MockGatewayPaysOnlyTheCallersOwnOrderOnce) {
  const auto schedule = create_schedule(-60, 10);
  TestServer server(kFastAdmission);
  const auto tokens = admit_users(server.port(), schedule, 41, 1);
  ASSERT_EQ(seat_call(server.port(), "/tickets/hold", tokens.at(41), 41, schedule, {"S-1"}).status, 200);
  const auto ready = seat_call(server.port(), "/payment/ready", tokens.at(41), 41, schedule, {"S-1"},
                               {{"Idempotency-Key", fmt::format("mock-gateway-{}", schedule)}});
  ASSERT_EQ(ready.status, 201) << ready.raw;
  const std::string order_no(json::parse(ready.body).at("orderNo").as_string());
  const std::string body = fmt::format(R"({{"orderNo":"{}"}})", order_no);
  const std::map<std::string, std::string> json_type{{"Content-Type", "application/json"}};

  EXPECT_TRUE(is_json_error(http(server.port(), "POST", "/dev/gateway/pay", body, json_type), 401));
  EXPECT_TRUE(is_json_error(http(server.port(), "POST", "/dev/gateway/pay", body, as_user(42, json_type)), 404))
      << "someone else's order must look like no order";
  EXPECT_TRUE(is_json_error(
      http(server.port(), "POST", "/dev/gateway/pay", R"({"orderNo":"x y"})", as_user(41, json_type)), 400));
  EXPECT_TRUE(is_json_error(
      http(server.port(), "POST", "/dev/gateway/pay", R"({"orderNo":"1","userId":42})", as_user(41, json_type)), 400));

  const auto paid = http(server.port(), "POST", "/dev/gateway/pay", body, as_user(41, json_type));
  ASSERT_EQ(paid.status, 202) << paid.raw;
  EXPECT_EQ(json::parse(paid.body).at("status").as_string(), "CONFIRMING");
  const auto repeat = http(server.port(), "POST", "/dev/gateway/pay", body, as_user(41, json_type));
  EXPECT_EQ(repeat.status, 200) << repeat.raw;
  ASSERT_TRUE(wait_for(
      [&] {
        const auto order = http(server.port(), "GET", "/payment/" + order_no, "", as_user(41));
        return order.status == 200 && json::parse(order.body).at("status") == "PAID";
      },
      std::chrono::seconds(20)));
}

TEST(WebApp, MockGatewayRouteDoesNotExistWhenTurnedOff) {
  TestServer server({"payment.mock-gateway=false"});
  const auto response = http(server.port(), "POST", "/dev/gateway/pay", R"({"orderNo":"ABC"})",
                             as_user(41, {{"Content-Type", "application/json"}}));
  EXPECT_TRUE(is_json_error(response, 404)) << response.raw;
}
