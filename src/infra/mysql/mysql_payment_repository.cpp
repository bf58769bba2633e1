#include "infra/mysql/mysql_payment_repository.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>
#include <tuple>

#include "domain/booking_rules.hpp"
#include "domain/ports/clock.hpp"
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
using domain::ReservationStatus;

std::string new_order_no(domain::Timestamp now) {
  const std::string date = domain::to_sql_datetime(now).substr(0, 10);
  return "ORD-" + date.substr(0, 4) + date.substr(5, 2) + date.substr(8, 2) + "-" + security::random_hex(6);
}

namespace {

constexpr std::string_view kOrderColumns =
    "o.id, o.order_no, o.user_id, o.schedule_id, o.amount, o.status, o.fail_reason, o.created_at, o.expires_at, "
    "o.paid_at, o.slot_token_issued_at";
// A reservation row joined as `r` to its order `o` (read back with read_seat_row; a FOR UPDATE
// locks both).
constexpr std::string_view kJoinedSeatRowColumns =
    "r.id, r.schedule_id, r.seat_no, r.user_id, r.status, r.expires_at, r.created_at, r.payment_order_id, o.status, "
    "o.expires_at";

domain::OrderState read_order(RowReader& read) {
  domain::OrderState out;
  PaymentOrder& order = out.order;
  order.id = read.int64();
  order.order_no = read.text();
  order.user = domain::UserId{read.int64()};
  order.schedule = domain::ScheduleId{read.int64()};
  order.amount = read.money();
  order.status = to_order_status(read.text());
  order.fail_reason = read.optional_text();
  order.created_at = read.timestamp();
  order.expires_at = read.timestamp();
  out.paid_at = read.optional_timestamp();
  order.slot_token_issued_at = read.optional_timestamp();
  return out;
}

// "A-2,A-1" from GROUP_CONCAT (seat numbers never contain a comma), in seat-number order. Sorted
// here: an ORDER BY inside GROUP_CONCAT costs a temporary table on every order read, and
// seat_no's collation (utf8mb4_bin) orders by bytes as std::string does.
std::vector<std::string> split_seats(const std::string& seats) {
  std::vector<std::string> out;
  for (std::size_t start = 0; start < seats.size();) {
    const auto end = std::min(seats.find(',', start), seats.size());
    out.push_back(seats.substr(start, end - start));
    start = end + 1;
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Orders with their seat numbers in one round trip. `condition`: the WHERE condition with its
// placeholders, and any ORDER BY / LIMIT / FOR UPDATE after it. `seat_lock` (" FOR UPDATE…" or
// empty) locks the seats' rows too: a FOR UPDATE of the outer query does not lock what a subquery
// reads.
std::vector<domain::OrderState> load_orders_with_seats(MysqlConnection& db, std::string_view condition,
                                                       const Params& params, std::string_view seat_lock = {}) {
  const auto result = db.query("SELECT " + std::string(kOrderColumns) +
                                   ", (SELECT GROUP_CONCAT(r.seat_no SEPARATOR ',') FROM reservation r "
                                   "FORCE INDEX (idx_reservation_order) WHERE r.payment_order_id = o.id" +
                                   std::string(seat_lock) + ") FROM payment_order o WHERE " + std::string(condition),
                               params);
  std::vector<domain::OrderState> orders;
  orders.reserve(result.rows.size());
  for (const auto& row : result.rows) {
    RowReader read(row);
    orders.push_back(read_order(read));
    orders.back().order.seat_nos = split_seats(read.text());
  }
  return orders;
}

void insert_outbox(MysqlConnection& db, const std::string& event_id, std::string_view type, std::string_view topic,
                   domain::ScheduleId schedule, const std::string& payload, domain::Timestamp now) {
  db.execute(
      "INSERT INTO outbox_event (event_id, aggregate, type, payload, topic, message_key, created_at) "
      "VALUES (?, 'payment_order', ?, ?, ?, ?, ?)",
      {event_id, type, payload, topic, std::to_string(schedule.value), now});
}

events::RefundRequested refund_requested(const PaymentOrder& order, const std::string& reason, domain::Timestamp now) {
  return {events::new_event_id(), order.order_no, order.user, order.schedule, order.amount, reason, now};
}

void write_refund_request(MysqlConnection& db, const events::EventTopics& topics, const PaymentOrder& order,
                          const std::string& reason, domain::Timestamp now) {
  const auto refund = refund_requested(order, reason, now);
  insert_outbox(db, refund.event_id, "PaymentRefundRequested", topics.refund_requested, order.schedule,
                events::encode_refund_requested(refund), now);
}

// An IN list padded to the next power of two (repeating its last value), so a batch of any size
// uses one of a few prepared statements instead of one per size.
template <typename T>
Params padded_in_list(const std::vector<T>& values) {
  std::size_t size = 1;
  while (size < values.size()) size *= 2;
  Params params(values.begin(), values.end());
  while (params.size() < size) params.push_back(params.back());
  return params;
}

// `params.size() / per_row` rows in multi-row INSERTs (`head` then `row` per row), in chunks whose
// sizes are powers of two: a few statement shapes per connection whatever the batch sizes.
void insert_rows(MysqlConnection& db, std::string_view head, std::string_view row, std::size_t per_row,
                 const Params& params) {
  const std::size_t count = params.size() / per_row;
  for (std::size_t done = 0; done < count;) {
    std::size_t chunk = 1;
    while (chunk * 2 <= count - done) chunk *= 2;
    std::string sql(head);
    for (std::size_t i = 0; i < chunk; ++i) {
      if (i > 0) sql += ", ";
      sql += row;
    }
    const auto from = params.begin() + static_cast<std::ptrdiff_t>(done * per_row);
    db.execute(sql, Params(from, from + static_cast<std::ptrdiff_t>(chunk * per_row)));
    done += chunk;
  }
}

// ---- ready ------------------------------------------------------------------------------------

// The order this user made under the request's key. Locked on the first read; the second read
// (after the seat locks) takes no lock: the seat query already locked that order's row through its
// join, and locking the key's index entry after the row (the first read's order is index, then
// row) deadlocked with a third copy of the request.
std::optional<domain::KeyedOrder> keyed_order(MysqlConnection& db, const domain::ReadyRequest& request, bool lock) {
  const auto result = db.query(std::string("SELECT ") + std::string(kOrderColumns) +
                                   ", o.request_fingerprint FROM payment_order o WHERE o.user_id = ? AND "
                                   "o.idempotency_key = ?" +
                                   (lock ? " FOR UPDATE" : ""),
                               {request.user.value, request.idempotency_key});
  if (result.rows.empty()) return std::nullopt;
  RowReader read(result.rows[0]);
  domain::KeyedOrder keyed;
  keyed.order = read_order(read).order;
  keyed.fingerprint = read.text();
  return keyed;
}

enum class KeyState { kFree, kInFlight, kCommitted };

// The request's key after a plain read found no order under it: is another transaction writing one
// right now (its INSERT not yet committed, which a plain read does not see)? A locking read of the
// key's index entry that does not wait (NOWAIT) fails on that transaction's lock — it never waits,
// so it cannot deadlock — or finds the order committed meanwhile.
KeyState key_state(MysqlConnection& db, const domain::ReadyRequest& request) {
  try {
    const auto found =
        db.query("SELECT id FROM payment_order WHERE user_id = ? AND idempotency_key = ? FOR UPDATE NOWAIT",
                 {request.user.value, request.idempotency_key});
    return found.rows.empty() ? KeyState::kFree : KeyState::kCommitted;
  } catch (const MysqlError& error) {
    // The caller answers at once and its transaction is rolled back unused, whether the server
    // rolled back this statement only or (innodb_rollback_on_timeout) the whole transaction.
    if (error.is_lock_wait_timeout()) return KeyState::kInFlight;
    throw;
  }
}

// Appends to `rows` the live rows (HELD or CONFIRMED) of `seats` that belong to other users than the
// requester, with their orders, read without locks.
void add_live_rows_of_others(MysqlConnection& db, const domain::ReadyRequest& request,
                             const std::vector<std::string>& seats, std::vector<domain::HeldSeatRow>& rows) {
  if (seats.empty()) return;
  Params params{request.schedule.value};
  append_params(params, seats);
  params.emplace_back(request.user.value);
  for (const auto& row : db.query("SELECT s.price, " + std::string(kJoinedSeatRowColumns) +
                                      " FROM reservation r FORCE INDEX (uk_reservation_active_seat) "
                                      "JOIN seat s ON s.schedule_id = r.schedule_id AND s.seat_no = r.seat_no "
                                      "LEFT JOIN payment_order o ON o.id = r.payment_order_id "
                                      "WHERE r.schedule_id = ? AND r.seat_no IN (" +
                                      placeholders(seats.size()) + ") AND r.active = 1 AND r.user_id <> ?",
                                  params)
                             .rows) {
    RowReader read(row);
    const auto price = read.money();
    rows.push_back({read_seat_row(read), price});
  }
}

// `read_key_first`: on a first attempt the order already made with the request's key is looked up
// only when the seats refuse (the request is then a replay, or reuses its key), so a new order
// costs no extra read; the unique key (user, Idempotency-Key) refuses an INSERT whose key was taken
// meanwhile, and the retry reads the key first.
ReadyOutcome ready_once(MysqlConnection& db, const domain::ReadyRequest& request, domain::Timestamp now,
                        domain::Timestamp expires_at, bool read_key_first) {
  Transaction tx(db);
  // The order already made with this key is replayed (same request) or refused (another request).
  // Read again after the seat locks when the seats refuse: under READ COMMITTED a locking read of
  // the key finds nothing while a parallel request with the same key is still inserting, and that
  // request's order is what the seats are then in.
  domain::ReadyInput input{
      request, now, expires_at, new_order_no(now), read_key_first ? keyed_order(db, request, true) : std::nullopt,
      {},      {}};
  if (!input.keyed) {
    // One locking read: every requested seat of the schedule with its price, the user's live HELD
    // row of it (if any) and that row's order. Requested seats it does not return are unknown.
    // Only the user's own rows are locked: locking someone else's row and order here would take
    // them in the opposite order from the confirmation (order, then rows).
    // FORCE INDEX: with hardly any HELD rows in the table (as when a sale starts after another
    // one sold out) the optimizer plans the join on idx_reservation_expiry (status = 'HELD') with
    // a rowid filter on the user: a locking scan of every HELD row of every schedule per seat,
    // which waits for any hold another transaction has locked, as the hold path's did.
    Params params{request.user.value, domain::to_string(ReservationStatus::kHeld), request.schedule.value};
    append_params(params, request.seat_nos);
    std::set<std::string> known;
    for (const auto& row : db.query("SELECT s.seat_no, s.price, " + std::string(kJoinedSeatRowColumns) +
                                        " FROM seat s LEFT JOIN reservation r FORCE INDEX (uk_reservation_active_seat) "
                                        "ON r.schedule_id = s.schedule_id AND r.seat_no = s.seat_no "
                                        "AND r.active = 1 AND r.user_id = ? AND r.status = ? "
                                        "LEFT JOIN payment_order o ON o.id = r.payment_order_id "
                                        "WHERE s.schedule_id = ? AND s.seat_no IN (" +
                                        placeholders(request.seat_nos.size()) + ") FOR UPDATE",
                                    params)
                               .rows) {
      RowReader read(row);
      known.insert(read.text());
      const auto price = read.money();
      if (row[2]) input.held.push_back({read_seat_row(read), price});
    }
    for (const auto& seat : request.seat_nos) {
      if (!known.contains(seat)) input.unknown_seats.push_back(seat);
    }
  }
  auto decision = domain::decide_ready(input);
  if (decision.outcome.kind == ReadyOutcome::Kind::kSeatsNotHeld && !input.keyed) {
    // Refused: whose are the seats this user does not hold? Someone else's live hold is a 403, not
    // a 409. A plain read (no locks: nothing is written on this path), for the refused seats only.
    add_live_rows_of_others(db, request, decision.outcome.seats, input.held);
    decision = domain::decide_ready(input);
  }
  if (decision.outcome.kind != ReadyOutcome::Kind::kCreated && !input.keyed) {
    // A replay (its order holds, bought or gave up the seats) or a parallel duplicate that won them.
    input.keyed = keyed_order(db, request, false);
    if (!input.keyed) {
      const auto key = key_state(db, request);
      if (key == KeyState::kInFlight) return ReadyOutcome{ReadyOutcome::Kind::kKeyInFlight, {}, {}};
      if (key == KeyState::kCommitted) input.keyed = keyed_order(db, request, false);
    }
    if (input.keyed) decision = domain::decide_ready(input);
  }
  if (!decision.commit) return std::move(decision.outcome);  // refused: nothing written
  if (decision.outcome.kind == ReadyOutcome::Kind::kReplayed) {
    tx.commit();
    return std::move(decision.outcome);
  }
  PaymentOrder& order = decision.outcome.order;
  const auto inserted = db.execute(
      "INSERT INTO payment_order (order_no, user_id, schedule_id, amount, status, idempotency_key, "
      "request_fingerprint, expires_at, created_at, updated_at, slot_token_issued_at) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      {order.order_no, order.user.value, order.schedule.value, order.amount, domain::to_string(order.status),
       request.idempotency_key, request.fingerprint, order.expires_at, now, now, order.slot_token_issued_at});
  order.id = static_cast<std::int64_t>(inserted.last_insert_id);
  // The holds last until the order expires: its seats go to nobody else before that.
  Params link{order.id, now, order.expires_at};
  append_params(link, decision.link);
  db.execute(
      "UPDATE reservation SET payment_order_id = ?, updated_at = ?, expires_at = GREATEST(expires_at, ?) "
      "WHERE id IN (" +
          placeholders(decision.link.size()) + ")",
      link);
  tx.commit();
  return std::move(decision.outcome);
}

// ---- the gateway callback: one rule, applied to one or several orders in one transaction -------

// WAIT 2: an order another transaction keeps locked fails the read after 2 s (error 1205) instead
// of holding every callback recorded with it until the connection's read timeout cuts it off (and
// fails them all); its callback then runs alone, and the others are recorded without it. (MySQL 8
// has no WAIT: there the wait ends at innodb_lock_wait_timeout.)
//
// The orders' seat rows are locked too, after their order (the confirmation's and the refund's
// order of locks): a hold taking over a seat of an order whose expiry comes as its payment does
// locks that seat's row first and then reads the order's status unlocked. Without the seat's lock
// here the hold could find the order READY and past its expiry while this transaction was making
// it CONFIRMING — and take the seat of an order paid in time, which the confirmation would then
// cancel and refund. With it, the hold waits and finds the order CONFIRMING (or this read waits
// and finds the seat taken over, and the confirmation refunds as before). Transactions that lock
// seat rows before their order (`ready` and its replay, a hold's locked path over seats of orders,
// the expiry job) can now meet this one in a deadlock: the database ends one of them at once and
// each retries (here: the batch three times, then each callback alone three times).
//
// The gateway's success for each of `order_nos` (distinct), decided on the orders as locked here,
// written in a few statements whatever their number: the locked read, one order
// UPDATE per kind of change (one when they are all recorded), the outbox INSERTs (insert_rows),
// COMMIT.
std::vector<PaymentRecord> record_payments_once(MysqlConnection& db, const events::EventTopics& topics,
                                                const std::vector<std::string>& order_nos, domain::Timestamp now) {
  Transaction tx(db);
  const auto in_list = padded_in_list(order_nos);
  std::map<std::string, domain::OrderState> locked;
  for (auto& state : load_orders_with_seats(
           db, "o.order_no IN (" + placeholders(in_list.size()) + ")" + std::string(db.for_update_wait_2()), in_list,
           db.for_update_wait_2())) {
    locked.emplace(state.order.order_no, std::move(state));
  }
  std::vector<PaymentRecord> records;
  // (status, fail_reason, paid_at) → the orders that take them.
  std::map<std::tuple<std::string, std::optional<std::string>, std::optional<domain::Timestamp>>,
           std::vector<std::int64_t>>
      order_writes;
  Params outbox_rows;
  const auto add_outbox = [&](const std::string& event_id, std::string_view type, std::string_view topic,
                              domain::ScheduleId schedule, std::string payload) {
    outbox_rows.insert(outbox_rows.end(),
                       {event_id, type, std::move(payload), topic, std::to_string(schedule.value), now});
  };
  for (const auto& order_no : order_nos) {
    const auto it = locked.find(order_no);
    auto decision = domain::on_gateway_success(
        it == locked.end() ? std::nullopt : std::optional<domain::OrderState>(it->second), now);
    const PaymentOrder& order = decision.record.order;
    if (decision.write_order) {
      order_writes[std::make_tuple(std::string(domain::to_string(order.status)), order.fail_reason, decision.paid_at)]
          .push_back(order.id);
    }
    if (decision.emit_payment_completed) {
      const domain::PaymentCompleted event{events::new_event_id(), order.order_no, order.user, order.schedule,
                                           order.seat_nos,         order.amount,   now};
      add_outbox(event.event_id, "PaymentCompleted", topics.payment_completed, order.schedule,
                 events::encode_payment_completed(event));
    }
    if (decision.refund_reason) {
      const auto refund = refund_requested(order, *decision.refund_reason, now);
      add_outbox(refund.event_id, "PaymentRefundRequested", topics.refund_requested, order.schedule,
                 events::encode_refund_requested(refund));
    }
    records.push_back(std::move(decision.record));
  }
  if (order_writes.empty()) return records;  // nothing recorded: the locks go with the rollback
  for (const auto& [change, ids] : order_writes) {
    const auto& [status, fail_reason, paid_at] = change;
    Params params{status, fail_reason, paid_at, now};
    const auto in_ids = padded_in_list(ids);
    params.insert(params.end(), in_ids.begin(), in_ids.end());
    db.execute("UPDATE payment_order SET status = ?, fail_reason = ?, paid_at = ?, updated_at = ? WHERE id IN (" +
                   placeholders(in_ids.size()) + ")",
               params);
  }
  insert_rows(db,
              "INSERT INTO outbox_event (event_id, aggregate, type, payload, topic, message_key, created_at) VALUES ",
              "(?, 'payment_order', ?, ?, ?, ?, ?)", 6, outbox_rows);
  tx.commit();
  return records;
}

// ---- confirmation: one rule and one way of applying it for the single and the batch path --------

struct LockedOrder {
  PaymentOrder order;
  std::vector<domain::SeatRow> live_holds;
};

// The orders `condition` selects (FOR UPDATE), each with its live HELD rows, locked together.
// FORCE INDEX: as in ready's read; the optimizer would otherwise build a rowid filter from every
// HELD row of the status index on each read.
std::map<std::string, LockedOrder> lock_orders_with_holds(MysqlConnection& db, std::string_view condition,
                                                          const Params& condition_params) {
  std::map<std::string, LockedOrder> orders;
  // Every row the order was made from (its seats, to check an event against), the live ones as
  // its holds. A HELD row is always active (DESIGN.md §4).
  for (const auto& row :
       db.query("SELECT " + std::string(kOrderColumns) + ", " + std::string(kJoinedSeatRowColumns) +
                    " FROM payment_order o LEFT JOIN reservation r FORCE INDEX (idx_reservation_order) "
                    "ON r.payment_order_id = o.id WHERE " +
                    std::string(condition) + " FOR UPDATE",
                condition_params)
           .rows) {
    RowReader read(row);
    auto state = read_order(read);
    auto& locked = orders[state.order.order_no];
    if (locked.order.order_no.empty()) locked.order = std::move(state.order);
    if (!row[11]) continue;
    auto seat = read_seat_row(read);
    locked.order.seat_nos.push_back(seat.seat_no);
    if (seat.status == ReservationStatus::kHeld) locked.live_holds.push_back(std::move(seat));
  }
  return orders;
}

// The writes of a set of confirmation decisions, applied in a fixed number of statements.
struct ConfirmationWrites {
  std::vector<domain::ReservationId> confirm;
  std::vector<std::int64_t> paid;
  std::vector<domain::ReservationId> cancel;
  std::vector<std::pair<PaymentOrder, std::string>> cancelled;  // with the refund reason

  void add(const domain::ConfirmationDecision& decision) {
    confirm.insert(confirm.end(), decision.confirm.begin(), decision.confirm.end());
    cancel.insert(cancel.end(), decision.cancel.begin(), decision.cancel.end());
    if (decision.outcome.kind == ConfirmOutcome::Kind::kConfirmed) paid.push_back(decision.outcome.order.id);
    if (decision.refund_reason) cancelled.emplace_back(decision.outcome.order, *decision.refund_reason);
  }

  void apply(MysqlConnection& db, const events::EventTopics& topics, domain::Timestamp now) const {
    if (!confirm.empty()) {
      // confirmed_at issues the seat's e-ticket (V7; infra/mysql/mysql_ticket_repository.hpp).
      Params params{domain::to_string(ReservationStatus::kConfirmed), now, now};
      append_params(params, confirm);
      db.execute("UPDATE reservation SET status = ?, confirmed_at = ?, updated_at = ? WHERE id IN (" +
                     placeholders(confirm.size()) + ")",
                 params);
    }
    if (!paid.empty()) {
      Params params{domain::to_string(OrderStatus::kPaid), now};
      append_params(params, paid);
      db.execute("UPDATE payment_order SET status = ?, updated_at = ? WHERE id IN (" + placeholders(paid.size()) + ")",
                 params);
    }
    if (!cancel.empty()) {
      Params params{domain::to_string(ReservationStatus::kCancelled), now};
      append_params(params, cancel);
      db.execute("UPDATE reservation SET status = ?, active = NULL, updated_at = ? WHERE id IN (" +
                     placeholders(cancel.size()) + ")",
                 params);
    }
    for (const auto& [order, reason] : cancelled) {
      db.execute("UPDATE payment_order SET status = ?, fail_reason = ?, updated_at = ? WHERE id = ?",
                 {domain::to_string(order.status), order.fail_reason, now, order.id});
      write_refund_request(db, topics, order, reason, now);
    }
  }
};

ConfirmOutcome confirm_once(MysqlConnection& db, const events::EventTopics& topics,
                            const domain::PaymentCompleted& event, domain::Timestamp now) {
  Transaction tx(db);
  bool processed = false;
  try {
    db.execute("INSERT INTO processed_event (event_id, processed_at) VALUES (?, ?)", {event.event_id, now});
  } catch (const MysqlError& error) {
    if (!error.is_duplicate_key()) throw;
    processed = true;  // delivered before: no second effect
  }
  if (processed) return domain::decide_confirmation({&event, true, nullptr, {}}).outcome;
  auto orders = lock_orders_with_holds(db, "o.order_no = ?", {event.order_no});
  const auto it = orders.find(event.order_no);
  if (it == orders.end()) {
    // Never settleable (the consumer dead-letters it after its attempts; an operator's replay is 422).
    throw domain::DomainError(domain::ErrorCode::kUndecodableEvent,
                              "PaymentCompleted for unknown order " + event.order_no);
  }
  auto decision = domain::decide_confirmation({&event, false, &it->second.order, it->second.live_holds});
  ConfirmationWrites writes;
  writes.add(decision);
  writes.apply(db, topics, now);
  tx.commit();  // also when ignored: remembered as processed
  return std::move(decision.outcome);
}

// The effects of confirm_once for every event, in one transaction and a fixed number of
// statements whatever the batch size.
std::vector<std::optional<ConfirmOutcome>> confirm_batch_once(MysqlConnection& db, const events::EventTopics& topics,
                                                              const std::vector<domain::PaymentCompleted>& events,
                                                              domain::Timestamp now) {
  std::vector<std::optional<ConfirmOutcome>> outcomes(events.size());
  Transaction tx(db);
  Params event_ids, order_nos;
  for (const auto& event : events) {
    event_ids.emplace_back(event.event_id);
    order_nos.emplace_back(event.order_no);
  }
  std::set<std::string> seen_events;
  for (const auto& row :
       db.query("SELECT event_id FROM processed_event WHERE event_id IN (" + placeholders(events.size()) + ")",
                event_ids)
           .rows) {
    seen_events.insert(to_string(row[0]));
  }
  auto orders = lock_orders_with_holds(db, "o.order_no IN (" + placeholders(events.size()) + ")", order_nos);

  // Which events this batch settles: not seen before, a known order, one event per order (a second
  // one for the same order is left to the one-by-one path, which then sees the order settled).
  std::vector<std::size_t> fresh;
  std::set<std::string> batch_orders;
  Params processed_rows;
  std::string processed_values;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& event = events[i];
    if (seen_events.contains(event.event_id)) {
      outcomes[i] = domain::decide_confirmation({&event, true, nullptr, {}}).outcome;
      continue;
    }
    if (!orders.contains(event.order_no) || batch_orders.contains(event.order_no)) continue;  // not settled here
    // Not this order's payment: the one-by-one path refuses it (and the consumer dead-letters it).
    if (domain::payment_event_mismatch(event, orders.at(event.order_no).order)) continue;
    seen_events.insert(event.event_id);
    batch_orders.insert(event.order_no);
    fresh.push_back(i);
    processed_values += processed_values.empty() ? "(?, ?)" : ", (?, ?)";
    processed_rows.emplace_back(event.event_id);
    processed_rows.emplace_back(now);
  }
  if (fresh.empty()) {
    tx.commit();
    return outcomes;
  }
  // A consumer that took these events over in a rebalance may commit them first: the duplicate key
  // then fails the whole batch and the caller settles the events one by one.
  db.execute("INSERT INTO processed_event (event_id, processed_at) VALUES " + processed_values, processed_rows);
  ConfirmationWrites writes;
  for (const auto i : fresh) {
    const auto& locked = orders.at(events[i].order_no);
    auto decision = domain::decide_confirmation({&events[i], false, &locked.order, locked.live_holds});
    writes.add(decision);
    outcomes[i] = std::move(decision.outcome);
  }
  writes.apply(db, topics, now);
  tx.commit();
  return outcomes;
}

// ---- gateway callbacks recorded together (infra/mysql/batched_calls.hpp) -----------------------
//
// Each callback used to be a unit of work of its own: four round trips (the locked read, the
// order's UPDATE, the outbox INSERT, COMMIT) and a pool hop. Callbacks that wait for the pool
// together are now recorded in one transaction (record_payments_once).

using CallbackCalls = BatchedCalls<MysqlPaymentRepository::CallbackRequest, PaymentRecord>;

// Most callbacks one transaction records; more waiting are taken by the next round.
constexpr std::size_t kMaxRecordedTogether = 32;

void record_callbacks(MysqlConnection& db, const events::EventTopics& topics,
                      const std::vector<CallbackCalls::CallPtr>& calls, CallbackCalls& self) {
  // Decided when the orders are locked, not when the requests arrived: one may have waited for a
  // connection (db.pool-wait-timeout) while its order expired, and an expired order is refunded.
  auto locked_at = domain::SystemClock().now();
  for (const auto& call : calls) locked_at = std::max(locked_at, call->request.now);
  // The same order twice (a retried callback) is recorded after the first, and answered as such.
  std::vector<CallbackCalls::CallPtr> first, repeated;
  std::vector<std::string> order_nos;
  std::set<std::string> seen;
  for (const auto& call : calls) {
    if (seen.insert(call->request.order_no).second) {
      first.push_back(call);
      order_nos.push_back(call->request.order_no);
    } else {
      repeated.push_back(call);
    }
  }
  const auto record_alone = [&](const CallbackCalls::CallPtr& call) {
    try {
      // Its own lock time: it runs after the batch (or its failure), maybe much later.
      const auto alone_at = std::max(call->request.now, domain::SystemClock().now());
      // Three tries of at most 2 s each (FOR UPDATE WAIT 2): the gateway waits for the answer.
      auto records = with_deadlock_retries(
          [&] { return record_payments_once(db, topics, {call->request.order_no}, alone_at); }, false, 3);
      self.count_transaction(1);
      self.answer({call}, &records, nullptr);
    } catch (const MysqlError& error) {
      self.answer({call}, nullptr, std::current_exception());
      if (error.is_connection_error()) throw;
    } catch (...) {
      self.answer({call}, nullptr, std::current_exception());
    }
  };
  if (first.size() == 1) {
    record_alone(first.front());
  } else {
    bool alone = false;
    try {
      // Deadlocks are retried together; a lock wait that timed out (one order kept locked) is not:
      // each callback then goes alone, so only that order's waits again.
      std::vector<PaymentRecord> records;
      for (int attempt = 1;; ++attempt) {
        try {
          records = record_payments_once(db, topics, order_nos, locked_at);
          break;
        } catch (const MysqlError& error) {
          if (!error.is_deadlock() || error.is_lock_wait_timeout() || attempt >= 3) throw;
          pause_before_retry(attempt);
        }
      }
      self.count_transaction(records.size());
      self.answer(first, &records, nullptr);
    } catch (const MysqlError& error) {
      if (error.is_connection_error()) throw;  // every call gets it; the pool drops the connection
      alone = true;
    } catch (...) {
      alone = true;
    }
    // One order's failure must not fail the others: each alone, in a transaction of its own.
    if (alone) {
      for (const auto& call : first) record_alone(call);
    }
  }
  for (const auto& call : repeated) record_alone(call);
}

}  // namespace

