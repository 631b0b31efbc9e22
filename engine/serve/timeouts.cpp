#include "serve/timeouts.h"

#include <cstdio>

namespace cyllm {

std::string_view timeout_phase_name(TimeoutPhase p) {
  switch (p) {
    case TimeoutPhase::kQueue: return "queue";
    case TimeoutPhase::kInference: return "inference";
    case TimeoutPhase::kStreaming: return "streaming";
  }
  return "inference";
}

std::string_view timeout_level_name(TimeoutLevel l) {
  switch (l) {
    case TimeoutLevel::kRequest: return "request deadline";
    case TimeoutLevel::kEngine: return "engine";
    case TimeoutLevel::kScheduler: return "scheduler";
    case TimeoutLevel::kServer: return "server";
  }
  return "server";
}

TimeoutPhase current_phase(const RequestClock& c) {
  if (c.scheduled_ms < 0) return TimeoutPhase::kQueue;
  if (c.streaming && c.last_token_ms >= 0) return TimeoutPhase::kStreaming;
  return TimeoutPhase::kInference;
}

std::optional<TimeoutHit> check_timeout(const TimeoutConfig& cfg, const RequestClock& c, double now_ms) {
  const TimeoutPhase phase = current_phase(c);
  std::optional<TimeoutHit> best;
  double best_expiry = 0;
  // Candidates in precedence order, so that on equal expiry times the earlier one is kept.
  auto consider = [&](TimeoutLevel level, double limit, double start) {
    if (limit <= 0 || now_ms - start < limit) return;
    const double expiry = start + limit;
    if (!best || expiry < best_expiry) {
      best = TimeoutHit{phase, level, limit, now_ms - start};
      best_expiry = expiry;
    }
  };
  consider(TimeoutLevel::kRequest, c.deadline_ms, c.arrival_ms);
  if (phase == TimeoutPhase::kQueue) {
    consider(TimeoutLevel::kScheduler, cfg.queue_ms, c.arrival_ms);
  } else {
    consider(TimeoutLevel::kEngine, cfg.inference_ms, c.scheduled_ms);
    if (phase == TimeoutPhase::kStreaming) consider(TimeoutLevel::kEngine, cfg.stream_idle_ms, c.last_token_ms);
  }
  consider(TimeoutLevel::kServer, cfg.server_ms, c.arrival_ms);
  return best;
}

Error timeout_error(const TimeoutHit& hit) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "timed out in the %s phase: the %s limit of %.0f ms expired (after %.0f ms)",
                std::string(timeout_phase_name(hit.phase)).c_str(), std::string(timeout_level_name(hit.level)).c_str(),
                hit.limit_ms, hit.elapsed_ms);
  std::string hint;
  switch (hit.phase) {
    case TimeoutPhase::kQueue: hint = "The server is busy: retry later, raise the queue timeout, or use a higher priority tier."; break;
    case TimeoutPhase::kInference: hint = "Ask for fewer tokens (max_tokens), or raise the inference timeout."; break;
    case TimeoutPhase::kStreaming: hint = "Generation stalled between tokens; raise the stream-idle timeout if the machine is busy."; break;
  }
  return make_error(ErrorCode::kTimeout, buf, hint);
}

}  // namespace cyllm
