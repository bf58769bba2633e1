// The connection and stream caps fitted to the open-file limit (app/connection_limits.hpp).
#include "app/connection_limits.hpp"

#include <gtest/gtest.h>

using namespace ticketing::app;

TEST(ConnectionLimits, AStreamCapAboveTheOpenFileLimitIsLoweredBelowIt) {
  // This machine: 20,000 descriptors, the defaults 50,000 connections and 20,000 streams. The stream
  // cap must be reachable (a 503), with room left for ordinary calls.
  const auto fitted = fit_to_open_files(50'000, 20'000, 20'000);
  EXPECT_EQ(fitted.connections, 20'000 - kReservedDescriptors);
  EXPECT_LT(fitted.max_streams, fitted.connections);
  EXPECT_EQ(fitted.max_streams, fitted.connections - fitted.connections / 10);
}

TEST(ConnectionLimits, CapsThatFitAreKept) {
  const auto fitted = fit_to_open_files(50'000, 20'000, 1'048'576);
  EXPECT_EQ(fitted.connections, 50'000);
  EXPECT_EQ(fitted.max_streams, 20'000);
  const auto unknown = fit_to_open_files(50'000, 20'000, 0);
  EXPECT_EQ(unknown.connections, 50'000);
  EXPECT_EQ(unknown.max_streams, 20'000);
  const auto small = fit_to_open_files(100, 10, 20'000);  // an operator's own low caps
  EXPECT_EQ(small.connections, 100);
  EXPECT_EQ(small.max_streams, 10);
  const auto as_many = fit_to_open_files(100, 100, 20'000);  // streams as many as connections: nine tenths
  EXPECT_EQ(as_many.max_streams, 90);
}

TEST(ConnectionLimits, ATinyLimitStillLeavesOneOfEach) {
  const auto fitted = fit_to_open_files(50'000, 20'000, 300);
  EXPECT_EQ(fitted.connections, 300 - kReservedDescriptors);
  EXPECT_EQ(fitted.max_streams, 40);  // nine tenths of 44
  const auto none = fit_to_open_files(50'000, 20'000, 10);
  EXPECT_EQ(none.connections, 1);
  EXPECT_EQ(none.max_streams, 1);
}