MysqlPaymentRepository::MysqlPaymentRepository(MysqlPool& pool, events::EventTopics topics)
    : pool_(pool),
      topics_(std::move(topics)),
      callbacks_(pool, kMaxRecordedTogether, [this](MysqlConnection& db, const auto& calls, auto& self) {
        record_callbacks(db, topics_, calls, self);
      }) {}

MysqlPaymentRepository::~MysqlPaymentRepository() = default;

MysqlPaymentRepository::CallStats MysqlPaymentRepository::callback_stats() const {
  return callbacks_.stats();
}

Task<ReadyOutcome> MysqlPaymentRepository::create_ready_order(const domain::ReadyRequest& request,
                                                              domain::Timestamp now, domain::Timestamp expires_at) {
  auto work = [request, now, expires_at](MysqlConnection& db) -> ReadyOutcome {
    // A concurrent request with the same key committed first (it held the key): go again and
    // replay it. Deadlocks and an order-number collision are retried the same way.
    int attempt = 0;
    return with_deadlock_retries([&] { return ready_once(db, request, now, expires_at, ++attempt > 1); }, true);
  };
  co_return co_await pool_.run(work);
}

Task<PaymentRecord> MysqlPaymentRepository::record_payment(const std::string& order_no, domain::Timestamp now) {
  const CallbackRequest request{order_no, now};
  co_return co_await callbacks_.call(request);
}

