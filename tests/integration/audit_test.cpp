// load/audit (issue 7, acceptance 2): the invariant audit run after every load test passes on a
// consistent database and fails loudly — non-zero exit, the broken check named — on a corrupt one.
//
// Each test gets a scratch database `ticketing_test_audit_<pid>` (the app user may create
// `ticketing\_test%` databases), migrated with the real migrations, so a test can corrupt it —
// e.g. drop the unique key that normally makes a second live row per seat impossible — without
// touching ticketing_test. The database is dropped at the end of the test.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "infra/mysql/migrations.hpp"
#include "support.hpp"

using namespace ticketing;
using namespace ticketing::testing;
namespace fs = std::filesystem;

namespace {

// The checkout: TICKETING_TEST_ROOT (scripts/test sets it), else the nearest ancestor of the
// working directory that has load/audit.
fs::path repo_root() {
  if (const char* root = std::getenv("TICKETING_TEST_ROOT"); root && *root) return fs::path(root);
  for (auto dir = fs::current_path(); !dir.empty(); dir = dir.parent_path()) {
    if (fs::exists(dir / "load" / "audit")) return dir;
    if (dir == dir.parent_path()) break;
  }
  return fs::current_path();
}

struct AuditResult {
  int exit_code = -1;
  std::string output;
};

class AuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    prepare_test_database();
    endpoint_ = test_db_endpoint();
    name_ = fmt::format("ticketing_test_audit_{}", ::getpid());
    admin_ = test_db();
    admin_->execute(fmt::format("DROP DATABASE IF EXISTS `{}`", name_));
    admin_->execute(fmt::format("CREATE DATABASE `{}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci", name_));
    auto scratch_endpoint = endpoint_;
    scratch_endpoint.database = name_;
    {
      infra::mysql::MysqlConnection migrator(scratch_endpoint, true);
      infra::mysql::migrate(migrator, infra::mysql::plan_migrations(infra::mysql::embedded_migrations()));
    }
    db_ = std::make_unique<infra::mysql::MysqlConnection>(scratch_endpoint);
    db_->execute(
        "INSERT INTO user_account (id, email, name) VALUES "
        "(1, 'user1@example.com', 'User 1'), (2, 'user2@example.com', 'User 2'), (3, 'user3@example.com', 'User 3')");
    db_->execute("INSERT INTO concert (id, title, description) VALUES (1, 'Audit test', 'scratch')");
  }

  void TearDown() override {
    db_.reset();
    if (admin_) admin_->execute(fmt::format("DROP DATABASE IF EXISTS `{}`", name_));
  }

  // A schedule with seats S-1..S-n priced 100.00, 110.00, 120.00, ... (distinct prices, so a wrong
  // amount cannot pass by accident).
  std::int64_t schedule_with_seats(int seats) {
    const auto id = static_cast<std::int64_t>(
        db_->execute("INSERT INTO schedule (concert_id, show_at, booking_opens_at) VALUES "
                     "(1, UTC_TIMESTAMP(3) + INTERVAL 30 DAY, UTC_TIMESTAMP(3) - INTERVAL 1 HOUR)")
            .last_insert_id);
    for (int i = 1; i <= seats; ++i) {
      db_->execute(
          fmt::format("INSERT INTO seat (schedule_id, seat_no, section, price) VALUES ({}, 'S-{}', 'S', {}.00)", id, i,
                      90 + 10 * i));
    }
    return id;
  }

  // A completed purchase as the service leaves it: a PAID order with a recorded payment, its rows
  // CONFIRMED, and its PaymentCompleted event published. Returns the order id.
  std::int64_t paid_order(std::int64_t schedule, std::int64_t user, const std::string& order_no,
                          const std::vector<int>& seats, const std::string& amount) {
    const auto order = static_cast<std::int64_t>(
        db_->execute(fmt::format(
                         "INSERT INTO payment_order (order_no, user_id, schedule_id, amount, status, idempotency_key, "
                         "expires_at, paid_at) VALUES ('{}', {}, {}, {}, 'PAID', 'key-{}', "
                         "UTC_TIMESTAMP(3) + INTERVAL 10 MINUTE, UTC_TIMESTAMP(3))",
                         order_no, user, schedule, amount, order_no))
            .last_insert_id);
    for (const int seat : seats) {
      db_->execute(fmt::format(
          "INSERT INTO reservation (user_id, schedule_id, seat_no, status, expires_at, payment_order_id, active) "
          "VALUES ({}, {}, 'S-{}', 'CONFIRMED', UTC_TIMESTAMP(3) + INTERVAL 1 DAY, {}, 1)",
          user, schedule, seat, order));
    }
    db_->execute(fmt::format(
        "INSERT INTO outbox_event (event_id, aggregate, type, payload, topic, message_key, published_at) VALUES "
        "(UUID(), 'payment_order', 'PaymentCompleted', JSON_OBJECT('orderNo', '{}', 'scheduleId', {}), "
        "'payment.completed', '{}', UTC_TIMESTAMP(3))",
        order_no, schedule, schedule));
    return order;
  }

  AuditResult audit(std::int64_t schedule, const std::string& extra = "") {
    const auto out = fs::temp_directory_path() / fmt::format("audit-{}-{}.txt", ::getpid(), schedule);
    const auto url = fmt::format("mysql://{}:{}@{}:{}/{}", endpoint_.user, endpoint_.password, endpoint_.host,
                                 endpoint_.port, name_);
    const auto command = fmt::format("'{}' --db-url '{}' --schedule {} {} >'{}' 2>&1",
                                     (repo_root() / "load" / "audit").string(), url, schedule, extra, out.string());
    const int status = std::system(command.c_str());
    AuditResult result;
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::ifstream in(out);
    std::stringstream text;
    text << in.rdbuf();
    result.output = text.str();
    fs::remove(out);
    return result;
  }

  infra::mysql::DbEndpoint endpoint_;
  std::string name_;
  std::unique_ptr<infra::mysql::MysqlConnection> admin_;
  std::unique_ptr<infra::mysql::MysqlConnection> db_;
};

