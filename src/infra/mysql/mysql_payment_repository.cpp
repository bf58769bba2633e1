#include "infra/mysql/mysql_payment_repository.hpp"

#include <fmt/format.h>

#include <map>
#include <set>

#include "infra/events/payment_events.hpp"
#include "infra/mysql/row_reader.hpp"
#include "infra/mysql/sql_text.hpp"
#include "infra/security/random.hpp"

namespace ticketing::infra::mysql {

using domain::ConfirmOutcome;
using domain::OrderStatus;
using domain::PaymentOrder;
using domain::PaymentRecord;
using domain::ReadyOutcome;

std::string new_order_no(domain::Timestamp now) {
  const std::string date = domain::to_sql_datetime(now).substr(0, 10);
  return fmt::format("ORD-{}{}{}-{}", date.substr(0, 4), date.substr(5, 2), date.substr(8, 2),
                     security::random_hex(6));
}

namespace {

constexpr int kRetries = 3;
constexpr std::string_view kOrderColumns =
    "o.id, o.order_no, o.user_id, o.schedule_id, o.amount, o.status, o.fail_reason, o.created_at, o.expires_at, "
    "o.paid_at, o.slot_token_issued_at";

struct OrderRow {
  PaymentOrder order;
  std::optional<domain::Timestamp> paid_at;  // when the gateway reported the payment
};

OrderRow order_from(const Row& row) {
  OrderRow out;
  out.order.id = to_int64(row[0]);
  out.order.order_no = to_string(row[1]);
  out.order.user = domain::UserId{to_int64(row[2])};
  out.order.schedule = domain::ScheduleId{to_int64(row[3])};
  out.order.amount = to_money(row[4]);
  out.order.status = domain::order_status_from(to_string(row[5])).value_or(OrderStatus::kFailed);
  if (row[6]) out.order.fail_reason = *row[6];
  out.order.created_at = to_timestamp(row[7]);
  out.order.expires_at = to_timestamp(row[8]);
  if (row[9]) out.paid_at = to_timestamp(row[9]);
  if (row[10]) out.order.slot_token_issued_at = to_timestamp(row[10]);
  return out;
}

std::optional<OrderRow> load_order(MysqlConnection& db, const std::string& where, bool for_update) {
  const auto result = db.query(fmt::format("SELECT {} FROM payment_order o WHERE {}{}", kOrderColumns, where,
                                           for_update ? " FOR UPDATE" : ""));
  if (result.rows.empty()) return std::nullopt;
  return order_from(result.rows[0]);
}

// "A-1,A-2" from GROUP_CONCAT (seat numbers never contain a comma).
std::vector<std::string> split_seats(const std::string& seats) {
  std::vector<std::string> out;
  for (std::size_t start = 0; start < seats.size();) {
    const auto end = std::min(seats.find(',', start), seats.size());
    out.push_back(seats.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// Orders with their seat numbers in one round trip. `condition`: the WHERE condition, and any
// ORDER BY / LIMIT / FOR UPDATE after it.
std::vector<OrderRow> load_orders_with_seats(MysqlConnection& db, const std::string& condition) {
  const auto result = db.query(fmt::format(
      "SELECT {}, (SELECT GROUP_CONCAT(r.seat_no ORDER BY r.seat_no SEPARATOR ',') FROM reservation r "
      "WHERE r.payment_order_id = o.id) FROM payment_order o WHERE {}",
      kOrderColumns, condition));
  std::vector<OrderRow> orders;
  orders.reserve(result.rows.size());
  for (const auto& row : result.rows) {
    orders.push_back(order_from(row));
    orders.back().order.seat_nos = split_seats(to_string(row[11]));
  }
  return orders;
}

std::optional<OrderRow> load_order_with_seats(MysqlConnection& db, const std::string& where, bool for_update) {
  auto orders = load_orders_with_seats(db, where + (for_update ? " FOR UPDATE" : ""));
  if (orders.empty()) return std::nullopt;
  return std::move(orders.front());
}

void insert_outbox(MysqlConnection& db, const std::string& event_id, std::string_view type, std::string_view topic,
                   domain::ScheduleId schedule, const std::string& payload, domain::Timestamp now) {
  db.execute(fmt::format(
      "INSERT INTO outbox_event (event_id, aggregate, type, payload, topic, message_key, created_at) "
      "VALUES ({}, 'payment_order', {}, {}, {}, '{}', {})",
      db.quote(event_id), db.quote(type), db.quote(payload), db.quote(topic), schedule.value, sql_time(db, now)));
}

void request_refund(MysqlConnection& db, const events::EventTopics& topics, const PaymentOrder& order,
                    const std::string& reason, domain::Timestamp now) {
  events::RefundRequested refund{events::new_event_id(), order.order_no, order.user, order.schedule, order.amount,
                                 reason, now};
  insert_outbox(db, refund.event_id, "RefundRequested", topics.refund_requested, order.schedule,
                events::encode_refund_requested(refund), now);
}

// A paid order some of whose seats are no longer its live holds (they expired and may be someone
// else's now): cancelled, what is left of its holds released, the money refunded.
void cancel_for_lost_holds(MysqlConnection& db, const events::EventTopics& topics, ConfirmOutcome& outcome,
                           domain::Timestamp now) {
  const std::string reason = "HOLD_EXPIRED";
  const std::string now_sql = sql_time(db, now);
  db.execute(fmt::format(
      "UPDATE reservation SET status = 'CANCELLED', active = NULL, updated_at = {} "
      "WHERE payment_order_id = {} AND status = 'HELD' AND active = 1",
      now_sql, outcome.order.id));
  db.execute(fmt::format(
      "UPDATE payment_order SET status = 'CANCELLED', fail_reason = {}, updated_at = {} WHERE id = {}",
      db.quote(reason), now_sql, outcome.order.id));
  request_refund(db, topics, outcome.order, reason, now);
  outcome.order.status = OrderStatus::kCancelled;
  outcome.order.fail_reason = reason;
  outcome.kind = ConfirmOutcome::Kind::kCancelled;
  outcome.events.push_back({outcome.order.schedule, {}, domain::SeatChange::kCancelled});  // seats: phase 3
}

std::string id_list(const std::vector<std::int64_t>& ids) {
  std::string out;
  for (const auto id : ids) {
    if (!out.empty()) out += ',';
    out += std::to_string(id);
  }
  return out;
}

// One attempt of confirm_payments (retried on deadlock): the effects of confirm_payment for every
// event, in one transaction and a fixed number of statements whatever the batch size.
std::vector<std::optional<ConfirmOutcome>> confirm_batch_once(MysqlConnection& db, const events::EventTopics& topics,
                                                              const std::vector<domain::PaymentCompleted>& events,
                                                              domain::Timestamp now) {
  std::vector<std::optional<ConfirmOutcome>> outcomes(events.size());
  Transaction tx(db);
  const std::string now_sql = sql_time(db, now);

  std::string event_ids, order_nos;
  for (const auto& event : events) {
    if (!event_ids.empty()) {
      event_ids += ',';
      order_nos += ',';
    }
    event_ids += db.quote(event.event_id);
    order_nos += db.quote(event.order_no);
  }
  std::set<std::string> seen_events;
  for (const auto& row :
       db.query(fmt::format("SELECT event_id FROM processed_event WHERE event_id IN ({})", event_ids)).rows) {
    seen_events.insert(to_string(row[0]));
  }
  std::map<std::string, OrderRow> orders;
  for (const auto& row : db.query(fmt::format("SELECT {} FROM payment_order o WHERE o.order_no IN ({}) FOR UPDATE",
                                              kOrderColumns, order_nos))
                             .rows) {
    auto order = order_from(row);
    orders.emplace(order.order.order_no, std::move(order));
  }

  // Which events this batch settles: not seen before, a known order, one event per order (a second
  // one for the same order is left to the one-by-one path, which then sees the order settled).
  std::vector<std::size_t> fresh;
  std::set<std::string> batch_orders;
  std::string processed_rows;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& event = events[i];
    if (seen_events.contains(event.event_id)) {
      outcomes[i] = ConfirmOutcome{ConfirmOutcome::Kind::kDuplicate, {}};
      continue;
    }
    if (!orders.contains(event.order_no) || batch_orders.contains(event.order_no)) continue;  // not settled here
    seen_events.insert(event.event_id);
    batch_orders.insert(event.order_no);
    fresh.push_back(i);
    processed_rows += fmt::format("{}({}, {})", processed_rows.empty() ? "" : ",", db.quote(event.event_id), now_sql);
  }
  if (fresh.empty()) {
    tx.commit();
    return outcomes;
  }
  // A consumer that took these events over in a rebalance may commit them first: the duplicate key
  // then fails the whole batch and the caller settles the events one by one.
  db.execute("INSERT INTO processed_event (event_id, processed_at) VALUES " + processed_rows);

  std::vector<std::int64_t> confirming_ids;
  for (const auto i : fresh) {
    const auto& order = orders.at(events[i].order_no).order;
    if (order.status == OrderStatus::kConfirming) confirming_ids.push_back(order.id);
  }
  std::map<std::int64_t, std::size_t> live_holds;
  if (!confirming_ids.empty()) {
    for (const auto& row :
         db.query(fmt::format("SELECT payment_order_id FROM reservation WHERE payment_order_id IN ({}) "
                              "AND status = 'HELD' AND active = 1 FOR UPDATE",
                              id_list(confirming_ids)))
             .rows) {
      ++live_holds[to_int64(row[0])];
    }
  }

  std::vector<std::int64_t> paid_ids;
  for (const auto i : fresh) {
    ConfirmOutcome outcome;
    outcome.order = orders.at(events[i].order_no).order;
    if (outcome.order.status != OrderStatus::kConfirming) {
      outcome.kind = ConfirmOutcome::Kind::kIgnored;  // remembered as processed; settled another way
    } else if (const auto held = live_holds[outcome.order.id]; held > 0 && held == events[i].seat_nos.size()) {
      paid_ids.push_back(outcome.order.id);
      outcome.order.status = OrderStatus::kPaid;
      outcome.events.push_back({outcome.order.schedule, events[i].seat_nos, domain::SeatChange::kSold});
      outcome.kind = ConfirmOutcome::Kind::kConfirmed;
    } else {
      cancel_for_lost_holds(db, topics, outcome, now);
    }
    outcomes[i] = std::move(outcome);
  }
  if (!paid_ids.empty()) {
    const std::string ids = id_list(paid_ids);
    db.execute(fmt::format("UPDATE reservation SET status = 'CONFIRMED', updated_at = {} "
                           "WHERE payment_order_id IN ({}) AND status = 'HELD' AND active = 1",
                           now_sql, ids));
    db.execute(
        fmt::format("UPDATE payment_order SET status = 'PAID', updated_at = {} WHERE id IN ({})", now_sql, ids));
  }
  tx.commit();
  return outcomes;
}

}  // namespace

Task<ReadyOutcome> MysqlPaymentRepository::create_ready_order(const domain::ReadyRequest& request,
                                                              domain::Timestamp now, domain::Timestamp expires_at) {
  auto work = [request, now, expires_at](MysqlConnection& db) -> ReadyOutcome {
    for (int attempt = 1;; ++attempt) {
      try {
        Transaction tx(db);
        const std::string now_sql = sql_time(db, now);
        // The order this user already made with this key, replayed (same request) or refused
        // (another request). Read again after the seat locks below: under READ COMMITTED this
        // FOR UPDATE finds nothing while a parallel request with the same key is still inserting,
        // and that request's order is what the seats then turn out to be in.
        // The second read takes no lock: the seat query already locked that order's row through its
        // join, and locking the key's index entry after the row (the first read's order is index,
        // then row) deadlocked with a third copy of the request.
        auto keyed_order = [&](bool lock) -> std::optional<ReadyOutcome> {
          const auto existing = db.query(fmt::format(
              "SELECT id, request_fingerprint FROM payment_order WHERE user_id = {} AND idempotency_key = {}{}",
              request.user.value, db.quote(request.idempotency_key), lock ? " FOR UPDATE" : ""));
          if (existing.rows.empty()) return std::nullopt;
          ReadyOutcome outcome;
          if (to_string(existing.rows[0][1]) != request.fingerprint) {
            outcome.kind = ReadyOutcome::Kind::kKeyReused;
            return outcome;
          }
          // Same key, same request: the order as it was created (the response is rebuilt from it,
          // byte for byte).
          auto row = load_order(db, fmt::format("o.id = {}", to_int64(existing.rows[0][0])), false);
          outcome.kind = ReadyOutcome::Kind::kReplayed;
          outcome.order = std::move(row->order);
          outcome.order.status = OrderStatus::kReady;
          outcome.order.fail_reason.reset();
          outcome.order.seat_nos = request.seat_nos;
          return outcome;
        };
        if (auto keyed = keyed_order(true)) {
          if (keyed->kind == ReadyOutcome::Kind::kReplayed) tx.commit();
          return *keyed;
        }

        const auto rows = db.query(fmt::format(
            "SELECT r.id, r.seat_no, r.expires_at > {0}, o.status, s.price, r.created_at FROM reservation r "
            "JOIN seat s ON s.schedule_id = r.schedule_id AND s.seat_no = r.seat_no "
            "LEFT JOIN payment_order o ON o.id = r.payment_order_id "
            "WHERE r.schedule_id = {1} AND r.seat_no IN {2} AND r.active = 1 AND r.user_id = {3} AND r.status = 'HELD' "
            "FOR UPDATE",
            now_sql, request.schedule.value, seat_list(db, request.seat_nos), request.user.value));
        std::map<std::string, const Row*> held;
        for (const auto& row : rows.rows) held[to_string(row[1])] = &row;
        ReadyOutcome refused;
        std::vector<std::string> not_held, in_payment;
        domain::Money amount;
        std::string ids;
        std::optional<domain::Timestamp> first_hold;
        for (const auto& seat : request.seat_nos) {
          const auto it = held.find(seat);
          if (it == held.end() || to_string((*it->second)[2]) != "1") {
            not_held.push_back(seat);
            continue;
          }
          const std::string order_status = to_string((*it->second)[3]);
          if (order_status == "READY" || order_status == "CONFIRMING") in_payment.push_back(seat);
          amount += to_money((*it->second)[4]);
          const auto held_since = to_timestamp((*it->second)[5]);
          if (!first_hold || held_since < *first_hold) first_hold = held_since;
          if (!ids.empty()) ids += ',';
          ids += to_string((*it->second)[0]);
        }
        if (!not_held.empty()) {
          // Seats that are not on the schedule at all are a 404, not "not held".
          auto unknown = seats_not_on_schedule(db, request.schedule, not_held);
          if (!unknown.empty()) {
            refused.kind = ReadyOutcome::Kind::kSeatsUnknown;
            refused.seats = std::move(unknown);
            return refused;
          }
        }
        if (!in_payment.empty()) {
          if (auto keyed = keyed_order(false)) {  // the parallel duplicate of this request won the seats
            if (keyed->kind == ReadyOutcome::Kind::kReplayed) tx.commit();
            return *keyed;
          }
          refused.kind = ReadyOutcome::Kind::kSeatsInPayment;
          refused.seats = std::move(in_payment);
          return refused;
        }
        if (!not_held.empty()) {
          refused.kind = ReadyOutcome::Kind::kSeatsNotHeld;
          refused.seats = std::move(not_held);
          return refused;
        }

        PaymentOrder order;
        order.order_no = new_order_no(now);
        order.user = request.user;
        order.schedule = request.schedule;
        order.amount = amount;
        order.status = OrderStatus::kReady;
        order.created_at = now;
        // The order lasts payment.order-ttl, but no seat stays held more than hold.max-total in all.
        order.expires_at = std::min(expires_at, *first_hold + request.hold_max_total);
        order.seat_nos = request.seat_nos;
        const auto inserted = db.execute(fmt::format(
            "INSERT INTO payment_order (order_no, user_id, schedule_id, amount, status, idempotency_key, "
            "request_fingerprint, expires_at, created_at, updated_at, slot_token_issued_at) "
            "VALUES ({}, {}, {}, {}, 'READY', {}, {}, {}, {}, {}, {})",
            db.quote(order.order_no), request.user.value, request.schedule.value, amount.to_decimal_string(),
            db.quote(request.idempotency_key), db.quote(request.fingerprint), sql_time(db, order.expires_at), now_sql,
            now_sql,
            request.slot_token_issued_at ? sql_time(db, *request.slot_token_issued_at) : std::string("NULL")));
        order.slot_token_issued_at = request.slot_token_issued_at;
        order.id = static_cast<std::int64_t>(inserted.last_insert_id);
        // The holds last until the order expires: its seats go to nobody else before that.
        db.execute(fmt::format(
            "UPDATE reservation SET payment_order_id = {}, updated_at = {}, expires_at = GREATEST(expires_at, {}) "
            "WHERE id IN ({})",
            order.id, now_sql, sql_time(db, order.expires_at), ids));
        tx.commit();
        ReadyOutcome created;
        created.order = std::move(order);
        return created;
      } catch (const MysqlError& error) {
        // A concurrent request with the same key committed first (it held the key): go again and
        // replay it. Deadlocks and an order-number collision are retried the same way.
        if ((!error.is_duplicate_key() && !error.is_deadlock()) || attempt >= kRetries) throw;
      }
    }
  };
  co_return co_await pool_.run(work);
}

namespace {

// One attempt of record_payment (retried on deadlock).
PaymentRecord record_payment_once(MysqlConnection& db, const events::EventTopics& topics,
                                  const std::string& order_no, domain::Timestamp now) {
  Transaction tx(db);
  auto row = load_order_with_seats(db, "o.order_no = " + db.quote(order_no), true);
  PaymentRecord record;
  if (!row) {
    record.kind = PaymentRecord::Kind::kNotFound;
    return record;
  }
  const std::string now_sql = sql_time(db, now);
  PaymentOrder& order = row->order;
  if (order.status == OrderStatus::kReady && order.expires_at <= now) {
    // Paid after the order expired (the expiry job has not cancelled it yet): its seats may already
    // be someone else's. It ends as any cancelled order paid late does: CANCELLED with a refund.
    db.execute(fmt::format(
        "UPDATE payment_order SET status = 'CANCELLED', fail_reason = 'ORDER_EXPIRED', paid_at = {0}, "
        "updated_at = {0} WHERE id = {1}",
        now_sql, order.id));
    order.status = OrderStatus::kCancelled;
    order.fail_reason = "ORDER_EXPIRED";
    request_refund(db, topics, order, "ORDER_EXPIRED", now);
    tx.commit();
    record.kind = PaymentRecord::Kind::kRefundRequested;
  } else if (order.status == OrderStatus::kReady) {
    db.execute(fmt::format(
        "UPDATE payment_order SET status = 'CONFIRMING', paid_at = {0}, updated_at = {0} WHERE id = {1}", now_sql,
        order.id));
    db.execute(fmt::format(
        "UPDATE reservation SET expires_at = GREATEST(expires_at, {0}), updated_at = {1} "
        "WHERE payment_order_id = {2} AND status = 'HELD' AND active = 1",
        sql_time(db, now + MysqlPaymentRepository::kConfirmationGrace), now_sql, order.id));
    const domain::PaymentCompleted event{events::new_event_id(), order.order_no, order.user, order.schedule,
                                         order.seat_nos, order.amount, now};
    insert_outbox(db, event.event_id, "PaymentCompleted", topics.payment_completed, order.schedule,
                  events::encode_payment_completed(event), now);
    tx.commit();
    order.status = OrderStatus::kConfirming;
    record.kind = PaymentRecord::Kind::kRecorded;
  } else if (order.status == OrderStatus::kCancelled && !row->paid_at) {
    // The gateway took money for an order we had already cancelled: never lose it — refund.
    db.execute(fmt::format("UPDATE payment_order SET paid_at = {0}, updated_at = {0} WHERE id = {1}", now_sql,
                           order.id));
    request_refund(db, topics, order, order.fail_reason.value_or("ORDER_CANCELLED"), now);
    tx.commit();
    record.kind = PaymentRecord::Kind::kRefundRequested;
  } else {
    record.kind = PaymentRecord::Kind::kAlreadyRecorded;  // nothing written
  }
  record.order = std::move(order);
  return record;
}

}  // namespace

Task<PaymentRecord> MysqlPaymentRepository::record_payment(const std::string& order_no, domain::Timestamp now) {
  auto work = [order_no, now, &topics = topics_](MysqlConnection& db) -> PaymentRecord {
    for (int attempt = 1;; ++attempt) {
      try {
        return record_payment_once(db, topics, order_no, now);
      } catch (const MysqlError& error) {
        if (!error.is_deadlock() || attempt >= kRetries) throw;
      }
    }
  };
  co_return co_await pool_.run(work);
}


Task<std::optional<PaymentOrder>> MysqlPaymentRepository::find_order(const std::string& order_no) {
  auto work = [order_no](MysqlConnection& db) -> std::optional<PaymentOrder> {
    auto row = load_order_with_seats(db, "o.order_no = " + db.quote(order_no), false);
    if (!row) return std::nullopt;
    return std::move(row->order);
  };
  co_return co_await pool_.run(work);
}

Task<std::vector<domain::PaymentCompleted>> MysqlPaymentRepository::unsettled_payments(domain::Timestamp paid_before,
                                                                                     int limit) {
  auto work = [paid_before, limit](MysqlConnection& db) {
    std::vector<domain::PaymentCompleted> events;
    for (auto& row : load_orders_with_seats(db, fmt::format("o.status = 'CONFIRMING' AND o.paid_at <= {} "
                                                            "ORDER BY o.paid_at LIMIT {}",
                                                            sql_time(db, paid_before), limit))) {
      auto& order = row.order;
      events.push_back(domain::PaymentCompleted{events::new_event_id(), std::move(order.order_no), order.user,
                                                order.schedule, std::move(order.seat_nos), order.amount,
                                                *row.paid_at});
    }
    return events;
  };
  co_return co_await pool_.run(work);
}

Task<std::vector<PaymentOrder>> MysqlPaymentRepository::orders_of(domain::UserId user, int limit) {
  auto work = [user, limit](MysqlConnection& db) {
    std::vector<PaymentOrder> orders;
    for (auto& row : load_orders_with_seats(
             db, fmt::format("o.user_id = {} ORDER BY o.created_at DESC, o.id DESC LIMIT {}", user.value, limit))) {
      orders.push_back(std::move(row.order));
    }
    return orders;
  };
  co_return co_await pool_.run(work);
}

Task<std::vector<domain::ReservationView>> MysqlPaymentRepository::reservations_of(domain::UserId user) {
  auto work = [user](MysqlConnection& db) {
    std::vector<domain::ReservationView> views;
    const auto rows = db.query(fmt::format(
        "SELECT r.id, r.schedule_id, r.seat_no, "
        "CASE WHEN r.status = 'HELD' AND r.expires_at <= UTC_TIMESTAMP(3) THEN 'EXPIRED' ELSE r.status END, "
        "r.expires_at, o.order_no, r.created_at FROM reservation r "
        "LEFT JOIN payment_order o ON o.id = r.payment_order_id "
        "WHERE r.user_id = {} ORDER BY r.created_at DESC, r.id DESC LIMIT 500",
        user.value));
    for (const auto& row : rows.rows) {
      domain::ReservationView view{domain::ReservationId{to_int64(row[0])}, domain::ScheduleId{to_int64(row[1])},
                                   to_string(row[2]), to_string(row[3]), to_timestamp(row[4]), std::nullopt,
                                   to_timestamp(row[6])};
      if (row[5]) view.order_no = *row[5];
      views.push_back(std::move(view));
    }
    return views;
  };
  co_return co_await pool_.run(work);
}

Task<ConfirmOutcome> MysqlPaymentRepository::confirm_payment(const domain::PaymentCompleted& event,
                                                             domain::Timestamp now) {
  auto work = [event, now, &topics = topics_](MysqlConnection& db) -> ConfirmOutcome {
    for (int attempt = 1;; ++attempt) {
      try {
        Transaction tx(db);
        const std::string now_sql = sql_time(db, now);
        ConfirmOutcome outcome;
        try {
          db.execute(fmt::format("INSERT INTO processed_event (event_id, processed_at) VALUES ({}, {})",
                                 db.quote(event.event_id), now_sql));
        } catch (const MysqlError& error) {
          if (!error.is_duplicate_key()) throw;
          outcome.kind = ConfirmOutcome::Kind::kDuplicate;  // delivered before: no second effect
          return outcome;
        }
        auto row = load_order(db, "o.order_no = " + db.quote(event.order_no), true);
        if (!row) throw std::runtime_error("PaymentCompleted for unknown order " + event.order_no);
        outcome.order = std::move(row->order);
        if (outcome.order.status != OrderStatus::kConfirming) {
          tx.commit();  // remembered as processed; the order was settled another way
          outcome.kind = ConfirmOutcome::Kind::kIgnored;
          return outcome;
        }
        const auto rows = db.query(fmt::format(
            "SELECT id FROM reservation WHERE payment_order_id = {} AND status = 'HELD' AND active = 1 FOR UPDATE",
            outcome.order.id));
        if (!rows.rows.empty() && rows.rows.size() == event.seat_nos.size()) {
          db.execute(fmt::format(
              "UPDATE reservation SET status = 'CONFIRMED', updated_at = {} "
              "WHERE payment_order_id = {} AND status = 'HELD' AND active = 1",
              now_sql, outcome.order.id));
          db.execute(fmt::format("UPDATE payment_order SET status = 'PAID', updated_at = {} WHERE id = {}", now_sql,
                                 outcome.order.id));
          outcome.order.status = OrderStatus::kPaid;
          outcome.kind = ConfirmOutcome::Kind::kConfirmed;
          outcome.events.push_back({outcome.order.schedule, event.seat_nos, domain::SeatChange::kSold});
        } else {
          cancel_for_lost_holds(db, topics, outcome, now);
        }
        tx.commit();
        return outcome;
      } catch (const MysqlError& error) {
        if (!error.is_deadlock() || attempt >= kRetries) throw;
      }
    }
  };
  co_return co_await pool_.run(work);
}

Task<std::vector<std::optional<ConfirmOutcome>>> MysqlPaymentRepository::confirm_payments(
    const std::vector<domain::PaymentCompleted>& events, domain::Timestamp now) {
  auto work = [&events, now, &topics = topics_](MysqlConnection& db) {
    for (int attempt = 1;; ++attempt) {
      try {
        return confirm_batch_once(db, topics, events, now);
      } catch (const MysqlError& error) {
        if (!error.is_deadlock() || attempt >= kRetries) throw;
      }
    }
  };
  co_return co_await pool_.run(work);
}

}  // namespace ticketing::infra::mysql
