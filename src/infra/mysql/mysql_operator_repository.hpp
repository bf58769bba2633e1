#pragma once
#include "domain/ports/operator_repository.hpp"
#include "infra/events/payment_events.hpp"
#include "infra/mysql/mysql_pool.hpp"

namespace ticketing::infra::mysql {

// The operator console on MySQL/MariaDB: venues (venue, venue_seat), schedules' controls, and the
// append-only admin_audit, each change and its audit row in one transaction.
class MysqlOperatorRepository final : public domain::OperatorRepository {
 public:
  MysqlOperatorRepository(MysqlPool& pool, events::EventTopics topics) : pool_(pool), topics_(std::move(topics)) {}

  Task<std::vector<domain::AuditEntry>> audit(int limit, std::optional<std::int64_t> before_id,
                                              std::optional<domain::AuditKind> kind) override;
  Task<void> record_refused(const domain::AuditContext& who, std::string_view action, std::string_view target,
                            std::string_view refusal) override;
  Task<void> record_read(const domain::AuditContext& who, std::string_view action, std::string_view target,
                         std::string_view asked) override;
  Task<domain::VenueSummary> create_venue(const std::string& name, const domain::VenueLayout& layout,
                                          const domain::AuditContext& who) override;
  Task<std::vector<domain::VenueSummary>> list_venues() override;
  Task<std::optional<domain::VenueSummary>> replace_layout(domain::VenueId venue, const domain::VenueLayout& layout,
                                                           domain::Timestamp now,
                                                           const domain::AuditContext& who) override;
  Task<domain::Concert> create_concert(const std::string& title, const std::string& description,
                                       const domain::AuditContext& who) override;
  Task<domain::ScheduleDetail> create_schedule(const domain::NewSchedule& request,
                                               const domain::AuditContext& who) override;
  Task<std::optional<domain::ScheduleDetail>> find_schedule(domain::ScheduleId schedule) override;
  Task<std::optional<domain::Schedule>> set_sale_state(domain::ScheduleId schedule, domain::SaleState state,
                                                       const domain::AuditContext& who) override;
  Task<std::optional<domain::Schedule>> update_queue_settings(domain::ScheduleId schedule,
                                                              const domain::QueueSettings& patch,
                                                              const domain::AuditContext& who) override;
  Task<std::optional<domain::ScheduleSales>> sales(domain::ScheduleId schedule) override;
  Task<std::vector<domain::Schedule>> controlled_schedules() override;
  Task<std::vector<domain::OrderLookup>> orders_by_number(const std::string& order_no) override;
  Task<std::vector<domain::OrderLookup>> orders_by_email(const std::string& email, int limit) override;
  Task<domain::RefundResult> refund_order(const std::string& order_no, domain::Timestamp now,
                                          const domain::AuditContext& who) override;

 private:
  MysqlPool& pool_;
  events::EventTopics topics_;
};

// Appends an admin_audit row on `db` (inside the caller's transaction).
void insert_audit(MysqlConnection& db, const domain::AuditContext& who, std::string_view action,
                  std::string_view target, const domain::Change& change);
// A served call that changed nothing (kind READ): `asked` (JSON) says what was asked for; or a
// refused one (kind REFUSED), with the answer it got.
void insert_read_audit(MysqlConnection& db, const domain::AuditContext& who, std::string_view action,
                       std::string_view target, std::string_view asked,
                       domain::AuditKind kind = domain::AuditKind::kRead);

// The console's creations on `db`, inside the caller's transaction, each with its audit row: the
// repository's create_* run them in a transaction of their own, the demo seed in its one big one.
domain::VenueSummary insert_venue(MysqlConnection& db, const std::string& name, const domain::VenueLayout& layout,
                                  const domain::AuditContext& who);
domain::Concert insert_concert(MysqlConnection& db, const std::string& title, const std::string& description,
                               const domain::AuditContext& who);
// 404 naming concertId / venueId that do not exist; 400 naming prices for a tier the venue lacks.
domain::ScheduleDetail insert_schedule(MysqlConnection& db, const domain::NewSchedule& request,
                                       const domain::AuditContext& who);

// The JSON an audit row keeps for a schedule (its times, sale state and settings).
// `created`: the request that made it (its venue and the tier prices it set are part of the record).
std::string schedule_audit_json(const domain::Schedule& schedule, const domain::NewSchedule* created = nullptr);

}  // namespace ticketing::infra::mysql