Task<std::optional<PaymentOrder>> MysqlPaymentRepository::find_order(const std::string& order_no) {
  auto work = [order_no](MysqlConnection& db) -> std::optional<PaymentOrder> {
    auto rows = load_orders_with_seats(db, "o.order_no = ?", {order_no});
    if (rows.empty()) return std::nullopt;
    return std::move(rows.front().order);
  };
  co_return co_await pool_.run(work);
}

Task<std::vector<domain::PaymentCompleted>> MysqlPaymentRepository::unsettled_payments(domain::Timestamp paid_before,
                                                                                       int limit) {
  auto work = [paid_before, limit](MysqlConnection& db) {
    std::vector<domain::PaymentCompleted> events;
    for (auto& row : load_orders_with_seats(db, "o.status = ? AND o.paid_at <= ? ORDER BY o.paid_at LIMIT ?",
                                            {domain::to_string(OrderStatus::kConfirming), paid_before, limit})) {
      auto& order = row.order;
      events.push_back(domain::PaymentCompleted{events::new_event_id(), std::move(order.order_no), order.user,
                                                order.schedule, std::move(order.seat_nos), order.amount, *row.paid_at});
    }
    return events;
  };
  co_return co_await pool_.run(work);
}

Task<std::vector<PaymentOrder>> MysqlPaymentRepository::orders_of(domain::UserId user, int limit) {
  auto work = [user, limit](MysqlConnection& db) {
    std::vector<PaymentOrder> orders;
    for (auto& row : load_orders_with_seats(db, "o.user_id = ? ORDER BY o.created_at DESC, o.id DESC LIMIT ?",
                                            {user.value, limit})) {
      orders.push_back(std::move(row.order));
    }
    return orders;
  };
  co_return co_await pool_.run(work);
}

