#pragma once
// Time is UTC everywhere (DESIGN.md §5). Millisecond precision matches DATETIME(3) columns.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace ticketing::domain {

using Timestamp = std::chrono::sys_time<std::chrono::milliseconds>;

// ISO-8601 with Z: "2026-11-24T18:30:00Z", or with ".250Z" when there are milliseconds.
std::string to_iso8601(Timestamp t);
// "YYYY-MM-DD HH:MM:SS[.fff]" as MariaDB returns DATETIME(3) — interpreted as UTC.
std::optional<Timestamp> parse_sql_datetime(std::string_view text);
// "YYYY-MM-DDTHH:MM:SS[.fff]Z" (UTC, as to_iso8601 writes); nullopt for anything else.
std::optional<Timestamp> parse_iso8601(std::string_view text);
// "YYYY-MM-DD HH:MM:SS.fff", the literal form for SQL.
std::string to_sql_datetime(Timestamp t);

}  // namespace ticketing::domain
