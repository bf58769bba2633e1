#pragma once
// Every error a client can see has one ErrorCode. The api layer maps codes to HTTP statuses in one
// table (api/error_mapping.cpp); everything else throws DomainError and never thinks about HTTP.
#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ticketing::domain {

enum class ErrorCode {
  kInvalidArgument,        // 400 malformed id, body, field
  kPowRequired,            // 400 enter needs a proof-of-work solution now (GET /queue/challenge)
  kPowInvalid,             // 400 forged, malformed, someone else's or unsolved challenge
  kPowExpired,             // 400 the challenge expired
  kUnauthenticated,        // 401 missing/bad/expired/revoked token or gateway secret
  kInvalidCredentials,     // 401 sign-in with an unknown email or a wrong password (same answer)
  kForbidden,              // 403 token of another user/schedule, someone else's hold
  kNotFound,               // 404 resource does not exist
  kRouteNotFound,          // 404 no such route
  kMethodNotAllowed,       // 405 known path, wrong method
  kConflict,               // 409 generic state conflict
  kEmailTaken,             // 409 sign-up with an email that already has an account
  kBookingNotOpen,         // 409 schedule not open for booking yet
  kSaleClosed,             // 409 the operator closed the schedule's sale: no new queue entries
  kSeatAlreadyHeld,        // 409 some requested seats are taken
  kSeatInPayment,          // 409 seat belongs to a READY/CONFIRMING order
  kHoldLimitExceeded,      // 409 the user would hold more than hold.max-seats-per-user
  kIdempotencyInProgress,  // 409 same Idempotency-Key still being processed
  kPowReused,              // 409 the challenge was used already (single use)
  kPayloadTooLarge,        // 413 body over http.max-body
  kUnsupportedMediaType,   // 415 not application/json
  kIdempotencyKeyReused,   // 422 same key, other body
  kUndecodableEvent,       // 422 a dead-lettered message whose payload is not a valid event (cannot be replayed)
  kTooManyRequests,        // 429 rate/limit
  kHeaderTooLarge,         // 431 request header block over http.max-header
  kInternal,               // 500 bug: never expected
  kNotImplemented,         // 501 unknown HTTP method
  kDependencyUnavailable,  // 503 DB/Redis/Kafka down or saturated
};

struct FieldError {
  std::string field;
  std::string reason;
};

class DomainError : public std::runtime_error {
 public:
  DomainError(ErrorCode code, std::string message, std::vector<FieldError> errors = {})
      : std::runtime_error(message), code_(code), message_(std::move(message)), errors_(std::move(errors)) {}

  ErrorCode code() const noexcept { return code_; }
  // The whole message: what() stops at a NUL a message quoting the caller's input may hold.
  const std::string& message() const noexcept { return message_; }
  const std::vector<FieldError>& errors() const noexcept { return errors_; }

 private:
  ErrorCode code_;
  std::string message_;
  std::vector<FieldError> errors_;
};

// Thrown by adapters when a dependency cannot answer (down, timed out, pool saturated).
// Mapped to 503 with Retry-After. `component` is "db", "redis" or "kafka".
class DependencyUnavailable : public DomainError {
 public:
  DependencyUnavailable(std::string component, std::string detail)
      : DomainError(ErrorCode::kDependencyUnavailable, component + " unavailable: " + detail),
        component_(std::move(component)) {}
  const std::string& component() const noexcept { return component_; }

 protected:
  DependencyUnavailable(ErrorCode code, std::string component, std::string message)
      : DomainError(code, std::move(message)), component_(std::move(component)) {}

 private:
  std::string component_;
};

// A transaction that kept losing to parallel ones on the same rows (deadlocks, lock wait
// timeouts) after its own retries: contention, not an outage. Background work retries it like an
// outage (it is a DependencyUnavailable); a request gets 409 CONFLICT with Retry-After — usually
// one user's parallel calls on the same seats (a double click, two tabs), never a reason to page
// anyone as a 503 would.
class Contention : public DependencyUnavailable {
 public:
  explicit Contention(std::string detail)
      : DependencyUnavailable(ErrorCode::kConflict, "db",
                              "the request kept conflicting with parallel requests on the same seats or order; "
                              "retry it"),
        detail_(std::move(detail)) {}
  const std::string& detail() const noexcept { return detail_; }

 private:
  std::string detail_;
};

// 409 SEAT_ALREADY_HELD naming exactly the requested seats that are taken.
class SeatConflict : public DomainError {
 public:
  explicit SeatConflict(std::vector<std::string> seats)
      : DomainError(ErrorCode::kSeatAlreadyHeld, describe(seats)), seats_(std::move(seats)) {}
  const std::vector<std::string>& seats() const noexcept { return seats_; }

 private:
  static std::string describe(const std::vector<std::string>& seats) {
    std::string message = "seats already held:";
    for (const auto& seat : seats) message += " " + seat;
    return message;
  }
  std::vector<std::string> seats_;
};

// An error the client may retry after `retry_after` (429 limits, 503 busy): sent as Retry-After.
class RetryLater : public DomainError {
 public:
  RetryLater(ErrorCode code, std::string message, std::chrono::seconds retry_after)
      : DomainError(code, std::move(message)),
        retry_after_(retry_after < std::chrono::seconds(1) ? std::chrono::seconds(1) : retry_after) {}
  std::chrono::seconds retry_after() const noexcept { return retry_after_; }

 private:
  std::chrono::seconds retry_after_;
};

inline DomainError invalid_argument(std::string field, std::string reason) {
  std::string message = "invalid " + field + ": " + reason;
  return DomainError(ErrorCode::kInvalidArgument, std::move(message), {{std::move(field), std::move(reason)}});
}

}  // namespace ticketing::domain
