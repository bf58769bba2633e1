// JsonBody::parse and its field readers on arbitrary bytes. Property: only DomainError escapes
// (a 415/400 for the client); anything else — another exception, a crash, UB — is a bug. A body
// that parses and reads cleanly must parse and read to the same values again.
#include "api/json_body.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

using ticketing::api::ApiRequest;
using ticketing::api::JsonBody;
using ticketing::domain::DomainError;

namespace {

struct Read {
  std::int64_t id = 0;
  std::string name;
  std::vector<std::string> seats;
  bool ok = false;
};

Read read(const ApiRequest& request) {
  Read out;
  try {
    auto body = JsonBody::parse(request, {"scheduleId", "name", "seatNos"});
    out.id = body.id("scheduleId");
    out.name = body.string("name", 64);
    out.seats = body.string_array("seatNos", 1, 8, 16);
    body.done();
    out.ok = true;
  } catch (const DomainError&) {
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ApiRequest request;
  request.headers.push_back({"Content-Type", "application/json"});
  request.body.assign(reinterpret_cast<const char*>(data), size);
  const Read first = read(request);
  if (first.ok) {
    const Read again = read(request);
    if (!again.ok || again.id != first.id || again.name != first.name || again.seats != first.seats) __builtin_trap();
  }
  // The Content-Type check on the same bytes.
  (void)ticketing::api::is_json_content_type(request.body);
  return 0;
}
