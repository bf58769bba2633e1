#include "infra/mysql/mysql_reservation_repository.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <unordered_set>

#include "infra/mysql/row_reader.hpp"
#include "infra/mysql/sql_text.hpp"

namespace ticketing::infra::mysql {

using domain::HoldOutcome;
using domain::ReleaseOutcome;

namespace {

constexpr int kDeadlockRetries = 3;

// Runs a transaction body, retrying on deadlock / lock wait timeout.
template <typename Body>
auto with_retries(Body&& body) {
  for (int attempt = 1;; ++attempt) {
    try {
      return body();
    } catch (const MysqlError& error) {
      if (!error.is_deadlock() || attempt >= kDeadlockRetries) throw;
    }
  }
}

}  // namespace

Task<std::vector<std::string>> MysqlReservationRepository::missing_seats(domain::ScheduleId schedule,
                                                                         const std::vector<std::string>& seats) {
  if (seats.empty()) co_return std::vector<std::string>{};
  const auto layout = co_await layouts_.layout(schedule);
  if (!layout) {  // another request is loading the layout: ask for just these seats
    auto work = [schedule, &seats](MysqlConnection& db) { return seats_not_on_schedule(db, schedule, seats); };
    co_return co_await pool_.run(work);
  }
  std::vector<std::string> missing;
  for (const auto& seat : seats) {
    if (layout->find(seat) == nullptr) missing.push_back(seat);
  }
  co_return missing;
}

Task<HoldOutcome> MysqlReservationRepository::hold(domain::ScheduleId schedule, domain::UserId user,
                                                   const std::vector<std::string>& seats, domain::Timestamp now,
                                                   domain::Timestamp expires_at, int max_seats_per_user) {
  auto work = [=, autoinc_mode = &autoinc_lock_mode_](MysqlConnection& db) {
    // With innodb_autoinc_lock_mode 0 or 1 (MariaDB's default) a multi-row INSERT gets consecutive
    // ids in VALUES order, so the ids need no query; with 2 (MySQL 8's default) they are read back.
    if (autoinc_mode->load(std::memory_order_relaxed) < 0) {
      const auto mode = db.query("SELECT @@innodb_autoinc_lock_mode");
      autoinc_mode->store(mode.rows.empty() ? 2 : static_cast<int>(to_int64(mode.rows[0][0])),
                          std::memory_order_relaxed);
    }
    const bool consecutive_ids = autoinc_mode->load(std::memory_order_relaxed) <= 1;
    return with_retries([&]() -> HoldOutcome {
      const std::string in_seats = seat_list(db, seats);
      const std::string now_sql = sql_time(db, now);
      Transaction tx(db);
      // Locking the user's row serialises this user's concurrent holds, so the limit below counts
      // every seat they have, including the ones a parallel request is inserting.
      const auto live = db.query(fmt::format(
          "SELECT (SELECT COUNT(*) FROM reservation WHERE user_id = {0} AND schedule_id = {1} AND active = 1 "
          "AND (status = 'CONFIRMED' OR expires_at > {2})) FROM user_account WHERE id = {0} FOR UPDATE",
          user.value, schedule.value, now_sql));
      const std::int64_t live_seats = live.rows.empty() ? 0 : to_int64(live.rows[0][0]);
      if (live_seats + static_cast<std::int64_t>(seats.size()) > max_seats_per_user) {
        HoldOutcome outcome;
        outcome.kind = HoldOutcome::Kind::kLimitExceeded;
        outcome.live_seats = live_seats;
        return outcome;
      }
      // Stale holds of these seats give way first (the expiry job may not have run yet) — but not the
      // holds of a CONFIRMING order or of a READY order that has not expired: a hold never takes the
      // seats of an order that can still be paid (an expired READY order cannot: its payment is
      // refunded). FORCE INDEX:
      // planned on idx_reservation_expiry instead, the scan X-locks the first live hold past its
      // range until commit, and every hold of every schedule queues behind it (found by
      // bench/hold-storm: 9,999 lock waits for 10,000 holds).
      db.execute(fmt::format(
          "UPDATE reservation FORCE INDEX (uk_reservation_active_seat) "
          "SET status = 'EXPIRED', active = NULL, updated_at = {0} "
          "WHERE schedule_id = {1} AND seat_no IN {2} AND active = 1 AND status = 'HELD' AND expires_at <= {0} "
          "AND (payment_order_id IS NULL OR NOT EXISTS (SELECT 1 FROM payment_order o "
          "WHERE o.id = reservation.payment_order_id AND (o.status = 'CONFIRMING' OR "
          "(o.status = 'READY' AND o.expires_at > {0}))))",
          now_sql, schedule.value, in_seats));
      std::string values;
      const std::string expires_sql = sql_time(db, expires_at);
      for (const auto& seat : seats) {
        if (!values.empty()) values += ',';
        values += fmt::format("({},{},{},'HELD',{},1,{},{})", user.value, schedule.value, db.quote(seat), expires_sql,
                              now_sql, now_sql);
      }
      ExecResult inserted;
      try {
        inserted = db.execute("INSERT INTO reservation (user_id, schedule_id, seat_no, status, expires_at, active, "
                              "created_at, updated_at) VALUES " + values);
      } catch (const MysqlError& error) {
        if (!error.is_duplicate_key()) throw;
        // The unique key (schedule_id, seat_no, active) refused: name exactly the taken seats.
        // A locking read sees the latest committed rows, not this transaction's snapshot.
        HoldOutcome outcome;
        outcome.kind = HoldOutcome::Kind::kSeatsTaken;
        std::unordered_set<std::string> live;
        for (const auto& row : db.query(fmt::format("SELECT seat_no FROM reservation WHERE schedule_id = {} AND "
                                                    "seat_no IN {} AND active = 1 LOCK IN SHARE MODE",
                                                    schedule.value, in_seats))
                                   .rows) {
          live.insert(to_string(row[0]));
        }
        for (const auto& seat : seats) {  // in request order, as the fast path names them
          if (live.count(seat) != 0) outcome.taken_seats.push_back(seat);
        }
        if (outcome.taken_seats.empty()) outcome.taken_seats = seats;  // released in between; still refused
        return outcome;
      }
      HoldOutcome outcome;
      if (inserted.affected_rows == seats.size() && inserted.last_insert_id > 0 &&
          (seats.size() == 1 || consecutive_ids)) {
        tx.commit();
        outcome.events.push_back({schedule, seats, domain::SeatChange::kHeld});
        for (std::size_t i = 0; i < seats.size(); ++i) {
          outcome.seats.push_back(
              {domain::ReservationId{static_cast<std::int64_t>(inserted.last_insert_id + i)}, seats[i]});
        }
        return outcome;
      }
      const auto rows = db.query(fmt::format(
          "SELECT id, seat_no FROM reservation WHERE schedule_id = {} AND seat_no IN {} AND active = 1 AND user_id = {}",
          schedule.value, in_seats, user.value));
      tx.commit();
      outcome.events.push_back({schedule, seats, domain::SeatChange::kHeld});
      std::map<std::string, std::int64_t> id_of;
      for (const auto& row : rows.rows) id_of[to_string(row[1])] = to_int64(row[0]);
      for (const auto& seat : seats) outcome.seats.push_back({domain::ReservationId{id_of[seat]}, seat});
      return outcome;
    });
  };
  co_return co_await pool_.run(work);
}

Task<ReleaseOutcome> MysqlReservationRepository::release(domain::ScheduleId schedule, domain::UserId user,
                                                         const std::vector<std::string>& seats,
                                                         domain::Timestamp now) {
  auto work = [=](MysqlConnection& db) {
    return with_retries([&]() -> ReleaseOutcome {
      const std::string in_seats = seat_list(db, seats);
      const std::string now_sql = sql_time(db, now);
      Transaction tx(db);
      const auto rows = db.query(fmt::format(
          "SELECT r.seat_no, r.user_id, r.status, r.expires_at > {0}, o.status FROM reservation r "
          "LEFT JOIN payment_order o ON o.id = r.payment_order_id "
          "WHERE r.schedule_id = {1} AND r.seat_no IN {2} AND r.active = 1 FOR UPDATE",
          now_sql, schedule.value, in_seats));
      struct Live {
        std::int64_t user;
        std::string status;
        bool unexpired;
        std::string order_status;
      };
      std::map<std::string, Live> live;
      for (const auto& row : rows.rows) {
        live[to_string(row[0])] = Live{to_int64(row[1]), to_string(row[2]), to_string(row[3]) == "1", to_string(row[4])};
      }
      std::vector<std::string> other_owner, in_payment, sold, not_held;
      for (const auto& seat : seats) {
        const auto it = live.find(seat);
        if (it == live.end() || (it->second.status == "HELD" && !it->second.unexpired)) {
          not_held.push_back(seat);
        } else if (it->second.user != user.value) {
          other_owner.push_back(seat);
        } else if (it->second.order_status == "READY" || it->second.order_status == "CONFIRMING") {
          in_payment.push_back(seat);
        } else if (it->second.status == "CONFIRMED") {
          sold.push_back(seat);
        }
      }
      // Someone else's hold wins over every other problem: 403 and nothing changes.
      if (!other_owner.empty()) return ReleaseOutcome{ReleaseOutcome::Kind::kOtherOwner, other_owner};
      if (!in_payment.empty()) return ReleaseOutcome{ReleaseOutcome::Kind::kInPayment, in_payment};
      if (!sold.empty()) return ReleaseOutcome{ReleaseOutcome::Kind::kSold, sold};
      if (!not_held.empty()) return ReleaseOutcome{ReleaseOutcome::Kind::kNotHeld, not_held};
      db.execute(fmt::format(
          "UPDATE reservation SET status = 'CANCELLED', active = NULL, updated_at = {} "
          "WHERE schedule_id = {} AND seat_no IN {} AND active = 1 AND user_id = {} AND status = 'HELD'",
          now_sql, schedule.value, in_seats, user.value));
      tx.commit();
      return ReleaseOutcome{ReleaseOutcome::Kind::kReleased, seats, {{schedule, seats, domain::SeatChange::kReleased}}};
    });
  };
  co_return co_await pool_.run(work);
}

Task<domain::ExpiryOutcome> MysqlReservationRepository::expire_holds(domain::Timestamp now, int batch) {
  auto work = [=](MysqlConnection& db) {
    return with_retries([&]() -> domain::ExpiryOutcome {
      domain::ExpiryOutcome outcome;
      const std::string now_sql = sql_time(db, now);
      // READY orders past their own expiry (payment.order-ttl) are cancelled too; their holds stay
      // until they expire or are released. Claimed with SKIP LOCKED and updated by id, so neither
      // another worker nor a payment being recorded for one of them can deadlock with this.
      {
        Transaction orders(db);
        const auto expired_orders = db.query(fmt::format(
            "SELECT id FROM payment_order WHERE status = 'READY' AND expires_at <= {} ORDER BY expires_at LIMIT {} "
            "FOR UPDATE SKIP LOCKED",
            now_sql, batch));
        std::string order_ids;
        for (const auto& row : expired_orders.rows) {
          if (!order_ids.empty()) order_ids += ',';
          order_ids += to_string(row[0]);
        }
        if (!order_ids.empty()) {
          outcome.orders_cancelled += static_cast<std::int64_t>(expired_orders.rows.size());
          db.execute(fmt::format(
              "UPDATE payment_order SET status = 'CANCELLED', fail_reason = 'ORDER_EXPIRED', updated_at = {} "
              "WHERE id IN ({}) AND status = 'READY'",
              now_sql, order_ids));
        }
        orders.commit();
      }
      Transaction tx(db);
      // SKIP LOCKED: concurrent workers (other processes) take disjoint batches.
      const auto rows = db.query(fmt::format(
          "SELECT id, schedule_id, seat_no FROM reservation WHERE status = 'HELD' AND expires_at <= {} "
          "ORDER BY expires_at LIMIT {} FOR UPDATE SKIP LOCKED",
          now_sql, batch));
      if (rows.rows.empty()) {
        tx.commit();
        return outcome;
      }
      std::string ids;
      for (const auto& row : rows.rows) {
        if (!ids.empty()) ids += ',';
        ids += to_string(row[0]);
        const domain::ScheduleId schedule{to_int64(row[1])};
        auto it = std::find_if(outcome.events.begin(), outcome.events.end(),
                               [&](const domain::SeatChanged& e) { return e.schedule == schedule; });
        if (it == outcome.events.end()) {
          it = outcome.events.insert(outcome.events.end(), {schedule, {}, domain::SeatChange::kExpired});
        }
        it->seat_nos.push_back(to_string(row[2]));
      }
      const auto result = db.execute(fmt::format(
          "UPDATE reservation SET status = 'EXPIRED', active = NULL, updated_at = {} WHERE id IN ({}) AND status = 'HELD'",
          now_sql, ids));
      // A READY order whose holds expired can no longer be paid.
      db.execute(fmt::format(
          "UPDATE payment_order SET status = 'CANCELLED', fail_reason = 'HOLD_EXPIRED', updated_at = {} "
          "WHERE status = 'READY' AND id IN (SELECT payment_order_id FROM reservation WHERE id IN ({}) "
          "AND payment_order_id IS NOT NULL)",
          now_sql, ids));
      tx.commit();
      outcome.expired = static_cast<std::int64_t>(result.affected_rows);
      return outcome;
    });
  };
  co_return co_await pool_.run(work);
}

}  // namespace ticketing::infra::mysql
