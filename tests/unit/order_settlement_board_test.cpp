// The in-process board that GET /payment/{orderNo}?waitMs= waits on (infra/events).
#include "infra/events/order_settlement_board.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <optional>
#include <thread>

using namespace ticketing;
using std::chrono::milliseconds;
using std::chrono::seconds;
using ticketing::domain::OrderSettled;
using ticketing::domain::OrderStatus;
using ticketing::infra::events::OrderSettlementBoard;
using ticketing::infra::events::OrderSettlementBoardLimits;

namespace {

// One wait on its own single-threaded io_context (as on an HTTP I/O thread).
struct Wait {
  Wait(OrderSettlementBoard& board, const std::string& order_no, milliseconds timeout) {
    boost::asio::co_spawn(
        io,
        [&board, order_no, timeout, this]() -> Task<void> {
          result = co_await board.wait_settled(order_no, timeout);
          done = true;
        },
        boost::asio::detached);
  }
  // Runs the context until the wait is over or `limit` has passed; true if it is over.
  bool finish_within(std::chrono::steady_clock::duration limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done && std::chrono::steady_clock::now() < deadline) io.run_one_for(milliseconds(50));
    return done;
  }
  boost::asio::io_context io;
  std::optional<OrderSettled> result;
  bool done = false;
};

// Runs `wait`'s context until the board has registered it, as its `nth` waiter.
void until_waiting(Wait& wait, OrderSettlementBoard& board, std::size_t nth = 1) {
  const auto deadline = std::chrono::steady_clock::now() + seconds(10);
  while (board.waiting() < nth && std::chrono::steady_clock::now() < deadline) wait.io.poll();
  ASSERT_EQ(board.waiting(), nth);
}

}  // namespace

TEST(OrderSettlementBoard, ASettlementToldBeforeTheWaitIsAnsweredAtOnce) {
  OrderSettlementBoard board;
  board.order_settled({"ORD-1", OrderStatus::kPaid, std::nullopt});
  Wait wait(board, "ORD-1", seconds(60));
  ASSERT_TRUE(wait.finish_within(seconds(10)));
  ASSERT_TRUE(wait.result);
  EXPECT_EQ(wait.result->status, OrderStatus::kPaid);
  EXPECT_EQ(board.waiting(), 0u);
}

TEST(OrderSettlementBoard, AWaiterIsWokenBySettlementsFromAnotherThread) {
  OrderSettlementBoard board;
  Wait wait(board, "ORD-2", seconds(60));  // would outlast the check below if never woken
  until_waiting(wait, board);
  std::thread([&board] { board.order_settled({"ORD-9", OrderStatus::kPaid, std::nullopt}); }).join();
  std::thread([&board] {
    board.order_settled({"ORD-2", OrderStatus::kCancelled, std::string("HOLD_EXPIRED")});
  }).join();
  ASSERT_TRUE(wait.finish_within(seconds(20)));
  ASSERT_TRUE(wait.result);
  EXPECT_EQ(wait.result->order_no, "ORD-2");
  EXPECT_EQ(wait.result->status, OrderStatus::kCancelled);
  EXPECT_EQ(wait.result->fail_reason, std::string("HOLD_EXPIRED"));
  EXPECT_EQ(board.waiting(), 0u);
}

TEST(OrderSettlementBoard, AWaitWithoutSettlementEndsEmptyAtItsTimeout) {
  OrderSettlementBoard board;
  board.order_settled({"ORD-other", OrderStatus::kPaid, std::nullopt});
  Wait wait(board, "ORD-3", milliseconds(20));
  ASSERT_TRUE(wait.finish_within(seconds(20)));
  EXPECT_FALSE(wait.result);
  EXPECT_EQ(board.waiting(), 0u);
}

TEST(OrderSettlementBoard, StopWakesEveryWaiterAndLaterWaitsDoNotWait) {
  OrderSettlementBoard board;
  Wait first(board, "ORD-4", seconds(60));
  until_waiting(first, board);
  board.stop();
  ASSERT_TRUE(first.finish_within(seconds(20)));
  EXPECT_FALSE(first.result);
  Wait later(board, "ORD-5", seconds(60));
  ASSERT_TRUE(later.finish_within(seconds(20)));
  EXPECT_FALSE(later.result);
  EXPECT_EQ(board.waiting(), 0u);
}

