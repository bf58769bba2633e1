#include "domain/time.hpp"

#include <fmt/format.h>

namespace ticketing::domain {
namespace {

struct Parts {
  int year;
  unsigned month, day;
  long long hour, minute, second, millis;
};

Parts split(Timestamp t) {
  using namespace std::chrono;
  const auto day_point = floor<days>(t);
  const year_month_day ymd{day_point};
  const auto since_midnight = t - day_point;
  const long long ms = since_midnight.count();
  return Parts{static_cast<int>(ymd.year()),
               static_cast<unsigned>(ymd.month()),
               static_cast<unsigned>(ymd.day()),
               ms / 3'600'000,
               ms / 60'000 % 60,
               ms / 1000 % 60,
               ms % 1000};
}

bool read_digits(std::string_view text, std::size_t pos, std::size_t count, int& out) {
  if (pos + count > text.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    out = out * 10 + (text[i] - '0');
  }
  return true;
}

}  // namespace

std::string to_iso8601(Timestamp t) {
  const Parts p = split(t);
  if (p.millis == 0) {
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", p.year, p.month, p.day, p.hour, p.minute, p.second);
  }
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", p.year, p.month, p.day, p.hour, p.minute, p.second,
                     p.millis);
}

std::string to_sql_datetime(Timestamp t) {
  const Parts p = split(t);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}", p.year, p.month, p.day, p.hour, p.minute, p.second,
                     p.millis);
}

std::optional<Timestamp> parse_sql_datetime(std::string_view text) {
  using namespace std::chrono;
  int y, mo, d, h, mi, s;
  if (text.size() < 19 || text[4] != '-' || text[7] != '-' || text[10] != ' ' || text[13] != ':' || text[16] != ':')
    return std::nullopt;
  if (!read_digits(text, 0, 4, y) || !read_digits(text, 5, 2, mo) || !read_digits(text, 8, 2, d) ||
      !read_digits(text, 11, 2, h) || !read_digits(text, 14, 2, mi) || !read_digits(text, 17, 2, s))
    return std::nullopt;
  int millis = 0;
  if (text.size() > 19) {
    if (text[19] != '.') return std::nullopt;
    const std::size_t digits = text.size() - 20;
    if (digits == 0 || digits > 6) return std::nullopt;
    int fraction = 0;
    if (!read_digits(text, 20, digits, fraction)) return std::nullopt;
    for (std::size_t i = digits; i < 3; ++i) fraction *= 10;
    for (std::size_t i = 3; i < digits; ++i) fraction /= 10;
    millis = fraction;
  }
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || s > 59) return std::nullopt;
  return Timestamp{sys_days{ymd}} + hours{h} + minutes{mi} + seconds{s} + milliseconds{millis};
}

std::optional<Timestamp> parse_iso8601(std::string_view text) {
  // "YYYY-MM-DDTHH:MM:SS[.fff]Z": the SQL form with a 'T' and a trailing 'Z' (UTC only).
  if (text.size() < 20 || text[10] != 'T' || text.back() != 'Z') return std::nullopt;
  std::string sql(text.substr(0, text.size() - 1));
  sql[10] = ' ';
  return parse_sql_datetime(sql);
}

}  // namespace ticketing::domain
