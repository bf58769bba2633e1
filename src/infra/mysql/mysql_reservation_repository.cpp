#include "infra/mysql/mysql_reservation_repository.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <unordered_set>

#include "domain/booking_rules.hpp"
#include "domain/errors.hpp"
#include "infra/mysql/row_reader.hpp"
#include "infra/mysql/sql_text.hpp"

namespace ticketing::infra::mysql {

using domain::HoldOutcome;
using domain::OrderStatus;
using domain::ReleaseOutcome;
using domain::ReservationStatus;

namespace {

// Live HELD rows → EXPIRED or CANCELLED (active = NULL: history rows never collide).
void end_holds(MysqlConnection& db, const std::vector<domain::ReservationId>& ids, ReservationStatus status,
               domain::Timestamp now) {
  if (ids.empty()) return;
  Params params{domain::to_string(status), now};
  append_params(params, ids);
  db.execute(
      "UPDATE reservation SET status = ?, active = NULL, updated_at = ? WHERE id IN (" + placeholders(ids.size()) + ")",
      params);
}

// READY orders → CANCELLED with `reason` (only those still READY). Returns how many.
std::int64_t cancel_ready_orders(MysqlConnection& db, const std::vector<std::int64_t>& ids, std::string_view reason,
                                 domain::Timestamp now) {
  if (ids.empty()) return 0;
  Params params{domain::to_string(OrderStatus::kCancelled), reason, now};
  append_params(params, ids);
  params.emplace_back(domain::to_string(OrderStatus::kReady));
  return static_cast<std::int64_t>(
      db.execute("UPDATE payment_order SET status = ?, fail_reason = ?, updated_at = ? WHERE id IN (" +
                     placeholders(ids.size()) + ") AND status = ?",
                 params)
          .affected_rows);
}

}  // namespace

Task<std::vector<std::string>> MysqlReservationRepository::missing_seats(domain::ScheduleId schedule,
                                                                         const std::vector<std::string>& seats) {
  if (seats.empty()) co_return std::vector<std::string>{};
  std::shared_ptr<const SeatLayout> layout;
  try {
    layout = co_await layouts_.layout(schedule);
  } catch (const domain::DependencyUnavailable&) {
    // The layout loads on the request pool; a seat-map storm saturating it must not fail holds,
    // which have their own pool: ask for just these seats there.
  }
  if (!layout) {  // another request is loading the layout, or it could not: ask for just these seats
    auto work = [schedule, &seats](MysqlConnection& db) { return seats_not_on_schedule(db, schedule, seats); };
    co_return co_await pool_.run(work);
  }
  std::vector<std::string> missing;
  for (const auto& seat : seats) {
    if (layout->find(seat) == nullptr) missing.push_back(seat);
  }
  co_return missing;
}

namespace {

// Inserts HELD rows for `seats`, the i-th taking seat slot `slots[i]` (V6: a user's live rows on a
// schedule hold distinct slots 1..hold.max-seats-per-user). Returns the new rows' ids, in order.
std::vector<domain::HeldSeat> insert_holds(MysqlConnection& db, domain::ScheduleId schedule, domain::UserId user,
                                           const std::vector<std::string>& seats, const std::vector<int>& slots,
                                           domain::Timestamp now, domain::Timestamp expires_at, bool consecutive_ids) {
  Params values;
  std::string rows;
  for (std::size_t i = 0; i < seats.size(); ++i) {
    rows += rows.empty() ? "(?,?,?,?,?,1,?,?,?)" : ",(?,?,?,?,?,1,?,?,?)";
    for (Param p :
         {Param(user.value), Param(schedule.value), Param(seats[i]), Param(domain::to_string(ReservationStatus::kHeld)),
          Param(expires_at), slots[i] > 0 ? Param(slots[i]) : Param(nullptr), Param(now), Param(now)}) {
      values.push_back(std::move(p));
    }
  }
  const auto inserted = db.execute(
      "INSERT INTO reservation (user_id, schedule_id, seat_no, status, expires_at, active, holder_slot, "
      "created_at, updated_at) VALUES " +
          rows,
      values);
  std::vector<domain::HeldSeat> held;
  if (inserted.affected_rows == seats.size() && inserted.last_insert_id > 0 && (seats.size() == 1 || consecutive_ids)) {
    for (std::size_t i = 0; i < seats.size(); ++i) {
      held.push_back({domain::ReservationId{static_cast<std::int64_t>(inserted.last_insert_id + i)}, seats[i]});
    }
    return held;
  }
  Params mine{schedule.value};
  append_params(mine, seats);
  mine.emplace_back(user.value);
  const auto ids = db.query("SELECT id, seat_no FROM reservation WHERE schedule_id = ? AND seat_no IN (" +
                                placeholders(seats.size()) + ") AND active = 1 AND user_id = ?",
                            mine);
  std::map<std::string, std::int64_t> id_of;
  for (const auto& row : ids.rows) id_of[to_string(row[1])] = to_int64(row[0]);
  for (const auto& seat : seats) held.push_back({domain::ReservationId{id_of[seat]}, seat});
  return held;
}

// Which unique key refused an INSERT ("Duplicate entry '...' for key 'uk_...'").
bool refused_by_slot_key(const MysqlError& error) {
  return std::string_view(error.what()).find("uk_reservation_holder_slot") != std::string_view::npos;
}

}  // namespace

Task<HoldOutcome> MysqlReservationRepository::hold(domain::ScheduleId schedule, domain::UserId user,
                                                   const std::vector<std::string>& seats, domain::Timestamp now,
                                                   domain::Timestamp expires_at, int max_seats_per_user) {
  auto work = [=, autoinc_mode = &autoinc_lock_mode_, fast_path = &fast_path_](MysqlConnection& db) {
    // With innodb_autoinc_lock_mode 0 or 1 (MariaDB's default) and an auto_increment_increment of
    // 1 (Galera sets it to the cluster size) a multi-row INSERT gets consecutive ids in VALUES
    // order, so the ids need no query; otherwise they are read back.
    if (autoinc_mode->load(std::memory_order_relaxed) < 0) {
      const auto mode = db.query("SELECT IF(@@auto_increment_increment = 1, @@innodb_autoinc_lock_mode, 2)");
      autoinc_mode->store(mode.rows.empty() ? 2 : static_cast<int>(to_int64(mode.rows[0][0])),
                          std::memory_order_relaxed);
    }
    const bool consecutive_ids = autoinc_mode->load(std::memory_order_relaxed) <= 1;
    const auto held_event = [&] { return domain::SeatChanged{schedule, seats, domain::SeatChange::kHeld}; };

    // Fast path: one INSERT, committed on its own (this pool runs in autocommit), taking seat
    // slots 1..n. The unique keys decide it: no live row of any of these seats (the seat key), and
    // slots 1..n free (the slot key) — as the user's live rows hold distinct slots within
    // 1..max, that leaves room for n more. So it is never more permissive than decide_hold over
    // the locked rows; every refusal (a taken or lapsed seat, a used slot) goes to the locked path
    // below, which decides over the locked rows. Saves the locking read and the COMMIT of every
    // uncontended hold (issue 14: statements per booking).
    // The slot key keeps the limit only while every live row of the schedule has a slot within
    // 1..max. Not so after the limit was lowered (or on an instance configured with a lower one),
    // or for rows made by a binary from before V6: then this schedule's holds take the locked
    // path only. Checked once per schedule and limit (one scan of its live rows).
    if (!fast_path->known(schedule, max_seats_per_user)) {
      const bool safe = db.query(
                              "SELECT NOT EXISTS (SELECT 1 FROM reservation WHERE schedule_id = ? AND active = 1 "
                              "AND (holder_slot IS NULL OR holder_slot > ?))",
                              {schedule.value, max_seats_per_user})
                            .rows.at(0)
                            .at(0) == std::optional<std::string>("1");
      if (!safe) {
        spdlog::warn(
            "schedule {}: live holds without a seat slot in 1..hold.max-seats-per-user={}: its holds take "
            "the locked path",
            schedule.value, max_seats_per_user);
      }
      fast_path->remember(schedule, max_seats_per_user, safe);
    }
    if (fast_path->safe(schedule, max_seats_per_user) && static_cast<int>(seats.size()) <= max_seats_per_user) {
      std::vector<int> slots(seats.size());
      for (std::size_t i = 0; i < slots.size(); ++i) slots[i] = static_cast<int>(i + 1);
      try {
        HoldOutcome outcome;
        outcome.kind = HoldOutcome::Kind::kHeld;
        outcome.seats = insert_holds(db, schedule, user, seats, slots, now, expires_at, consecutive_ids);
        outcome.events.push_back(held_event());
        return outcome;
      } catch (const MysqlError& error) {
        // A deadlock too: two parallel holds of overlapping seats in different orders (the
        // statement was rolled back; the locked path decides, and retries deadlocks itself).
        if (!error.is_duplicate_key() && !error.is_deadlock()) throw;
      }
    }

    // A slot refused by a parallel hold of the same user (which takes no user lock on its fast
    // path) is a conflict on bookkeeping, not a decision: run the locked path again.
    return with_deadlock_retries(
        [&]() -> HoldOutcome {
          Transaction tx(db);
          // The user's row (it serialises this user's locked-path holds) and the live rows of the
          // requested seats with their order's status and expiry (scalar subqueries: read, not
          // locked). FORCE INDEX: planned on idx_reservation_expiry instead, the scan X-locks the
          // first live hold past its range until commit, and every hold of every schedule queues
          // behind it (bench/hold-storm: 9,999 lock waits for 10,000 holds).
          Params params{schedule.value};
          append_params(params, seats);
          params.emplace_back(user.value);
          const auto loaded = db.query("SELECT u.id, " + std::string(kSeatRowColumns) +
                                           " FROM user_account u LEFT JOIN reservation r FORCE INDEX "
                                           "(uk_reservation_active_seat) ON r.schedule_id = ? AND r.seat_no IN (" +
                                           placeholders(seats.size()) + ") AND r.active = 1 WHERE u.id = ? FOR UPDATE",
                                       params);
          domain::HoldInput input{user, schedule, seats, now, expires_at, max_seats_per_user, 0, {}};
          for (const auto& row : loaded.rows) {
            RowReader read(row);
            read.int64();
            if (row[1]) input.live_rows.push_back(read_seat_row(read));
          }
          // The user's own live rows on the schedule, with their seat slots: the limit counts those
          // that are not stale; the stale ones end with this hold and free their slots. FORCE
          // INDEX: on a schedule with few live rows the optimizer may scan uk_reservation_active_seat
          // instead, and a locking scan waits for every live row it passes, other users' too —
          // holds racing for the same seats then deadlock (bench/hold-storm (b): a 500 every few
          // thousand requests).
          std::map<std::int64_t, int> slot_of;  // reservation id → slot (0: none)
          for (const auto& row :
               db.query("SELECT " + std::string(kSeatRowColumns) +
                            ", r.holder_slot FROM reservation r FORCE INDEX (uk_reservation_holder_slot) "
                            "WHERE r.user_id = ? AND r.schedule_id = ? AND r.active = 1 FOR UPDATE",
                        {user.value, schedule.value})
                   .rows) {
            RowReader read(row);
            auto own = read_seat_row(read);
            slot_of[own.id.value] = static_cast<int>(read.optional_int64().value_or(0));
            if (domain::hold_is_stale(own, now)) {
              input.own_stale_rows.push_back(std::move(own));
            } else {
              ++input.live_seats;
            }
          }
          auto decision = domain::decide_hold(input);
          if (decision.outcome.kind != HoldOutcome::Kind::kHeld) return std::move(decision.outcome);

          end_holds(db, decision.expire, ReservationStatus::kExpired, now);
          for (const auto id : decision.expire) slot_of.erase(id.value);
          // The lowest free slots. They are within 1..max unless the limit was lowered below
          // slots already taken (the limit is still kept here, by the rule; see fast_path_safe).
          std::vector<int> slots;
          for (int slot = 1; slots.size() < decision.insert.size(); ++slot) {
            bool used = false;
            for (const auto& [id, taken] : slot_of) used = used || taken == slot;
            if (!used) slots.push_back(slot);
          }
          HoldOutcome outcome = std::move(decision.outcome);
          try {
            outcome.seats = insert_holds(db, schedule, user, decision.insert, slots, now, expires_at, consecutive_ids);
          } catch (const MysqlError& error) {
            if (!error.is_duplicate_key() || refused_by_slot_key(error)) throw;
            // A parallel hold inserted one of these seats after the read above (READ COMMITTED
            // takes no gap locks): name exactly the taken seats. A locking read sees the latest
            // committed rows.
            HoldOutcome taken;
            taken.kind = HoldOutcome::Kind::kSeatsTaken;
            Params again{schedule.value};
            append_params(again, seats);
            std::unordered_set<std::string> live;
            for (const auto& row : db.query("SELECT seat_no FROM reservation WHERE schedule_id = ? AND seat_no IN (" +
                                                placeholders(seats.size()) + ") AND active = 1 LOCK IN SHARE MODE",
                                            again)
                                       .rows) {
              live.insert(to_string(row[0]));
            }
            for (const auto& seat : seats) {  // in request order, as the Redis fast path names them
              if (live.count(seat) != 0) taken.taken_seats.push_back(seat);
            }
            if (taken.taken_seats.empty()) taken.taken_seats = seats;  // released in between; still refused
            return taken;
          }
          tx.commit();
          return outcome;
        },
        /*retry_duplicate_key=*/true, /*attempts=*/5);
  };
  co_return co_await pool_.run(work);
}

Task<ReleaseOutcome> MysqlReservationRepository::release(domain::ScheduleId schedule, domain::UserId user,
                                                         const std::vector<std::string>& seats, domain::Timestamp now) {
  auto work = [=](MysqlConnection& db) {
    return with_deadlock_retries([&]() -> ReleaseOutcome {
      Transaction tx(db);
      Params params{schedule.value};
      append_params(params, seats);
      domain::ReleaseInput input{user, schedule, seats, now, {}};
      for (const auto& row : db.query("SELECT " + std::string(kSeatRowColumns) +
                                          " FROM reservation r FORCE INDEX (uk_reservation_active_seat) "
                                          "WHERE r.schedule_id = ? AND r.seat_no IN (" +
                                          placeholders(seats.size()) + ") AND r.active = 1 FOR UPDATE",
                                      params)
                                 .rows) {
        RowReader read(row);
        input.live_rows.push_back(read_seat_row(read));
      }
      auto decision = domain::decide_release(input);
      if (decision.outcome.kind != ReleaseOutcome::Kind::kReleased) return std::move(decision.outcome);
      end_holds(db, decision.cancel, ReservationStatus::kCancelled, now);
      tx.commit();
      return std::move(decision.outcome);
    });
  };
  co_return co_await pool_.run(work);
}

Task<domain::ExpiryOutcome> MysqlReservationRepository::expire_holds(domain::Timestamp now, int batch) {
  auto work = [=](MysqlConnection& db) {
    return with_deadlock_retries([&]() -> domain::ExpiryOutcome {
      Transaction tx(db);
      // SKIP LOCKED: concurrent workers (other processes) take disjoint batches, and neither a
      // payment being recorded nor a confirmation waits for this or makes it wait.
      domain::ExpiryInput input{now, {}, {}};
      for (const auto& row : db.query("SELECT id FROM payment_order WHERE status = ? AND expires_at <= ? "
                                      "ORDER BY expires_at LIMIT ? FOR UPDATE SKIP LOCKED",
                                      {domain::to_string(OrderStatus::kReady), now, batch})
                                 .rows) {
        input.expired_ready_orders.push_back(to_int64(row[0]));
      }
      // The NOT EXISTS narrows the batch to rows the rule lets go (domain::hold_is_stale): the
      // holds of a CONFIRMING or unexpired READY order would otherwise fill every batch.
      for (const auto& row :
           db.query("SELECT " + std::string(kSeatRowColumns) +
                        " FROM reservation r WHERE r.status = ? AND r.expires_at <= ? AND NOT EXISTS (SELECT 1 FROM "
                        "payment_order o WHERE o.id = r.payment_order_id AND (o.status = ? OR (o.status = ? AND "
                        "o.expires_at > ?))) ORDER BY r.expires_at LIMIT ? FOR UPDATE SKIP LOCKED",
                    {domain::to_string(ReservationStatus::kHeld), now, domain::to_string(OrderStatus::kConfirming),
                     domain::to_string(OrderStatus::kReady), now, batch})
               .rows) {
        RowReader read(row);
        input.held_rows.push_back(read_seat_row(read));
      }
      auto decision = domain::decide_expiry(input);
      domain::ExpiryOutcome outcome;
      outcome.orders_cancelled += cancel_ready_orders(db, decision.cancel_order_expired, domain::kOrderExpired, now);
      end_holds(db, decision.expire, ReservationStatus::kExpired, now);
      // A READY order whose holds expired can no longer be paid.
      outcome.orders_cancelled += cancel_ready_orders(db, decision.cancel_hold_expired, domain::kHoldExpired, now);
      tx.commit();
      outcome.expired = static_cast<std::int64_t>(decision.expire.size());
      outcome.events = std::move(decision.events);
      return outcome;
    });
  };
  co_return co_await pool_.run(work);
}

}  // namespace ticketing::infra::mysql