Task<std::vector<domain::ReservationView>> MysqlPaymentRepository::reservations_of(domain::UserId user) {
  auto work = [user](MysqlConnection& db) {
    std::vector<domain::ReservationView> views;
    const auto rows =
        db.query("SELECT " + std::string(kJoinedSeatRowColumns) +
                     ", o.order_no FROM reservation r LEFT JOIN payment_order o ON o.id = r.payment_order_id "
                     "WHERE r.user_id = ? ORDER BY r.created_at DESC, r.id DESC LIMIT 500",
                 {user.value});
    const auto now = std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
    for (const auto& row : rows.rows) {
      RowReader read(row);
      const auto seat = read_seat_row(read);
      // A stale hold is shown as what it is about to become.
      const auto status = domain::hold_is_stale(seat, now) ? ReservationStatus::kExpired : seat.status;
      domain::ReservationView view{seat.id,         seat.schedule,        seat.seat_no,   status,
                                   seat.expires_at, read.optional_text(), seat.created_at};
      views.push_back(std::move(view));
    }
    return views;
  };
  co_return co_await pool_.run(work);
}

Task<ConfirmOutcome> MysqlPaymentRepository::confirm_payment(const domain::PaymentCompleted& event,
                                                             domain::Timestamp now) {
  auto work = [event, now, &topics = topics_](MysqlConnection& db) -> ConfirmOutcome {
    return with_deadlock_retries([&] { return confirm_once(db, topics, event, now); });
  };
  co_return co_await pool_.run(work);
}

Task<std::vector<std::optional<ConfirmOutcome>>> MysqlPaymentRepository::confirm_payments(
    const std::vector<domain::PaymentCompleted>& events, domain::Timestamp now) {
  auto work = [&events, now, &topics = topics_](MysqlConnection& db) {
    return with_deadlock_retries([&] { return confirm_batch_once(db, topics, events, now); });
  };
  co_return co_await pool_.run(work);
}

std::optional<domain::PaymentOrder> lock_order(MysqlConnection& db, const std::string& order_no) {
  auto orders = load_orders_with_seats(db, "o.order_no = ? FOR UPDATE", {order_no});
  if (orders.empty()) return std::nullopt;
  return std::move(orders.front().order);
}

void request_refund(MysqlConnection& db, const events::EventTopics& topics, const domain::PaymentOrder& order,
                    const std::string& reason, domain::Timestamp now) {
  write_refund_request(db, topics, order, reason, now);
}

}  // namespace ticketing::infra::mysql
