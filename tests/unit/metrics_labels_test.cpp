// Labels of http_server_requests_seconds stay bounded whatever the caller passes as the method.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "infra/observability/metrics.hpp"

using ticketing::infra::observability::Metrics;

TEST(MetricsLabels, UnknownMethodsShareTheOtherSeries) {
  Metrics metrics;
  for (const char* method : {"FOOBAR1", "FOOBAR2", "XYZ", "get", "OTHER"}) {
    metrics.observe_request(method, "/concerts", 501, std::chrono::milliseconds(1));
  }
  metrics.observe_request("GET", "/concerts", 200, std::chrono::milliseconds(1));
  const std::string text = metrics.scrape();
  for (const char* sent : {"FOOBAR", "XYZ", "method=\"get\""}) EXPECT_EQ(text.find(sent), std::string::npos) << sent;
  EXPECT_NE(text.find(R"(http_server_requests_seconds_count{method="OTHER",status="501",uri="/concerts"} 5)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(http_server_requests_seconds_count{method="GET",status="200",uri="/concerts"} 1)"),
            std::string::npos)
      << text;
}
