#include "api/router.hpp"

namespace ticketing::api {
namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> segments;
  if (path.empty() || path.front() != '/') return segments;
  path.remove_prefix(1);
  while (true) {
    const auto slash = path.find('/');
    segments.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return segments;
}

bool is_param(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

}  // namespace

void Router::add(Method method, std::string path_template, Handler handler, Access access, HeaderCheck header_check,
                 StoreCheck store_check) {
  Route route{method,
              std::move(path_template),
              {},
              {},
              std::move(handler),
              access,
              std::move(header_check),
              std::move(store_check)};
  for (auto segment : split_path(route.path_template)) {
    route.segments.emplace_back(segment);
    route.literal.push_back(!is_param(segment));
  }
  routes_.push_back(std::move(route));
}

bool Router::path_matches(const Route& route, const std::vector<std::string_view>& segments,
                          std::vector<std::pair<std::string, std::string>>* params) {
  if (route.segments.size() != segments.size()) return false;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const std::string& expected = route.segments[i];
    if (is_param(expected)) {
      if (segments[i].empty()) return false;
    } else if (expected != segments[i]) {
      return false;
    }
  }
  if (params) {
    params->clear();
    for (std::size_t i = 0; i < segments.size(); ++i) {
      const std::string& expected = route.segments[i];
      if (is_param(expected)) params->emplace_back(expected.substr(1, expected.size() - 2), segments[i]);
    }
  }
  return true;
}

Router::Match Router::match(ApiRequest& request) const {
  Match result;
  const auto segments = split_path(request.path);
  if (segments.empty()) return result;
  const Method wanted = request.method == Method::kHead ? Method::kGet : request.method;
  std::vector<const Route*> matching;  // usually one route
  const std::vector<bool>* most_literal = nullptr;
  for (const Route& route : routes_) {
    if (!path_matches(route, segments, nullptr)) continue;
    matching.push_back(&route);
    if (most_literal == nullptr || *most_literal < route.literal) most_literal = &route.literal;
  }
  for (const Route* matched : matching) {
    if (matched->literal != *most_literal) continue;
    const Route& route = *matched;
    if (result.route_template.empty()) result.route_template = route.path_template;
    if (!result.allow.empty()) result.allow += ", ";
    result.allow += to_string(route.method);
    if (route.method == Method::kGet) result.allow += ", HEAD";
    if (route.method == wanted && result.handler == nullptr) {
      path_matches(route, segments, &request.path_params);
      result.handler = &route.handler;
      result.access = route.access;
      if (route.header_check) result.header_check = &route.header_check;
      if (route.store_check) result.store_check = &route.store_check;
      result.route_template = route.path_template;
    }
  }
  return result;
}

}  // namespace ticketing::api
