#include "infra/mysql/mysql_dead_letter_store.hpp"

#include <limits>
#include <string>

#include "domain/errors.hpp"
#include "infra/events/payment_events.hpp"
#include "infra/mysql/mysql_operator_repository.hpp"
#include "infra/mysql/row_reader.hpp"
#include "support/json_writer.hpp"
#include "support/utf8.hpp"

namespace ticketing::infra::mysql {
namespace {

using domain::DomainError;
using domain::ErrorCode;

constexpr std::string_view kColumns =
    "id, topic, partition_no, offset_no, message_key, payload, error, created_at, replayed_at, discarded_at, "
    "discard_reason";

domain::DeadLetter read_letter(const Row& row) {
  RowReader read(row);
  domain::DeadLetter letter;
  letter.id = read.int64();
  letter.topic = read.text();
  letter.partition = static_cast<std::int32_t>(read.int64());
  letter.offset = read.int64();
  letter.key = read.optional_text();
  letter.payload = read.text();
  letter.error = read.text();
  letter.created_at = read.timestamp();
  letter.replayed_at = read.optional_timestamp();
  letter.discarded_at = read.optional_timestamp();
  letter.discard_reason = read.optional_text();
  return letter;
}

}  // namespace

Task<void> MysqlDeadLetterStore::record(const domain::DeadLetter& letter) {
  auto work = [&](MysqlConnection& db) {
    // INSERT IGNORE: the unique (topic, partition, offset, SHA-256 of the payload) makes a second
    // record of one message a no-op, while another message at a reused position (a topic made
    // again) is recorded (migration V14).
    db.execute(
        "INSERT IGNORE INTO dead_letter (topic, partition_no, offset_no, message_key, payload, payload_sha256, error) "
        "VALUES (?, ?, ?, ?, ?, SHA2(?, 256), ?)",
        {letter.topic, static_cast<std::int64_t>(letter.partition), letter.offset, letter.key, letter.payload,
         letter.payload, std::string(support::utf8_prefix(letter.error, 512))});
    return 0;
  };
  co_await pool_.run(work);
}

Task<std::vector<domain::DeadLetter>> MysqlDeadLetterStore::list(int limit, bool pending_only,
                                                                 std::optional<std::int64_t> before) {
  auto work = [&](MysqlConnection& db) {
    // `before` absent: below every id (ids are at most 2^63-1).
    const auto rows = db.query("SELECT " + std::string(kColumns) + " FROM dead_letter WHERE id < ? " +
                                   (pending_only ? "AND replayed_at IS NULL AND discarded_at IS NULL " : "") +
                                   "ORDER BY id DESC LIMIT ?",
                               {before.value_or(std::numeric_limits<std::int64_t>::max()), limit});
    std::vector<domain::DeadLetter> letters;
    for (const auto& row : rows.rows) letters.push_back(read_letter(row));
    return letters;
  };
  co_return co_await pool_.run(work);
}

Task<std::optional<domain::ReplayableDeadLetter>> MysqlDeadLetterStore::find(std::int64_t id) {
  auto work = [&](MysqlConnection& db) -> std::optional<domain::ReplayableDeadLetter> {
    const auto rows = db.query("SELECT " + std::string(kColumns) + " FROM dead_letter WHERE id = ?", {id});
    if (rows.rows.empty()) return std::nullopt;
    domain::ReplayableDeadLetter found;
    found.letter = read_letter(rows.rows[0]);
    found.event = events::decode_payment_completed(found.letter.payload, found.decode_error);
    return found;
  };
  co_return co_await pool_.run(work);
}

Task<void> MysqlDeadLetterStore::mark_replayed(std::int64_t id, domain::Timestamp now, const domain::AuditContext& who,
                                               const std::string& outcome) {
  auto work = [&](MysqlConnection& db) {
    Transaction tx(db);
    // replayed_at keeps the first replay's time.
    const bool first =
        db.execute("UPDATE dead_letter SET replayed_at = ? WHERE id = ? AND replayed_at IS NULL", {now, id})
            .affected_rows > 0;
    support::JsonWriter after;
    after.begin_object().key("replayed").boolean(true).key("outcome").string(outcome).end_object();
    const std::string target = "dead-letter:" + std::to_string(id);
    if (first || outcome == "confirmed" || outcome == "cancelled") {
      support::JsonWriter before;
      before.begin_object().key("replayed").boolean(!first).end_object();
      insert_audit(db, who, "dead-letter.replay", target, {std::move(before).str(), std::move(after).str()});
    } else {
      // A repeat that found the event settled changed nothing: a read (docs/operations.md).
      insert_read_audit(db, who, "dead-letter.replay", target, std::move(after).str());
    }
    tx.commit();
    return 0;
  };
  co_await pool_.run(work);
}

Task<domain::DeadLetter> MysqlDeadLetterStore::discard(std::int64_t id, domain::Timestamp now,
                                                       const domain::AuditContext& who, const std::string& reason) {
  auto work = [&](MysqlConnection& db) {
    Transaction tx(db);
    const auto rows = db.query("SELECT " + std::string(kColumns) + " FROM dead_letter WHERE id = ? FOR UPDATE", {id});
    if (rows.rows.empty()) throw DomainError(ErrorCode::kNotFound, "dead letter " + std::to_string(id) + " not found");
    auto letter = read_letter(rows.rows[0]);
    if (letter.replayed_at || letter.discarded_at) {
      throw DomainError(ErrorCode::kConflict, "dead letter " + std::to_string(id) + " was " +
                                                  (letter.replayed_at ? "replayed" : "discarded") + " already");
    }
    db.execute("UPDATE dead_letter SET discarded_at = ?, discard_reason = ? WHERE id = ?", {now, reason, id});
    letter.discarded_at = now;
    letter.discard_reason = reason;
    support::JsonWriter before;
    before.begin_object().key("discarded").boolean(false).end_object();
    support::JsonWriter after;
    after.begin_object().key("discarded").boolean(true).key("reason").string(reason).end_object();
    insert_audit(db, who, "dead-letter.discard", "dead-letter:" + std::to_string(id),
                 {std::move(before).str(), std::move(after).str()});
    tx.commit();
    return letter;
  };
  co_return co_await pool_.run(work);
}

}  // namespace ticketing::infra::mysql