bool has_line_starting(const std::string& output, const std::string& prefix) {
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

}  // namespace

TEST_F(AuditTest, ConsistentStatePasses) {
  const auto schedule = schedule_with_seats(4);
  paid_order(schedule, 1, "ORD-AUDIT-1", {1, 2}, "210.00");  // 100.00 + 110.00
  // A hold in progress and a cancelled history row are legitimate too.
  db_->execute(
      fmt::format("INSERT INTO reservation (user_id, schedule_id, seat_no, status, expires_at, active) VALUES "
                  "(2, {0}, 'S-3', 'HELD', UTC_TIMESTAMP(3) + INTERVAL 5 MINUTE, 1), "
                  "(3, {0}, 'S-3', 'EXPIRED', UTC_TIMESTAMP(3) - INTERVAL 5 MINUTE, NULL)",
                  schedule));

  const auto result = audit(schedule);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("audit: PASS"), std::string::npos) << result.output;
  EXPECT_FALSE(has_line_starting(result.output, "FAIL")) << result.output;
  EXPECT_NE(result.output.find("sold 2 (2 CONFIRMED rows)"), std::string::npos) << result.output;
  // Not everything is sold: --expect-sold-out must say so.
  const auto sold_out = audit(schedule, "--expect-sold-out");
  EXPECT_EQ(sold_out.exit_code, 1) << sold_out.output;
  EXPECT_TRUE(has_line_starting(sold_out.output, "FAIL  all-seats-sold-once")) << sold_out.output;
}

