// The shipped observability and deployment files (issue 6, acceptance 1 and 3):
//  - every PromQL expression in deploy/grafana/dashboards/*.json returns at least one series from a
//    real Prometheus (Debian's package) that scraped this service after queue → hold → pay traffic;
//  - deploy/prometheus/prometheus.yml passes `promtool check config`, and `scripts/services start
//    prometheus` runs a local Prometheus from it;
//  - `docker-compose config` accepts docker-compose.yml and everything it mounts or builds from
//    exists; the Dockerfile's package lists match scripts/install-deps and the binary's libraries.
// Missing tools fail (scripts/install-deps installs prometheus and docker-compose); nothing is skipped.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "support.hpp"

using namespace ticketing::testing;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

// The checkout: TICKETING_TEST_ROOT (scripts/test sets it), else the nearest ancestor of the working
// directory or of this executable that holds docker-compose.yml and deploy/.
fs::path repo_root() {
  if (const char* root = std::getenv("TICKETING_TEST_ROOT"); root && *root) return fs::path(root);
  std::error_code ec;
  for (fs::path start : {fs::current_path(ec), fs::read_symlink("/proc/self/exe", ec).parent_path()}) {
    for (fs::path dir = start; !dir.empty(); dir = dir.parent_path()) {
      if (fs::exists(dir / "docker-compose.yml") && fs::is_directory(dir / "deploy")) return dir;
      if (dir == dir.root_path()) break;
    }
  }
  return fs::path("..");
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

CommandResult run(const std::string& command) {
  CommandResult result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return result;
  char buffer[4096];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) result.output.append(buffer, n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

bool on_path(const std::string& tool) {
  return run("command -v " + shell_quote(tool) + " >/dev/null").exit_code == 0;
}

// A scratch directory, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "ticketing-obs-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string url_encode(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

// The http() helper returns the body as sent; Prometheus (Go) chunks larger answers.
std::string decoded_body(const HttpResponse& response) {
  std::string encoding = response.header("transfer-encoding");
  std::transform(encoding.begin(), encoding.end(), encoding.begin(), [](unsigned char c) { return std::tolower(c); });
  if (encoding.find("chunked") == std::string::npos) return response.body;
  std::string out;
  const std::string& in = response.body;
  std::size_t pos = 0;
  while (pos < in.size()) {
    const auto eol = in.find("\r\n", pos);
    if (eol == std::string::npos) break;
    const auto size = std::stoul(in.substr(pos, eol - pos), nullptr, 16);
    if (size == 0) break;
    out.append(in, eol + 2, size);
    pos = eol + 2 + size + 2;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Prometheus HTTP API

struct QueryResult {
  bool success = false;
  std::vector<json::object> series;  // vector/matrix elements; a scalar counts as one
  std::string error;
};

QueryResult prometheus_query(std::uint16_t port, const std::string& expr) {
  QueryResult out;
  HttpResponse response;
  try {
    response = http(port, "GET", "/api/v1/query?query=" + url_encode(expr));
  } catch (const std::exception& e) {
    out.error = e.what();
    return out;
  }
  const std::string body = decoded_body(response);
  boost::system::error_code ec;
  const json::value answer = json::parse(body, ec);
  if (ec || !answer.is_object()) {
    out.error = fmt::format("HTTP {}: {}", response.status, body.substr(0, 300));
    return out;
  }
  const auto& object = answer.as_object();
  if (object.at("status") != "success") {
    out.error = json::serialize(answer).substr(0, 500);
    return out;
  }
  out.success = true;
  const auto& data = object.at("data").as_object();
  const auto& result = data.at("result");
  if (result.is_array()) {
    for (const auto& element : result.as_array()) out.series.push_back(element.as_object());
  } else {
    out.series.push_back(json::object{{"value", result}});
  }
  return out;
}

bool prometheus_has_data(std::uint16_t port, const std::string& expr) {
  const auto result = prometheus_query(port, expr);
  return result.success && !result.series.empty();
}

// ---------------------------------------------------------------------------------------------
// Dashboards

struct DashboardQuery {
  std::string where;  // file › panel title › refId, for messages
  std::string expr;
};

struct Variable {
  std::string name;
  std::string query;  // label_values(SELECTOR, LABEL)
  bool include_all = false;
  std::string all_value;
};

struct Dashboard {
  std::string file;
  json::object root;
  std::vector<DashboardQuery> queries;
  std::vector<Variable> variables;
  std::vector<json::object> panels;  // every panel, rows' nested panels included
  int targets_without_expr = 0;
};

std::string str(const json::value& v) {
  return v.is_string() ? std::string(v.as_string()) : json::serialize(v);
}

void collect_panels(const json::array& panels, Dashboard& dashboard) {
  for (const auto& value : panels) {
    const auto& panel = value.as_object();
    dashboard.panels.push_back(panel);
    const std::string title = panel.contains("title") ? str(panel.at("title")) : "(untitled)";
    if (const auto* targets = panel.if_contains("targets")) {
      for (const auto& target : targets->as_array()) {
        const auto& t = target.as_object();
        const auto* expr = t.if_contains("expr");
        if (!expr || !expr->is_string() || expr->as_string().empty()) {
          ++dashboard.targets_without_expr;
          continue;
        }
        const std::string ref = t.contains("refId") ? str(t.at("refId")) : "?";
        dashboard.queries.push_back({fmt::format("{} › {} › {}", dashboard.file, title, ref), str(*expr)});
      }
    }
    // Collapsed rows keep their panels inside the row.
    if (const auto* nested = panel.if_contains("panels")) collect_panels(nested->as_array(), dashboard);
  }
}

std::vector<Dashboard> load_dashboards(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<Dashboard> out;
  for (const auto& file : files) {
    Dashboard dashboard;
    dashboard.file = file.filename().string();
    boost::system::error_code ec;
    auto parsed = json::parse(read_text(file), ec);
    if (ec || !parsed.is_object()) throw std::runtime_error(file.string() + " is not a JSON object: " + ec.message());
    dashboard.root = parsed.as_object();
    if (const auto* panels = dashboard.root.if_contains("panels")) collect_panels(panels->as_array(), dashboard);
    if (const auto* templating = dashboard.root.if_contains("templating")) {
      for (const auto& value : templating->as_object().at("list").as_array()) {
        const auto& v = value.as_object();
        Variable variable;
        variable.name = str(v.at("name"));
        if (const auto* q = v.if_contains("query")) {
          variable.query = q->is_object() ? str(q->as_object().at("query")) : str(*q);
        }
        variable.include_all = v.contains("includeAll") && v.at("includeAll").as_bool();
        variable.all_value = v.contains("allValue") && v.at("allValue").is_string() ? str(v.at("allValue")) : ".*";
        dashboard.variables.push_back(variable);
      }
    }
    out.push_back(std::move(dashboard));
  }
  return out;
}

void replace_all(std::string& text, const std::string& from, const std::string& to) {
  for (auto pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size())) {
    text.replace(pos, from.size(), to);
  }
}

// Grafana's built-in interval variables, then the dashboard's own ($name, ${name}, [[name]]).
std::string substitute(std::string expr, const std::map<std::string, std::string>& values) {
  for (const auto& [name, value] :
       std::map<std::string, std::string>{{"__rate_interval", "30s"}, {"__interval", "5s"}, {"__range", "5m"}}) {
    replace_all(expr, "${" + name + "}", value);
    replace_all(expr, "$" + name, value);
  }
  // Longest names first, so $instance never eats the start of $instances.
  std::vector<std::pair<std::string, std::string>> ordered(values.begin(), values.end());
  std::sort(ordered.begin(), ordered.end(), [](auto& a, auto& b) { return a.first.size() > b.first.size(); });
  for (const auto& [name, value] : ordered) {
    replace_all(expr, "${" + name + "}", value);
    replace_all(expr, "[[" + name + "]]", value);
    replace_all(expr, "$" + name, value);
  }
  return expr;
}

// Evaluates each variable's label_values() query the way Grafana would and picks its value: the
// "All" value for multi/all variables, else the first value (the dashboards sort ascending).
std::map<std::string, std::string> resolve_variables(std::uint16_t port, const Dashboard& dashboard,
                                                     std::vector<std::string>* problems) {
  static const std::regex label_values(R"(^\s*label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$)");
  std::map<std::string, std::string> values;
  for (const auto& variable : dashboard.variables) {
    std::smatch m;
    const std::string query = substitute(variable.query, values);
    if (!std::regex_match(query, m, label_values)) {
      if (problems)
        problems->push_back(fmt::format("{}: variable ${}: query '{}' is not label_values(selector, label)",
                                        dashboard.file, variable.name, variable.query));
      values[variable.name] = variable.all_value;
      continue;
    }
    const std::string label = m[2];
    const auto result = prometheus_query(port, fmt::format("count by ({}) ({})", label, std::string(m[1])));
    std::vector<std::string> found;
    for (const auto& series : result.series) {
      const auto* metric = series.if_contains("metric");
      if (metric && metric->as_object().contains(label)) found.push_back(str(metric->as_object().at(label)));
    }
    std::sort(found.begin(), found.end());
    if (found.empty() && problems) {
      problems->push_back(
          fmt::format("{}: variable ${} ({}) has no values: {}", dashboard.file, variable.name, query, result.error));
    }
    values[variable.name] = variable.include_all ? variable.all_value : (found.empty() ? "" : found.front());
  }
  return values;
}

bool all_nan(const QueryResult& result) {
  for (const auto& series : result.series) {
    const auto* value = series.if_contains("value");
    if (!value || !value->is_array() || value->as_array().size() != 2 || value->as_array()[1] != "NaN") return false;
  }
  return !result.series.empty();
}

// Every dashboard query (after substitution) that returns no series, with the reason. `nan_only`
// lists the queries whose series are all NaN (a ratio or quantile over a window without events).
std::vector<std::string> queries_without_data(std::uint16_t port, const std::vector<Dashboard>& dashboards,
                                              std::size_t* evaluated = nullptr,
                                              std::vector<std::string>* nan_only = nullptr) {
  std::vector<std::string> problems;
  std::size_t count = 0;
  if (nan_only) nan_only->clear();
  static const std::regex leftover(R"(\$\{?[A-Za-z_]|\[\[)");
  for (const auto& dashboard : dashboards) {
    const auto values = resolve_variables(port, dashboard, &problems);
    for (const auto& query : dashboard.queries) {
      const std::string expr = substitute(query.expr, values);
      ++count;
      if (std::regex_search(expr, leftover)) {
        problems.push_back(fmt::format("{}: unknown variable left in: {}", query.where, expr));
        continue;
      }
      const auto result = prometheus_query(port, expr);
      if (!result.success) {
        problems.push_back(fmt::format("{}: query failed: {}\n    {}", query.where, result.error, expr));
      } else if (result.series.empty()) {
        problems.push_back(fmt::format("{}: no series\n    {}", query.where, expr));
      } else if (nan_only && all_nan(result)) {
        nan_only->push_back(query.where);
      }
    }
  }
  if (evaluated) *evaluated = count;
  return problems;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += "  " + line + "\n";
  return out;
}

// ---------------------------------------------------------------------------------------------
// Traffic: queue → hold (one conflict, one release) → ready → gateway callback → PAID

std::string order_status(std::uint16_t port, const std::string& order_no) {
  const auto r = http(port, "GET", "/payment/" + order_no, "", as_user(1));  // user 1 buys in drive_sale
  if (r.status != 200) return "HTTP " + std::to_string(r.status);
  return std::string(json::parse(r.body).at("status").as_string());
}

void drive_sale(std::uint16_t port) {
  const auto schedule = create_schedule(-60, 10);
  const auto tokens = admit_users(port, schedule, 1, 2);
  const auto& buyer = tokens.at(1);
  const auto& rival = tokens.at(2);

  const auto held = seat_call(port, "/tickets/hold", buyer, 1, schedule, {"S-1", "S-2"});
  ASSERT_EQ(held.status, 200) << held.raw;
  const auto conflict = seat_call(port, "/tickets/hold", rival, 2, schedule, {"S-2"});
  ASSERT_EQ(conflict.status, 409) << conflict.raw;
  ASSERT_EQ(seat_call(port, "/tickets/hold", rival, 2, schedule, {"S-3"}).status, 200);
  const auto released = seat_call(port, "/tickets/release", rival, 2, schedule, {"S-3"});
  ASSERT_EQ(released.status, 200) << released.raw;
  EXPECT_EQ(http(port, "GET", "/schedules/abc/seats").status, 400);

  const auto ready = seat_call(port, "/payment/ready", buyer, 1, schedule, {"S-1", "S-2"},
                               {{"Idempotency-Key", fmt::format("observability-{}", schedule)}});
  ASSERT_EQ(ready.status, 201) << ready.raw;
  const std::string order_no(json::parse(ready.body).at("orderNo").as_string());
  const std::string callback = fmt::format(R"({{"orderNo":"{}"}})", order_no);
  const auto paid = http(port, "POST", "/payment/mock-success", callback,
                         {{"Content-Type", "application/json"}, {"Gateway-Signature", gateway_signature(callback)}});
  ASSERT_EQ(paid.status, 202) << paid.raw;
  ASSERT_TRUE(wait_for([&] { return order_status(port, order_no) == "PAID"; }, std::chrono::seconds(20)))
      << "order " << order_no << " is " << order_status(port, order_no);
}

// ---------------------------------------------------------------------------------------------
// docker-compose

const std::vector<std::string> kComposeSecrets{"TICKETING_SECURITY_TOKEN_SECRET",
                                               "TICKETING_SECURITY_ACCESS_TOKEN_SECRET",
                                               "TICKETING_PAYMENT_GATEWAY_SECRET",
                                               "TICKETING_TICKET_SIGNING_SEED",
                                               "TICKETING_QUEUE_POW_SECRET",
                                               "MARIADB_PASSWORD",
                                               "MARIADB_ROOT_PASSWORD",
                                               "GRAFANA_ADMIN_PASSWORD"};

// docker-compose with only the variables given (the caller's environment and any .env left out).
CommandResult compose_config(const fs::path& root, const fs::path& empty_env_file,
                             const std::map<std::string, std::string>& variables, const std::string& args,
                             const std::string& file = "docker-compose.yml") {
  std::string command = "env";
  for (const auto& name : kComposeSecrets) command += " -u " + name;
  for (const auto& [name, value] : variables) command += " " + name + "=" + shell_quote(value);
  command += " docker-compose --env-file " + shell_quote(empty_env_file.string()) + " -f " +
             shell_quote((root / file).string()) + " config " + args;
  return run(command);
}

std::map<std::string, std::string> dummy_secrets() {
  std::map<std::string, std::string> out;
  for (const auto& name : kComposeSecrets) out[name] = "test-value-0123456789abcdef0123456789abcdef";
  return out;
}

bool inside(const fs::path& root, const fs::path& path) {
  const auto r = fs::weakly_canonical(root).string();
  const auto p = fs::weakly_canonical(path).string();
  return p == r || p.rfind(r + "/", 0) == 0;
}

// The words of the `apt-get install ... --no-install-recommends <packages> &&` list of a Dockerfile stage.
std::vector<std::string> stage_packages(const std::string& dockerfile, const std::string& stage) {
  const std::regex from_line(R"((^|\n)FROM\s+\S+\s+AS\s+(\S+))", std::regex::icase);
  std::string body;
  for (auto it = std::sregex_iterator(dockerfile.begin(), dockerfile.end(), from_line); it != std::sregex_iterator();
       ++it) {
    if ((*it)[2] != stage) continue;
    const auto start = static_cast<std::size_t>(it->position(0) + it->length(0));
    const auto next = dockerfile.find("\nFROM ", start);
    body = dockerfile.substr(start, next == std::string::npos ? std::string::npos : next - start);
  }
  std::vector<std::string> out;
  const auto at = body.find("--no-install-recommends");
  if (at == std::string::npos) return out;
  std::istringstream words(body.substr(at + std::string("--no-install-recommends").size()));
  for (std::string word; words >> word;) {
    if (word == "&&") break;
    if (word != "\\") out.push_back(word);
  }
  return out;
}

std::set<std::string> install_deps_packages(const fs::path& root) {
  const std::string script = read_text(root / "scripts/install-deps");
  const auto start = script.find("PACKAGES=(");
  const auto end = script.find(')', start);
  std::set<std::string> out;
  std::istringstream words(script.substr(start + 10, end - start - 10));
  for (std::string word; words >> word;) out.insert(word);
  // The fallbacks it installs on a box without a tool (`command -v node ... || wanted+=(nodejs)`):
  // the image's bare Debian is such a box.
  for (auto at = script.find("wanted+=("); at != std::string::npos; at = script.find("wanted+=(", at + 1)) {
    const auto close = script.find(')', at);
    std::istringstream more(script.substr(at + 9, close - at - 9));
    for (std::string word; more >> word;) out.insert(word);
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

TEST(ObservabilityStack, EveryDashboardQueryReturnsSeriesFromARealPrometheus) {
  ASSERT_TRUE(on_path("prometheus"))
      << "prometheus is not installed (Debian package `prometheus`): run scripts/install-deps";
  const auto root = repo_root();
  const auto dashboards = load_dashboards(root / "deploy/grafana/dashboards");
  ASSERT_FALSE(dashboards.empty()) << "no dashboards under " << (root / "deploy/grafana/dashboards");
  std::size_t expected = 0;
  for (const auto& d : dashboards) {
    EXPECT_EQ(d.targets_without_expr, 0) << d.file << ": a target without a PromQL expr cannot be checked";
    expected += d.queries.size();
  }

  TestServer server(kFastAdmission);
  TempDir dir;
  const std::uint16_t prometheus_port = free_port();
  std::ofstream(dir.path() / "prometheus.yml") << fmt::format(
      "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
      "scrape_configs:\n  - job_name: ticketing\n    metrics_path: /actuator/prometheus\n"
      "    static_configs:\n      - targets: ['127.0.0.1:{}']\n",
      server.port());
  const auto started = std::chrono::steady_clock::now();
  ChildProcess prometheus({"prometheus", "--config.file=" + (dir.path() / "prometheus.yml").string(),
                           "--storage.tsdb.path=" + (dir.path() / "data").string(),
                           fmt::format("--web.listen-address=127.0.0.1:{}", prometheus_port), "--log.level=error"});
  // The first scrape comes ~5 s after start (shared/MACHINE.md). The sale runs after it, so that
  // rates and quantiles see the events between two samples instead of a flat line.
  ASSERT_TRUE(wait_for([&] { return prometheus_has_data(prometheus_port, R"(up{job="ticketing"} == 1)"); },
                       std::chrono::seconds(20), std::chrono::milliseconds(100)))
      << "Prometheus on port " << prometheus_port << " did not scrape 127.0.0.1:" << server.port();
  const auto first_scrape = std::chrono::steady_clock::now();
  drive_sale(server.port());
  if (HasFatalFailure()) return;
  // The traffic is visible through Prometheus, not only in the exposition.
  ASSERT_TRUE(wait_for(
      [&] {
        return prometheus_has_data(prometheus_port, R"(ticketing_orders_total{status="PAID"} >= 1)") &&
               prometheus_has_data(prometheus_port, R"(ticketing_holds_total{result="conflict"} >= 1)") &&
               prometheus_has_data(prometheus_port, R"(ticketing_holds_released_total >= 1)");
      },
      std::chrono::seconds(10), std::chrono::milliseconds(200)));

  // rate() needs two samples in its window: poll until every query has data (or time is up), then
  // report each one that still has none. A query whose every series is NaN (a ratio or quantile of
  // a window without events) fails too: after this sale each panel should show a number.
  std::vector<std::string> problems;
  std::vector<std::string> nan_only;
  std::size_t evaluated = 0;
  wait_for(
      [&] {
        problems = queries_without_data(prometheus_port, dashboards, &evaluated, &nan_only);
        return problems.empty() && nan_only.empty();
      },
      std::chrono::seconds(15), std::chrono::milliseconds(500));
  const auto done = std::chrono::steady_clock::now();
  EXPECT_TRUE(problems.empty()) << problems.size() << " dashboard queries return no series:\n" << joined(problems);
  EXPECT_TRUE(nan_only.empty()) << nan_only.size() << " dashboard queries return only NaN after the sale:\n"
                                << joined(nan_only);
  EXPECT_EQ(evaluated, expected);
  EXPECT_GE(evaluated, 20u) << "suspiciously few queries found in the dashboards";
  const auto ms = [&](auto t) { return std::chrono::duration_cast<std::chrono::milliseconds>(t - started).count(); };
  std::printf(
      "[ observability ] %zu dashboard queries in %zu dashboards, %zu without series; first scrape after %lld ms, "
      "last check at %lld ms; %zu answer only NaN\n%s",
      evaluated, dashboards.size(), problems.size(), static_cast<long long>(ms(first_scrape)),
      static_cast<long long>(ms(done)), nan_only.size(), joined(nan_only).c_str());
}

TEST(ObservabilityStack, DashboardsAreWellFormedAndUseTheProvisionedDatasource) {
  const auto root = repo_root();
  const auto datasources = YAML::LoadFile((root / "deploy/grafana/provisioning/datasources/prometheus.yml").string());
  ASSERT_EQ(datasources["datasources"].size(), 1u);
  const auto datasource_uid = datasources["datasources"][0]["uid"].as<std::string>();
  EXPECT_EQ(datasources["datasources"][0]["type"].as<std::string>(), "prometheus");
  EXPECT_EQ(datasources["datasources"][0]["url"].as<std::string>(), "http://prometheus:9090");

  const auto dashboards = load_dashboards(root / "deploy/grafana/dashboards");
  ASSERT_FALSE(dashboards.empty());
  std::set<std::string> uids;
  for (const auto& d : dashboards) {
    SCOPED_TRACE(d.file);
    ASSERT_TRUE(d.root.contains("uid") && d.root.contains("title") && d.root.contains("schemaVersion"));
    EXPECT_TRUE(uids.insert(str(d.root.at("uid"))).second) << "dashboard uid used twice";
    EXPECT_GE(d.root.at("schemaVersion").as_int64(), 36);
    EXPECT_FALSE(d.panels.empty());
    std::set<std::int64_t> ids;
    for (const auto& panel : d.panels) {
      const std::string title = panel.contains("title") ? str(panel.at("title")) : "?";
      EXPECT_TRUE(panel.contains("gridPos")) << title;
      ASSERT_TRUE(panel.contains("id") && panel.at("id").is_int64()) << title;
      EXPECT_TRUE(ids.insert(panel.at("id").as_int64()).second) << "panel id used twice: " << title;
      if (str(panel.at("type")) == "row") continue;
      ASSERT_TRUE(panel.contains("datasource")) << title;
      EXPECT_EQ(str(panel.at("datasource").as_object().at("uid")), datasource_uid) << title;
      ASSERT_TRUE(panel.contains("targets")) << title;
      for (const auto& target : panel.at("targets").as_array()) {
        EXPECT_EQ(str(target.as_object().at("datasource").as_object().at("uid")), datasource_uid) << title;
      }
    }
    for (const auto& value : d.root.at("templating").as_object().at("list").as_array()) {
      EXPECT_EQ(str(value.as_object().at("datasource").as_object().at("uid")), datasource_uid);
    }
  }

  // The provider's folder is where docker-compose mounts deploy/grafana/dashboards.
  const auto providers = YAML::LoadFile((root / "deploy/grafana/provisioning/dashboards/dashboards.yml").string());
  const auto path = providers["providers"][0]["options"]["path"].as<std::string>();
  const auto compose = YAML::LoadFile((root / "docker-compose.yml").string());
  std::set<std::string> grafana_mounts;
  for (const auto& volume : compose["services"]["grafana"]["volumes"]) grafana_mounts.insert(volume.as<std::string>());
  EXPECT_TRUE(grafana_mounts.count("./deploy/grafana/dashboards:" + path + ":ro"))
      << "docker-compose.yml does not mount deploy/grafana/dashboards at " << path;
}

TEST(ObservabilityStack, ShippedPrometheusConfigPassesPromtool) {
  ASSERT_TRUE(on_path("promtool"))
      << "promtool is not installed (Debian package `prometheus`): run scripts/install-deps";
  const auto config = repo_root() / "deploy/prometheus/prometheus.yml";
  const auto check = run("promtool check config " + shell_quote(config.string()));
  EXPECT_EQ(check.exit_code, 0) << check.output;
  const auto yaml = YAML::LoadFile(config.string());
  bool found = false;
  for (const auto& job : yaml["scrape_configs"]) {
    if (job["job_name"].as<std::string>() != "ticketing") continue;
    found = true;
    EXPECT_EQ(job["metrics_path"].as<std::string>(), "/actuator/prometheus");
    EXPECT_EQ(job["static_configs"][0]["targets"][0].as<std::string>(), "app:8080");
  }
  EXPECT_TRUE(found) << "no scrape job `ticketing`";
}

// scripts/services start prometheus, on a private RUN_DIR and port: the generated config names the
// target and passes promtool; prometheus is not part of the default set; stop stops it.
TEST(ObservabilityStack, ServicesScriptRunsALocalPrometheus) {
  ASSERT_TRUE(on_path("prometheus")) << "prometheus is not installed: run scripts/install-deps";
  const auto root = repo_root();
  TempDir run_dir;
  const std::uint16_t port = free_port();
  const std::string env = fmt::format(
      "RUN_DIR={} PROMETHEUS_PORT={} PROMETHEUS_TARGETS=127.0.0.1:4242,127.0.0.1:4243 "
      "SCRIPTS_DEPS_CHECKED=1 ",
      shell_quote(run_dir.path().string()), port);
  const std::string services = shell_quote((root / "scripts/services").string());
  struct Stopper {
    std::string command;
    ~Stopper() { run(command); }
  } stopper{env + services + " stop prometheus"};

  const auto start = run(env + services + " start prometheus");
  ASSERT_EQ(start.exit_code, 0) << start.output;
  const auto config = read_text(run_dir.path() / "prometheus/prometheus.yml");
  EXPECT_NE(config.find("- 127.0.0.1:4242\n"), std::string::npos) << config;
  EXPECT_NE(config.find("- 127.0.0.1:4243\n"), std::string::npos) << config;
  EXPECT_EQ(config.find("app:8080\n"), std::string::npos) << config;
  const auto check =
      run("promtool check config " + shell_quote((run_dir.path() / "prometheus/prometheus.yml").string()));
  EXPECT_EQ(check.exit_code, 0) << check.output;
  EXPECT_EQ(http(port, "GET", "/-/ready").status, 200);
  EXPECT_EQ(run(env + services + " status prometheus").exit_code, 0);
  // The default set stays mariadb, redis, kafka (all down in this empty RUN_DIR).
  const auto status = run(env + services + " status");
  EXPECT_EQ(status.output.find("prometheus"), std::string::npos) << status.output;

  // A restart starts from an empty TSDB (a reused one answers with old samples).
  std::ofstream(run_dir.path() / "prometheus/data/old-sample-marker") << "x";
  const auto restart = run(env + services + " restart prometheus");
  ASSERT_EQ(restart.exit_code, 0) << restart.output;
  EXPECT_FALSE(fs::exists(run_dir.path() / "prometheus/data/old-sample-marker"));

  const auto stop = run(env + services + " stop prometheus");
  EXPECT_EQ(stop.exit_code, 0) << stop.output;
  EXPECT_NE(run(env + services + " status prometheus").exit_code, 0);
  EXPECT_THROW(http(port, "GET", "/-/ready"), std::runtime_error) << "port still open after stop";
}

TEST(ObservabilityStack, ComposeFileValidatesAndReferencesOnlyExistingFiles) {
  ASSERT_TRUE(on_path("docker-compose"))
      << "docker-compose is not installed (Debian package `docker-compose`): run scripts/install-deps";
  const auto root = repo_root();
  TempDir dir;
  const auto empty_env = dir.path() / "empty.env";
  std::ofstream(empty_env).flush();

  const auto quiet = compose_config(root, empty_env, dummy_secrets(), "-q");
  ASSERT_EQ(quiet.exit_code, 0) << quiet.output;
  // Without the secrets it refuses, naming what to set.
  const auto refused = compose_config(root, empty_env, {}, "-q");
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.output.find("in .env"), std::string::npos) << refused.output;

  // The normalised file: relative paths made absolute, anchors merged.
  const auto full = compose_config(root, empty_env, dummy_secrets(), "");
  ASSERT_EQ(full.exit_code, 0) << full.output;
  const auto compose = YAML::Load(full.output);
  std::set<std::string> services;
  int checked = 0;
  for (const auto& entry : compose["services"]) {
    const auto name = entry.first.as<std::string>();
    const auto& service = entry.second;
    services.insert(name);
    std::vector<std::pair<fs::path, std::string>> binds;  // host path, container path
    if (const auto build = service["build"]) {
      const fs::path context = build.IsScalar() ? build.as<std::string>() : build["context"].as<std::string>();
      const fs::path dockerfile =
          build.IsMap() && build["dockerfile"] ? build["dockerfile"].as<std::string>() : "Dockerfile";
      EXPECT_TRUE(fs::is_directory(context)) << name << ": build context " << context;
      EXPECT_TRUE(fs::is_regular_file(context / dockerfile)) << name << ": " << (context / dockerfile);
      ++checked;
    }
    for (const auto& volume : service["volumes"]) {
      std::string source, target;
      if (volume.IsScalar()) {
        const auto spec = volume.as<std::string>();
        source = spec.substr(0, spec.find(':'));
        const auto rest = spec.substr(spec.find(':') + 1);
        target = rest.substr(0, rest.find(':'));
      } else if (volume["type"] && volume["type"].as<std::string>() == "bind") {
        source = volume["source"].as<std::string>();
        target = volume["target"].as<std::string>();
      }
      if (source.empty() || source.front() != '/') continue;  // a named volume
      EXPECT_TRUE(fs::exists(source)) << name << " mounts " << source << ", which does not exist";
      EXPECT_TRUE(inside(root, source)) << name << " mounts " << source << " from outside the repository";
      binds.emplace_back(source, target);
      ++checked;
    }
    for (const auto& file : service["env_file"]) {
      EXPECT_TRUE(fs::exists(file.as<std::string>())) << name << ": env_file " << file.as<std::string>();
    }
    // Container paths named in the environment (e.g. Grafana's home dashboard) lie in a mounted file.
    for (const auto& variable : service["environment"]) {
      const auto value = variable.second.IsScalar() ? variable.second.as<std::string>() : std::string();
      for (const auto& [host, container] : binds) {
        if (value.rfind(container + "/", 0) == 0) {
          EXPECT_TRUE(fs::exists(host / value.substr(container.size() + 1)))
              << name << ": " << variable.first << "=" << value;
        }
      }
    }
  }
  EXPECT_GE(checked, 6) << "expected the app build and the Prometheus and Grafana mounts";
  for (const char* wanted : {"app", "migrate", "mariadb", "redis", "kafka", "prometheus", "grafana"}) {
    EXPECT_TRUE(services.count(wanted)) << "no service " << wanted;
  }

  // deploy/env.example lists every variable the compose file requires.
  const std::string raw = read_text(root / "docker-compose.yml");
  const std::string example = read_text(root / "deploy/env.example");
  const std::regex required(R"(\$\{([A-Z0-9_]+):\?)");
  std::set<std::string> names;
  for (auto it = std::sregex_iterator(raw.begin(), raw.end(), required); it != std::sregex_iterator(); ++it) {
    names.insert((*it)[1]);
  }
  EXPECT_EQ(names, std::set<std::string>(kComposeSecrets.begin(), kComposeSecrets.end()));
  for (const auto& name : names) EXPECT_NE(example.find("\n" + name + "="), std::string::npos) << name;
}

// The scale-out topology (issue 19, docs/scaling.md) as compose services: it validates, has every
// engine's nodes, mounts only files of the repository, and its HAProxy config is valid.
TEST(ObservabilityStack, ClusterComposeFileHasTheScaleOutTopology) {
  ASSERT_TRUE(on_path("docker-compose")) << "docker-compose is not installed: run scripts/install-deps";
  const auto root = repo_root();
  TempDir dir;
  const auto empty_env = dir.path() / "empty.env";
  std::ofstream(empty_env).flush();
  const auto refused = compose_config(root, empty_env, {}, "-q", "docker-compose.cluster.yml");
  EXPECT_NE(refused.exit_code, 0) << "started without secrets";
  const auto full = compose_config(root, empty_env, dummy_secrets(), "", "docker-compose.cluster.yml");
  ASSERT_EQ(full.exit_code, 0) << full.output;
  const auto compose = YAML::Load(full.output);
  std::set<std::string> services;
  for (const auto& entry : compose["services"]) {
    services.insert(entry.first.as<std::string>());
    for (const auto& volume : entry.second["volumes"]) {
      const auto source = volume.IsScalar() ? volume.as<std::string>().substr(0, volume.as<std::string>().find(':'))
                                            : (volume["source"] ? volume["source"].as<std::string>() : "");
      if (source.empty() || source.front() != '/') continue;
      EXPECT_TRUE(fs::is_regular_file(source)) << entry.first << " mounts " << source;
      EXPECT_TRUE(inside(root, source)) << entry.first << " mounts " << source << " from outside the repository";
    }
  }
  for (const char* wanted :
       {"redis-1", "redis-2", "redis-3", "redis-4", "redis-5", "redis-6", "redis-cluster-init", "kafka-1", "kafka-2",
        "kafka-3", "galera-1", "galera-2", "galera-3", "haproxy", "migrate", "api", "worker"}) {
    EXPECT_TRUE(services.count(wanted)) << "no service " << wanted;
  }
  EXPECT_EQ(compose["services"]["api"]["deploy"]["replicas"].as<int>(), 3);
  EXPECT_EQ(compose["services"]["kafka-2"]["environment"]["KAFKA_MIN_INSYNC_REPLICAS"].as<std::string>(), "2");
  // The instances believe X-Forwarded-For from HAProxy only: its fixed address is their one trusted proxy.
  EXPECT_EQ(compose["services"]["api"]["environment"]["TICKETING_HTTP_TRUSTED_PROXIES"].as<std::string>(),
            compose["services"]["haproxy"]["networks"]["default"]["ipv4_address"].as<std::string>());
  if (on_path("haproxy")) {
    const auto check = run("haproxy -c -q -f " + shell_quote((root / "deploy/haproxy/haproxy.cfg").string()));
    EXPECT_EQ(check.exit_code, 0) << check.output;
  }
}

// The image cannot be built here (no Docker engine): check what can be. The build stage installs
// only packages of scripts/install-deps and builds with scripts/build; the runtime stage installs
// the package of every library the binary links.
TEST(ObservabilityStack, DockerfileMatchesInstallDepsAndTheBinarysLibraries) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // The image ships the Release build; a sanitizer build links its runtimes (libasan, libubsan,
  // libtsan) and, at -O1, out-of-line Boost.Container code, which the image rightly lacks.
  GTEST_SKIP() << "checks the Release binary's libraries; this is a sanitizer build";
#endif
  const auto root = repo_root();
  const std::string dockerfile = read_text(root / "Dockerfile");
  EXPECT_TRUE(fs::exists(root / ".dockerignore"));
  EXPECT_NE(dockerfile.find("scripts/build"), std::string::npos) << "the image must build with scripts/build";
  EXPECT_NE(dockerfile.find("HEALTHCHECK"), std::string::npos);
  EXPECT_NE(dockerfile.find(R"(ENTRYPOINT ["/app/bin/ticketing"])"), std::string::npos);
  EXPECT_TRUE(std::regex_search(dockerfile, std::regex(R"(\nUSER\s+(?!root|0\b)\S+)"))) << "no non-root USER";

  const auto wanted = install_deps_packages(root);
  const auto build = stage_packages(dockerfile, "build");
  EXPECT_GE(build.size(), 10u);
  for (const auto& package : build) EXPECT_TRUE(wanted.count(package)) << package << " is not in scripts/install-deps";
  const auto runtime = stage_packages(dockerfile, "runtime");
  const std::set<std::string> runtime_set(runtime.begin(), runtime.end());
  ASSERT_FALSE(runtime.empty());

  const std::string binary = TICKETING_BINARY;
  const auto packages = run(fmt::format(
      "set -e; for lib in $(readelf -d {0} | sed -n 's/.*Shared library: \\[\\(.*\\)\\]/\\1/p'); do "
      "  path=$(ldd {0} | awk -v l=\"$lib\" '$1 == l {{ print $3 }}'); "
      "  [ -n \"$path\" ] || {{ echo \"unresolved $lib\"; exit 1; }}; "
      "  (dpkg -S \"$path\" 2>/dev/null || dpkg -S \"$(readlink -f \"$path\")\") | head -n 1 | cut -d: -f1; "
      "done | sort -u",
      shell_quote(binary)));
  ASSERT_EQ(packages.exit_code, 0) << packages.output;
  // In every Debian image: the C and C++ runtimes.
  const std::set<std::string> base{"libc6", "libgcc-s1", "libstdc++6"};
  std::istringstream lines(packages.output);
  int libraries = 0;
  for (std::string package; std::getline(lines, package);) {
    if (package.empty()) continue;
    ++libraries;
    if (base.count(package)) continue;
    EXPECT_TRUE(runtime_set.count(package))
        << "the binary links a library of " << package << ", which the Dockerfile's runtime stage does not install";
  }
  EXPECT_GE(libraries, 8) << packages.output;
}
