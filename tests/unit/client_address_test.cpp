// Which address the per-address limits count a request against (infra::http::client_address).
#include <gtest/gtest.h>

#include "infra/http/http_server.hpp"

using ticketing::infra::http::client_address;

TEST(ClientAddress, IsThePeerUnlessThePeerIsATrustedProxy) {
  const std::vector<std::string> proxies{"10.0.0.5"};
  const std::string forwarded = "203.0.113.7";
  EXPECT_EQ(client_address("198.51.100.1", &forwarded, proxies), "198.51.100.1") << "a client cannot claim an address";
  EXPECT_EQ(client_address("198.51.100.1", &forwarded, {}), "198.51.100.1");
  EXPECT_EQ(client_address("10.0.0.5", &forwarded, proxies), "203.0.113.7");
  EXPECT_EQ(client_address("10.0.0.5", nullptr, proxies), "10.0.0.5");
}

TEST(ClientAddress, TakesTheAddressTheProxyAppendedNotWhatTheClientSent) {
  const std::vector<std::string> proxies{"10.0.0.5"};
  const std::string spoofed = "1.2.3.4, 203.0.113.7";
  EXPECT_EQ(client_address("10.0.0.5", &spoofed, proxies), "203.0.113.7");
  const std::string empty_last = "1.2.3.4,  ";
  EXPECT_EQ(client_address("10.0.0.5", &empty_last, proxies), "10.0.0.5");
  const std::string huge(200, '9');
  EXPECT_EQ(client_address("10.0.0.5", &huge, proxies), "10.0.0.5");
}