TEST_F(AuditTest, DuplicateActiveRowFailsNamingTheCheck) {
  const auto schedule = schedule_with_seats(4);
  paid_order(schedule, 1, "ORD-AUDIT-2", {1, 2}, "210.00");
  ASSERT_EQ(audit(schedule).exit_code, 0);

  // The unique key (schedule_id, seat_no, active) makes this impossible in a healthy database:
  // drop it here (the foreign key to seat needs an index on (schedule_id, seat_no): keep one).
  db_->execute(
      "ALTER TABLE reservation ADD INDEX idx_audit_test_seat (schedule_id, seat_no), "
      "DROP INDEX uk_reservation_active_seat");
  db_->execute(
      fmt::format("INSERT INTO reservation (user_id, schedule_id, seat_no, status, expires_at, active) VALUES "
                  "(2, {}, 'S-1', 'HELD', UTC_TIMESTAMP(3) + INTERVAL 5 MINUTE, 1)",
                  schedule));

  const auto result = audit(schedule);
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_TRUE(has_line_starting(result.output, "FAIL  no-seat-with-two-active-rows")) << result.output;
  EXPECT_NE(result.output.find("1 seats with more than one live row (e.g. S-1)"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("audit: FAIL (1 of 13 checks"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("): no-seat-with-two-active-rows"), std::string::npos) << result.output;
}

TEST_F(AuditTest, OrphanPaidOrderFailsNamingTheCheck) {
  const auto schedule = schedule_with_seats(4);
  paid_order(schedule, 1, "ORD-AUDIT-3", {1, 2}, "210.00");
  // Paid, published, but no seat behind it: a charge without a booking.
  paid_order(schedule, 2, "ORD-AUDIT-ORPHAN", {}, "120.00");

  const auto result = audit(schedule);
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_TRUE(has_line_starting(result.output, "FAIL  paid-orders-have-rows")) << result.output;
  EXPECT_NE(result.output.find("1 of 2 PAID orders have no reservation rows (orphans: ORD-AUDIT-ORPHAN)"),
            std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("): paid-orders-have-rows"), std::string::npos) << result.output;
}

// The checks the chaos flash sale added (docs/reliability.md).
TEST_F(AuditTest, DoubleChargeDuplicateConfirmationAndMissedDeadlinesFailNamingEachCheck) {
  const auto schedule = schedule_with_seats(4);
  paid_order(schedule, 1, "ORD-AUDIT-TWICE", {1}, "100.00");
  // The gateway's success recorded a second time for the same order.
  db_->execute(fmt::format(
      "INSERT INTO outbox_event (event_id, aggregate, type, payload, topic, message_key, published_at) VALUES "
      "(UUID(), 'payment_order', 'PaymentCompleted', JSON_OBJECT('orderNo', 'ORD-AUDIT-TWICE'), 'payment.completed', "
      "'{}', UTC_TIMESTAMP(3))",
      schedule));
  // Confirmed and also refunded.
  paid_order(schedule, 2, "ORD-AUDIT-KEPT", {2}, "110.00");
  db_->execute(fmt::format(
      "INSERT INTO outbox_event (event_id, aggregate, type, payload, topic, message_key, published_at) VALUES "
      "(UUID(), 'payment_order', 'PaymentRefundRequested', JSON_OBJECT('orderNo', 'ORD-AUDIT-KEPT'), "
      "'payment.refund-requested', '{}', UTC_TIMESTAMP(3))",
      schedule));
  // A READY order and a hold, both five minutes past their expiry: the expiry job missed them.
  db_->execute(
      fmt::format("INSERT INTO payment_order (order_no, user_id, schedule_id, amount, status, idempotency_key, "
                  "expires_at) VALUES ('ORD-AUDIT-LATE', 3, {}, 130.00, 'READY', 'late', "
                  "UTC_TIMESTAMP(3) - INTERVAL 5 MINUTE)",
                  schedule));
  db_->execute(
      fmt::format("INSERT INTO reservation (user_id, schedule_id, seat_no, status, expires_at, active) VALUES "
                  "(3, {}, 'S-4', 'HELD', UTC_TIMESTAMP(3) - INTERVAL 5 MINUTE, 1)",
                  schedule));

  const auto result = audit(schedule);
  EXPECT_EQ(result.exit_code, 1) << result.output;
  for (const char* check :
       {"no-double-charge", "no-duplicate-confirmation", "nothing-past-its-deadline", "no-order-left-non-final"}) {
    EXPECT_TRUE(has_line_starting(result.output, std::string("FAIL  ") + check)) << check << "\n" << result.output;
  }
  EXPECT_NE(result.output.find("1 orders with more than one PaymentCompleted (ORD-AUDIT-TWICE)"), std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("1 PAID orders also refunded (ORD-AUDIT-KEPT)"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("1 READY orders past expiry, 0 CONFIRMING past reconcile-after 120s, 1 HELD rows"),
            std::string::npos)
      << result.output;
  EXPECT_TRUE(has_line_starting(result.output, "PASS  no-seat-with-two-active-rows")) << result.output;
  EXPECT_TRUE(has_line_starting(result.output, "PASS  recorded-payments-accounted")) << result.output;
}

TEST_F(AuditTest, WrongAmountAndLeftoverStatesFailNamingEachCheck) {
  const auto schedule = schedule_with_seats(4);
  paid_order(schedule, 1, "ORD-AUDIT-4", {1, 2}, "999.00");  // seats cost 210.00
  // A payment recorded but the order never confirmed, its event never published.
  db_->execute(
      fmt::format("INSERT INTO payment_order (order_no, user_id, schedule_id, amount, status, idempotency_key, "
                  "expires_at, paid_at) "
                  "VALUES ('ORD-AUDIT-STUCK', 2, {}, 120.00, 'CONFIRMING', 'k', UTC_TIMESTAMP(3), UTC_TIMESTAMP(3))",
                  schedule));
  db_->execute(fmt::format(
      "INSERT INTO outbox_event (event_id, aggregate, type, payload, topic, message_key) VALUES "
      "(UUID(), 'payment_order', 'PaymentCompleted', JSON_OBJECT('orderNo', 'ORD-AUDIT-STUCK'), 'payment.completed', "
      "'{}')",
      schedule));

  const auto result = audit(schedule);
  EXPECT_EQ(result.exit_code, 1) << result.output;
  for (const char* check :
       {"paid-amount-matches-prices", "no-order-left-non-final", "outbox-published", "recorded-payments-accounted"}) {
    EXPECT_TRUE(has_line_starting(result.output, std::string("FAIL  ") + check)) << check << "\n" << result.output;
  }
  EXPECT_TRUE(has_line_starting(result.output, "PASS  no-seat-with-two-active-rows")) << result.output;
}

TEST_F(AuditTest, BadArgumentsExitTwo) {
  EXPECT_EQ(audit(987654).exit_code, 2);  // no such schedule
  const auto missing = std::system(fmt::format("'{}' --db-url 'mysql://x@127.0.0.1:1/none' >/dev/null 2>&1",
                                               (repo_root() / "load" / "audit").string())
                                       .c_str());
  EXPECT_EQ(WEXITSTATUS(missing), 2);  // --schedule missing
}
