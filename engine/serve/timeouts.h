// Multi-level timeouts, defined in one place.
//
// Levels, from the outside in: the server's request timeout (HTTP layer), the scheduler's queue
// timeout, the engine's inference timeout, and the stream-idle timeout (longest gap between two
// streamed tokens). A caller may add its own deadline (a request field). Phases: `queue` (waiting
// to be scheduled), `inference` (scheduled, generating) and `streaming` (waiting for the next
// token of a stream).
//
// Precedence: in each phase every level that applies to it is a limit, measured from the point it
// starts counting (server and request deadline: arrival; queue: arrival; inference: first
// scheduling; stream idle: the last token). The level that expires first is the one enforced and
// reported; on a tie the more specific level wins: request deadline > engine (inference /
// stream idle) > scheduler (queue) > server. A limit of 0 or less means "not set".
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace cyllm {

enum class TimeoutPhase { kQueue, kInference, kStreaming };
enum class TimeoutLevel { kRequest, kEngine, kScheduler, kServer };
std::string_view timeout_phase_name(TimeoutPhase p);
std::string_view timeout_level_name(TimeoutLevel l);

struct TimeoutConfig {
  double server_ms = 0;        // whole request, from arrival
  double queue_ms = 0;         // scheduler: waiting in the queue
  double inference_ms = 0;     // engine: from first scheduling to the end
  double stream_idle_ms = 0;   // engine: between two streamed tokens
};

struct RequestClock {
  double arrival_ms = 0;
  double scheduled_ms = -1;   // < 0: still queued
  double last_token_ms = -1;  // < 0: no token yet
  double deadline_ms = 0;     // caller's own limit from arrival; <= 0: none
  bool streaming = false;
};

struct TimeoutHit {
  TimeoutPhase phase;
  TimeoutLevel level;
  double limit_ms;    // the configured value that expired
  double elapsed_ms;  // measured over that level's span
};

// The phase a request is in now.
TimeoutPhase current_phase(const RequestClock& c);
// The limit that has expired at now_ms, if any, chosen by the precedence above.
std::optional<TimeoutHit> check_timeout(const TimeoutConfig& cfg, const RequestClock& c, double now_ms);
// The error for a hit: names the phase, the level and the configured value (Property 19).
Error timeout_error(const TimeoutHit& hit);

}  // namespace cyllm
