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

TEST(ClientAddress, ProxiesAreComparedAsAddressesAndEntriesMustBeAddresses) {
  const std::vector<std::string> proxies{"2001:DB8::5", "10.0.0.5"};
  const std::string forwarded = "203.0.113.7";
  EXPECT_EQ(client_address("2001:db8::5", &forwarded, proxies), "203.0.113.7") << "spelled differently";
  EXPECT_EQ(client_address("::ffff:10.0.0.5", &forwarded, proxies), "203.0.113.7") << "IPv4-mapped peer";
  const std::string with_port = "203.0.113.7:4711";
  EXPECT_EQ(client_address("10.0.0.5", &with_port, proxies), "10.0.0.5") << "not an address: the proxy counts";
  const std::string name = "client.example.com";
  EXPECT_EQ(client_address("10.0.0.5", &name, proxies), "10.0.0.5");
}

TEST(ClientAddress, IPv6CountsByItsSlash64) {
  EXPECT_EQ(client_address("2001:db8:1:2:aaaa:bbbb:cccc:dddd", nullptr, {}), "2001:db8:1:2::/64");
  EXPECT_EQ(client_address("2001:db8:1:2::1", nullptr, {}), client_address("2001:db8:1:2:ffff::9", nullptr, {}));
  EXPECT_NE(client_address("2001:db8:1:2::1", nullptr, {}), client_address("2001:db8:1:3::1", nullptr, {}));
  EXPECT_EQ(client_address("::ffff:192.0.2.1", nullptr, {}), "192.0.2.1");
  const std::vector<std::string> proxies{"10.0.0.5"};
  const std::string forwarded = "198.51.100.1, 2001:db8:9:9::42";
  EXPECT_EQ(client_address("10.0.0.5", &forwarded, proxies), "2001:db8:9:9::/64");
}
