// Acceptance (issue 14): a killed broker during relay does not produce duplicate refund events beyond
// what the consumer dedupes. RefundRequested events (gateway payments of orders the service had
// already cancelled) are being relayed when the broker is killed with SIGKILL and started again.
// Afterwards every refund outbox row is published, and the refund topic carries exactly the refund
// rows' event ids: copies of one id may be there (consumers dedupe by eventId; the test prints how
// many), but no id is missing and no refund went out under a new id.
//
// The broker is this test's own (scripts/services with a private RUN_DIR and free ports), so the
// kill disturbs no other test and nobody else's broker on the shared port.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "infra/kafka/kafka_consumer.hpp"
#include "support.hpp"

using namespace ticketing;
using namespace ticketing::testing;
namespace fs = std::filesystem;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

namespace {

// A free port below the kernel's ephemeral range (other than `taken`). While the broker is dead the
// service's clients keep reconnecting to its port; were it an ephemeral port, one of those connects
// could get it as its own source port and connect to itself (TCP simultaneous open), and the
// restarted broker could not bind it.
// Whether a listener could bind 127.0.0.1:port now (nobody listens on it).
bool port_bindable(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // as the JVM's listener does
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return bound;
}

std::uint16_t free_port_below_ephemeral_range(std::uint16_t taken = 0) {
  int low = 32768;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> low;
  const int first = std::max(1024, low - 10000);
  for (int i = 0; i < 1000; ++i) {
    const auto port = static_cast<std::uint16_t>(first + (::getpid() * 37 + i * 97) % (low - first));
    if (port == taken) continue;
    if (port_bindable(port)) return port;
  }
  throw std::runtime_error("no free port below the ephemeral range");
}

// A single-node KRaft broker of this test alone, started by scripts/services in a scratch RUN_DIR on
// two free ports; stopped and deleted on destruction.
class PrivateKafka {
 public:
  PrivateKafka() {
    std::string pattern = (fs::temp_directory_path() / "ticketing-kafka-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    port_ = free_port_below_ephemeral_range();
    controller_port_ = free_port_below_ephemeral_range(port_);
    try {
      start();
    } catch (...) {
      remove();  // no destructor runs for a constructor that throws
      throw;
    }
  }
  // A failed test keeps the broker's directory (its log and data) for a look afterwards.
  ~PrivateKafka() {
    if (::testing::Test::HasFailure()) {
      std::fprintf(stderr, "private kafka kept for inspection: %s\n%s\n", dir_.c_str(), log_tail().c_str());
      services("stop kafka");
      return;
    }
    remove();
  }
  PrivateKafka(const PrivateKafka&) = delete;
  PrivateKafka& operator=(const PrivateKafka&) = delete;

  std::string bootstrap_servers() const { return fmt::format("127.0.0.1:{}", port_); }

  // Returns once the broker answers a metadata request (scripts/services waits for that).
  void start() {
    if (services("start kafka") != 0) throw std::runtime_error("private kafka did not start: " + log_tail());
  }

  // SIGKILL, as a crash: no controlled shutdown, no flush. Returns once the process is gone.
  void kill() {
    const pid_t pid = broker_pid();
    if (::kill(pid, SIGKILL) != 0) throw std::runtime_error(fmt::format("kill {} failed", pid));
    if (!wait_for([&] { return !alive(pid); }, std::chrono::seconds(10))) {
      throw std::runtime_error(fmt::format("kafka pid {} survived SIGKILL", pid));
    }
    // The JVM's main thread can show as a zombie while its other threads are still exiting with
    // the listening socket open (a CI run saw the restart refused: "port taken by a process that
    // is not ours"). Gone means the ports are free too.
    if (!wait_for([&] { return port_bindable(port_) && port_bindable(controller_port_); }, std::chrono::seconds(20))) {
      throw std::runtime_error(
          fmt::format("kafka's ports {}/{} stayed taken after pid {} died", port_, controller_port_, pid));
    }
  }

 private:
  void remove() {
    services("stop kafka");
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  static std::string script() {
    const char* root = std::getenv("TICKETING_TEST_ROOT");
    return std::string(root ? root : "..") + "/scripts/services";
  }

  int services(const std::string& arguments) const {
    const std::string command = fmt::format(
        "RUN_DIR='{0}' KAFKA_PORT={1} KAFKA_CONTROLLER_PORT={2} SCRIPTS_DEPS_CHECKED=1 '{3}' {4} "
        ">>'{0}/services.log' 2>&1",
        dir_.string(), port_, controller_port_, script(), arguments);
    return std::system(command.c_str());
  }

  pid_t broker_pid() const {
    std::ifstream in(dir_ / "kafka" / "kafka.pid");
    pid_t pid = 0;
    if (!(in >> pid) || pid <= 0) throw std::runtime_error("no kafka pid file in " + dir_.string());
    return pid;
  }

  // Gone, or a zombie nobody reaped yet.
  static bool alive(pid_t pid) {
    std::ifstream in(fmt::format("/proc/{}/stat", pid));
    std::string stat;
    if (!std::getline(in, stat)) return false;
    const auto end = stat.rfind(") ");
    return end != std::string::npos && end + 2 < stat.size() && stat[end + 2] != 'Z';
  }

  // The end of scripts/services' output and of the broker's log.
  std::string log_tail() const {
    const auto tail = [](const fs::path& file, std::size_t size) {
      std::ifstream in(file);
      std::stringstream text;
      text << in.rdbuf();
      const auto all = text.str();
      return all.size() > size ? all.substr(all.size() - size) : all;
    };
    return tail(dir_ / "services.log", 1500) + "\n--- kafka.log:\n" + tail(dir_ / "kafka" / "kafka.log", 2500);
  }

  fs::path dir_;
  std::uint16_t port_ = 0;
  std::uint16_t controller_port_ = 0;
};

std::string db_value(const std::string& sql) {
  const auto rows = test_db()->query(sql);
  return rows.rows.empty() || !rows.rows[0][0] ? std::string("NULL") : *rows.rows[0][0];
}

// `count` orders the service had cancelled before they were paid (their holds expired): the
// gateway's payment of one of them records a RefundRequested event. Returns their numbers.
std::vector<std::string> cancelled_orders(std::int64_t schedule, int count) {
  ensure_users(500);
  std::vector<std::string> orders;
  std::string values;
  for (int i = 0; i < count; ++i) {
    orders.push_back(fmt::format("REFUND-{}-{}", schedule, i));
    values += fmt::format(
        "{0}('{1}', {2}, {3}, 10.00, 'CANCELLED', 'HOLD_EXPIRED', '{1}', UTC_TIMESTAMP(3) - INTERVAL 1 "
        "MINUTE)",
        i == 0 ? "" : ",", orders.back(), 1 + i % 500, schedule);
  }
  test_db()->execute(
      "INSERT INTO payment_order (order_no, user_id, schedule_id, amount, status, fail_reason, "
      "idempotency_key, "
      "expires_at) VALUES " +
      values);
  return orders;
}

// The gateway's (signed) success callback; 202 = a refund was recorded.
int pay(std::uint16_t port, const std::string& order_no) {
  const std::string body = fmt::format(R"({{"orderNo":"{}"}})", order_no);
  return http(port, "POST", "/payment/mock-success", body,
              {{"Content-Type", "application/json"}, {"Gateway-Signature", gateway_signature(body)}})
      .status;
}

// Every message on `topic` from its low to its high watermark, by a consumer group of its own.
std::vector<infra::kafka::IncomingMessage> read_whole_topic(const std::string& bootstrap, const std::string& topic) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string error;
  conf->set("bootstrap.servers", bootstrap, error);
  std::unique_ptr<RdKafka::Producer> client(RdKafka::Producer::create(conf.get(), error));
  if (!client) throw std::runtime_error("kafka client: " + error);
  RdKafka::Metadata* raw = nullptr;
  std::unique_ptr<RdKafka::Topic> handle(RdKafka::Topic::create(client.get(), topic, nullptr, error));
  if (client->metadata(false, handle.get(), &raw, 10000) != RdKafka::ERR_NO_ERROR) {
    throw std::runtime_error("no metadata for " + topic);
  }
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  std::int64_t total = 0;
  for (const auto* entry : *metadata->topics()) {
    for (const auto* partition : *entry->partitions()) {
      std::int64_t low = 0, high = 0;
      if (client->query_watermark_offsets(topic, partition->id(), &low, &high, 10000) != RdKafka::ERR_NO_ERROR) {
        throw std::runtime_error(fmt::format("no watermarks for {}[{}]", topic, partition->id()));
      }
      total += high - low;
      std::printf("[ refund broker kill ] %s[%d]: watermarks %lld..%lld\n", topic.c_str(), partition->id(),
                  static_cast<long long>(low), static_cast<long long>(high));
    }
  }
  infra::kafka::KafkaConsumer consumer({bootstrap, "it-refund-check"}, topic + ".check", {topic});
  std::vector<infra::kafka::IncomingMessage> messages;
  wait_for(
      [&] {
        for (auto& message : consumer.poll_batch(1000, std::chrono::milliseconds(200))) {
          messages.push_back(std::move(message));
        }
        return static_cast<std::int64_t>(messages.size()) >= total;
      },
      std::chrono::seconds(30), std::chrono::milliseconds(0));
  consumer.close();
  if (static_cast<std::int64_t>(messages.size()) != total) {
    ADD_FAILURE() << "read " << messages.size() << " of the " << total << " messages on " << topic;
  }
  return messages;
}

// The value of an unlabelled counter in GET /actuator/prometheus (-1 when it is missing).
double counter(std::uint16_t port, const std::string& name) {
  const auto text = http(port, "GET", "/actuator/prometheus").body;
  std::smatch match;
  if (!std::regex_search(text, match, std::regex("\n" + name + " ([0-9.e+]+)\n"))) return -1;
  return std::stod(match[1]);
}

std::string header(const infra::kafka::IncomingMessage& message, const std::string& name) {
  for (const auto& [key, value] : message.headers) {
    if (key == name) return value;
  }
  return "";
}

}  // namespace

TEST(RefundRelayBrokerKill, NoRefundIsLostOrPublishedUnderANewIdWhenTheBrokerIsKilledMidRelay) {
  const auto test_started = Clock::now();
  PrivateKafka kafka;
  const auto schedule = create_schedule(-60, 0);
  constexpr int kBeforeKill = 300, kWhileDown = 100, kAfterRestart = 100;
  const auto orders = cancelled_orders(schedule, kBeforeKill + kWhileDown + kAfterRestart);
  const std::string prefix =
      fmt::format("{}refund-kill-{}-{}.", test_config().kafka.topic_prefix, ::getpid(), schedule);
  const std::string topic = prefix + "payment.refund-requested";
  // Small relay batches: many publish rounds, so the kill lands in the middle of one.
  TestServer server(
      {"kafka.bootstrap-servers=" + kafka.bootstrap_servers(), "kafka.topic-prefix=" + prefix, "kafka.relay-batch=20"});
  const auto port = server.port();
  const auto published = [&] {
    return std::stoll(db_value(
        fmt::format("SELECT COUNT(*) FROM outbox_event WHERE topic = '{}' AND published_at IS NOT NULL", topic)));
  };
  std::atomic<int> paid{0};
  const auto pay_range = [&](int from, int to) {
    std::vector<std::string> refused;
    for (int i = from; i < to; ++i) {
      const int status = pay(port, orders[i]);
      if (status == 202) {
        ++paid;
      } else {
        refused.push_back(fmt::format("{}: HTTP {}", orders[i], status));
      }
    }
    return refused;
  };

  // Payments stream in while the relay publishes their refunds; the broker dies mid-stream.
  auto first = std::async(std::launch::async, pay_range, 0, kBeforeKill);
  ASSERT_TRUE(wait_for([&] { return published() >= 60; }, std::chrono::seconds(30)))
      << "the relay published " << published() << " refunds";
  kafka.kill();
  const int paid_at_kill = paid.load();
  const auto published_at_kill = published();  // a dead broker acknowledges nothing more
  ASSERT_LT(published_at_kill, paid_at_kill) << "nothing was waiting to be relayed: the kill was not mid-relay";
  EXPECT_TRUE(first.get().empty());
  // More refunds while the broker is away; they wait in the outbox.
  EXPECT_TRUE(pay_range(kBeforeKill, kBeforeKill + kWhileDown).empty());
  const auto published_while_down = published();
  kafka.start();
  const auto restarted = Clock::now();
  EXPECT_TRUE(pay_range(kBeforeKill + kWhileDown, static_cast<int>(orders.size())).empty());
  const auto total = static_cast<long long>(orders.size());
  ASSERT_EQ(paid.load(), total);

  // Every refund row is published ...
  EXPECT_TRUE(wait_for([&] { return published() == total; }, std::chrono::seconds(45)))
      << published() << " of " << total << " refund rows published";
  const auto caught_up = Clock::now();
  // ... one row per paid order, each under its own event id.
  EXPECT_EQ(db_value(fmt::format("SELECT COUNT(*) FROM outbox_event WHERE topic = '{}'", topic)),
            std::to_string(total));
  EXPECT_EQ(db_value(fmt::format("SELECT COUNT(DISTINCT JSON_VALUE(payload, '$.orderNo')) FROM outbox_event "
                                 "WHERE topic = '{}' AND type = 'PaymentRefundRequested'",
                                 topic)),
            std::to_string(total));
  std::set<std::string> row_ids;
  for (const auto& row :
       test_db()->query(fmt::format("SELECT event_id FROM outbox_event WHERE topic = '{}'", topic)).rows) {
    row_ids.insert(*row[0]);
  }
  ASSERT_EQ(static_cast<long long>(row_ids.size()), total);

  // The topic: the same ids, each at least once; copies are what the consumer's dedupe absorbs.
  const auto messages = read_whole_topic(kafka.bootstrap_servers(), topic);
  std::map<std::string, int> copies;
  std::set<std::string> unknown;
  for (const auto& message : messages) {
    const auto id = header(message, "eventId");
    const auto payload = json::parse(message.value).as_object();
    EXPECT_EQ(payload.at("eventId").as_string(), id) << "header and payload disagree";
    EXPECT_EQ(payload.at("type").as_string(), "PaymentRefundRequested");
    ++copies[id];
    if (!row_ids.count(id)) unknown.insert(id);
  }
  std::set<std::string> missing;
  for (const auto& id : row_ids) {
    if (!copies.count(id)) missing.insert(id);
  }
  EXPECT_TRUE(unknown.empty()) << unknown.size() << " refund ids on the topic that no outbox row has, e.g. "
                               << *unknown.begin();
  EXPECT_TRUE(missing.empty()) << missing.size() << " refund rows never reached the topic, e.g. " << *missing.begin();
  EXPECT_EQ(static_cast<long long>(copies.size()), total) << "distinct event ids on the topic";
  int duplicated_ids = 0;
  for (const auto& [id, n] : copies) duplicated_ids += n > 1 ? 1 : 0;
  RecordProperty("duplicate_copies", static_cast<int>(messages.size() - copies.size()));

  const auto seconds = [](Clock::duration d) { return std::chrono::duration<double>(d).count(); };
  std::printf(
      "[ refund broker kill ] %lld refunds; at the SIGKILL %d paid, %lld published; %lld published while "
      "down; "
      "caught up %.1f s after the restart\n"
      "[ refund broker kill ] topic: %zu messages, %zu distinct event ids, %zu duplicate copies (%d ids "
      "twice or more), %zu missing, %zu unknown; failed relay rounds %.0f, producer rebuilds %.0f; test %.1f "
      "s\n",
      total, paid_at_kill, static_cast<long long>(published_at_kill), static_cast<long long>(published_while_down),
      seconds(caught_up - restarted), messages.size(), copies.size(), messages.size() - copies.size(), duplicated_ids,
      missing.size(), unknown.size(), counter(port, "ticketing_outbox_failed_rounds_total"),
      counter(port, "ticketing_kafka_producer_rebuilds_total"), seconds(Clock::now() - test_started));
}
