#include "infra/mysql/mysql_ticket_repository.hpp"

#include "domain/reservation.hpp"
#include "infra/mysql/row_reader.hpp"

namespace ticketing::infra::mysql {

using domain::ReservationStatus;
using domain::TicketStatus;

Task<std::vector<domain::TicketRecord>> MysqlTicketRepository::tickets_of(domain::UserId user, int limit) {
  auto work = [user, limit](MysqlConnection& db) {
    std::vector<domain::TicketRecord> tickets;
    const auto rows = db.query(
        "SELECT r.id, o.order_no, r.schedule_id, c.title, s.show_at, r.seat_no, st.section, st.price, r.status, "
        "r.user_id, r.confirmed_at FROM reservation r "
        "JOIN payment_order o ON o.id = r.payment_order_id "
        "JOIN schedule s ON s.id = r.schedule_id JOIN concert c ON c.id = s.concert_id "
        "JOIN seat st ON st.schedule_id = r.schedule_id AND st.seat_no = r.seat_no "
        "WHERE r.user_id = ? AND r.confirmed_at IS NOT NULL ORDER BY r.confirmed_at DESC, r.id DESC LIMIT ?",
        {user.value, limit});
    for (const auto& row : rows.rows) {
      RowReader read(row);
      domain::TicketRecord ticket;
      ticket.id = domain::TicketId{read.int64()};
      ticket.order_no = read.text();
      ticket.schedule = domain::ScheduleId{read.int64()};
      ticket.concert_title = read.text();
      ticket.show_at = read.timestamp();
      ticket.seat_no = read.text();
      ticket.section = read.text();
      ticket.price = read.money();
      const auto status = domain::reservation_status_from(read.text());
      ticket.status = status == ReservationStatus::kConfirmed ? TicketStatus::kValid : TicketStatus::kRevoked;
      ticket.holder = domain::UserId{read.int64()};
      ticket.confirmed_at = read.timestamp();
      tickets.push_back(std::move(ticket));
    }
    return tickets;
  };
  co_return co_await pool_.run(work);
}

Task<std::vector<domain::TicketId>> MysqlTicketRepository::revoked_tickets(domain::Timestamp shows_after, int limit) {
  auto work = [shows_after, limit](MysqlConnection& db) {
    std::vector<domain::TicketId> ids;
    // idx_reservation_revoked: only rows that left CONFIRMED after being confirmed are read.
    const auto rows = db.query(
        "SELECT r.id FROM reservation r JOIN schedule s ON s.id = r.schedule_id "
        "WHERE r.status IN (?, ?) AND r.confirmed_at IS NOT NULL AND s.show_at > ? ORDER BY r.id LIMIT ?",
        {domain::to_string(ReservationStatus::kCancelled), domain::to_string(ReservationStatus::kExpired), shows_after,
         limit});
    ids.reserve(rows.rows.size());
    for (const auto& row : rows.rows) ids.push_back(domain::TicketId{to_int64(row[0])});
    return ids;
  };
  co_return co_await pool_.run(work);
}

}  // namespace ticketing::infra::mysql