TEST(OrderSettlementBoard, BeyondItsLimitsAWaitAnswersAtOnceAndOldSettlementsAreForgotten) {
  OrderSettlementBoard board(OrderSettlementBoardLimits{.max_waiters = 1, .max_recent = 2});
  Wait first(board, "ORD-6", seconds(60));
  until_waiting(first, board);
  Wait second(board, "ORD-7", seconds(60));  // the one waiter allowed is taken
  ASSERT_TRUE(second.finish_within(seconds(20)));
  EXPECT_FALSE(second.result);
  board.order_settled({"ORD-6", OrderStatus::kPaid, std::nullopt});
  ASSERT_TRUE(first.finish_within(seconds(20)));
  EXPECT_TRUE(first.result);

  // Two remembered at most: the oldest of three is gone.
  board.order_settled({"ORD-A", OrderStatus::kPaid, std::nullopt});
  board.order_settled({"ORD-B", OrderStatus::kPaid, std::nullopt});
  Wait old(board, "ORD-6", milliseconds(1));
  ASSERT_TRUE(old.finish_within(seconds(20)));
  EXPECT_FALSE(old.result);
  Wait recent(board, "ORD-B", seconds(60));
  ASSERT_TRUE(recent.finish_within(seconds(20)));
  EXPECT_TRUE(recent.result);
}

TEST(OrderSettlementBoard, OneOrderHasAtMostItsShareOfWaiters) {
  OrderSettlementBoard board(OrderSettlementBoardLimits{.max_waiters_per_order = 1});
  Wait first(board, "ORD-X", seconds(60));
  until_waiting(first, board);
  Wait same_order(board, "ORD-X", seconds(60));  // answered at once: the caller reads again
  ASSERT_TRUE(same_order.finish_within(seconds(20)));
  EXPECT_FALSE(same_order.result);
  Wait other_order(board, "ORD-Y", seconds(60));
  until_waiting(other_order, board, 2);
  board.order_settled({"ORD-X", OrderStatus::kPaid, std::nullopt});
  board.order_settled({"ORD-Y", OrderStatus::kPaid, std::nullopt});
  ASSERT_TRUE(first.finish_within(seconds(20)));
  ASSERT_TRUE(other_order.finish_within(seconds(20)));
  EXPECT_TRUE(first.result);
  EXPECT_TRUE(other_order.result);
}

TEST(OrderSettlementBoard, AConfirmingOrderIsRememberedUntilItsSettlement) {
  OrderSettlementBoard board(OrderSettlementBoardLimits{.max_confirming = 2});
  domain::PaymentOrder order;
  order.order_no = "ORD-C";
  order.status = OrderStatus::kConfirming;
  order.seat_nos = {"A-1"};
  board.remember_confirming(order);
  ASSERT_TRUE(board.confirming("ORD-C"));
  EXPECT_EQ(board.confirming("ORD-C")->seat_nos, order.seat_nos);
  EXPECT_FALSE(board.confirming("ORD-X"));
  board.order_settled({"ORD-C", OrderStatus::kPaid, std::nullopt});
  EXPECT_FALSE(board.confirming("ORD-C"));  // settled: a waiting read asks the database again
  // A callback answered after its confirmation was told (the confirmation overtook it).
  board.remember_confirming(order);
  EXPECT_FALSE(board.confirming("ORD-C"));
  // At most max_confirming remembered: the oldest of three is gone.
  for (const char* no : {"ORD-1", "ORD-2", "ORD-3"}) {
    order.order_no = no;
    board.remember_confirming(order);
  }
  EXPECT_FALSE(board.confirming("ORD-1"));
  EXPECT_TRUE(board.confirming("ORD-2"));
  EXPECT_TRUE(board.confirming("ORD-3"));
}

TEST(OrderSettlementBoard, AConfirmingOrderIsForgottenWithAge) {
  OrderSettlementBoard board(OrderSettlementBoardLimits{.recent_for = seconds(0)});
  domain::PaymentOrder order;
  order.order_no = "ORD-OLD";
  order.status = OrderStatus::kConfirming;
  board.remember_confirming(order);
  const auto deadline = std::chrono::steady_clock::now() + seconds(10);
  while (board.confirming("ORD-OLD") && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  EXPECT_FALSE(board.confirming("ORD-OLD"));
}
