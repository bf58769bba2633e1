#pragma once
// SQL fragments and small queries shared by the repositories.
#include <string>
#include <vector>

#include "domain/ids.hpp"
#include "domain/time.hpp"
#include "infra/mysql/mysql_connection.hpp"

namespace ticketing::infra::mysql {

// ('A-1','A-2') — seat numbers are validated ([A-Za-z0-9-]) and escaped anyway.
std::string seat_list(MysqlConnection& db, const std::vector<std::string>& seats);
// A quoted DATETIME(3) literal (UTC).
std::string sql_time(MysqlConnection& db, domain::Timestamp t);
// The seats of `seats` the schedule does not have, in the order given (one indexed query).
std::vector<std::string> seats_not_on_schedule(MysqlConnection& db, domain::ScheduleId schedule,
                                               const std::vector<std::string>& seats);

}  // namespace ticketing::infra::mysql
