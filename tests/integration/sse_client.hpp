#pragma once
// A raw-socket Server-Sent Events client for the live seat map stream tests (integration and
// cluster): the response header, then one event at a time; and applying events to a seat map.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "support.hpp"

namespace ticketing::testing {

struct SseEvent {
  std::string event;
  std::int64_t id = -1;
  std::string data;
};

// A raw-socket SSE client: sends the GET, parses the response header, then hands out events one by
// one (comments are counted, not returned).
class SseClient {
 public:
  SseClient(std::uint16_t port, const std::string& target, const std::map<std::string, std::string>& headers = {}) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
      throw std::runtime_error("connect failed");
    std::string request = "GET " + target + " HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n";
    for (const auto& [name, value] : headers) request += name + ": " + value + "\r\n";
    request += "\r\n";
    ::send(fd_, request.data(), request.size(), MSG_NOSIGNAL);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (buffer_.find("\r\n\r\n") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      if (!fill(deadline)) break;
    }
    const auto end = buffer_.find("\r\n\r\n");
    if (end == std::string::npos) throw std::runtime_error("no response header: " + buffer_);
    head_ = parse_response(buffer_.substr(0, end + 4));
    buffer_.erase(0, end + 4);
  }
  ~SseClient() { close(); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  const HttpResponse& head() const { return head_; }
  int status() const { return head_.status; }

  // The next event within `timeout`, nullopt when none came (or the server closed).
  std::optional<SseEvent> next(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      while (true) {
        const auto end = buffer_.find("\n\n");
        if (end == std::string::npos) break;
        const std::string block = buffer_.substr(0, end);
        buffer_.erase(0, end + 2);
        SseEvent event;
        bool any = false;
        std::size_t pos = 0;
        while (pos <= block.size()) {
          const auto eol = block.find('\n', pos);
          const std::string line = block.substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
          pos = eol == std::string::npos ? block.size() + 1 : eol + 1;
          if (line.starts_with(":")) {
            ++comments_;
          } else if (line.starts_with("id: ")) {
            event.id = std::stoll(line.substr(4));
            any = true;
          } else if (line.starts_with("event: ")) {
            event.event = line.substr(7);
            any = true;
          } else if (line.starts_with("data: ")) {
            event.data = line.substr(6);
            any = true;
          }
        }
        if (any) return event;
      }
      if (!fill(deadline)) return std::nullopt;
    }
  }
  // Every event arriving within `window`.
  std::vector<SseEvent> drain(std::chrono::milliseconds window) {
    std::vector<SseEvent> events;
    const auto deadline = std::chrono::steady_clock::now() + window;
    while (std::chrono::steady_clock::now() < deadline) {
      auto event =
          next(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()));
      if (!event) break;
      events.push_back(std::move(*event));
    }
    return events;
  }
  bool closed_by_server(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (!fill(deadline)) return eof_;
    }
    return eof_;
  }
  int comments() const { return comments_; }

 private:
  bool fill(std::chrono::steady_clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || fd_ < 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char chunk[65536];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  int fd_ = -1;
  std::string buffer_;
  HttpResponse head_;
  int comments_ = 0;
  bool eof_ = false;
};

using SeatMap = std::map<std::string, std::string>;

// Applies a snapshot or a delta to `map`; returns the event's version.
inline std::int64_t apply_event(SeatMap& map, const SseEvent& event) {
  const auto value = boost::json::parse(event.data).as_object();
  if (event.event == "snapshot") {
    map.clear();
    for (const auto& seat : value.at("seats").as_array()) {
      map[std::string(seat.at("seatNo").as_string())] = std::string(seat.at("status").as_string());
    }
  } else {
    for (const auto& change : value.at("changes").as_array()) {
      map[std::string(change.at("seatNo").as_string())] = std::string(change.at("status").as_string());
    }
  }
  return value.at("version").as_int64();
}

}  // namespace ticketing::testing
