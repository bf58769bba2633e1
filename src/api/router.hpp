#pragma once
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "api/http_types.hpp"
#include "domain/async.hpp"

namespace ticketing::api {

using Handler = std::function<Task<ApiResponse>(ApiRequest&)>;
// What a route checks on the header alone, after the access token (the booking endpoints'
// `Queue-Token`): throws the refusal. The dispatcher runs it before a body that has not arrived is
// read; the handler runs the same check itself.
using HeaderCheck = std::function<void(const ApiRequest&)>;
// What a route checks on the header with a store (the booking endpoints: is the Queue-Token's slot
// still live?), for a request refused anyway for its body's size, so that a given-up token is its
// 401 rather than a 413. Writes nothing.
using StoreCheck = std::function<Task<void>(const ApiRequest&)>;

// Who may call a route. The dispatcher checks it from the access token before the handler runs
// (so before the body is read): 401 without a valid token, 403 without the role.
enum class Access { kPublic, kSignedIn, kAdmin };

// Routes are path templates with `{name}` segments, matched segment by segment.
class Router {
 public:
  void add(Method method, std::string path_template, Handler handler, Access access = Access::kPublic,
           HeaderCheck header_check = {}, StoreCheck store_check = {});

  struct Match {
    const Handler* handler = nullptr;  // set when method and path match
    std::string_view route_template;   // set when the path matches (for logs and metrics)
    std::string allow;                 // methods the path accepts, for 405
    Access access = Access::kPublic;
    const HeaderCheck* header_check = nullptr;  // set with handler when the route has one
    const StoreCheck* store_check = nullptr;    // likewise
  };
  // HEAD matches GET routes. Fills request.path_params on a path match.
  Match match(ApiRequest& request) const;

 private:
  struct Route {
    Method method;
    std::string path_template;
    std::vector<std::string> segments;
    // Which segments are literal. Where two templates match one path, the one with a literal at
    // the first segment where they differ names it: `/payment/ready` is that route (GET on it is
    // 405), not an order numbered "ready" of `/payment/{orderNo}`.
    std::vector<bool> literal;
    Handler handler;
    Access access;
    HeaderCheck header_check;
    StoreCheck store_check;
  };
  static bool path_matches(const Route& route, const std::vector<std::string_view>& segments,
                           std::vector<std::pair<std::string, std::string>>* params);
  std::vector<Route> routes_;
};

}  // namespace ticketing::api
