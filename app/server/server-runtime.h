// Everything the HTTP server needs beside the model, built from ServerSettings in one place, so
// `cyllm serve` and the workbench's Server panel run the same server: the logger, the API-key
// store, the audit log (with its retention applied at start), the rate limiter (in-process or
// Redis), telemetry (metrics, alerts) and the gatekeeper (trace, auth, limits). Qt-free.
#pragma once

#include <memory>

#include "core/log.h"
#include "core/status.h"
#include "server/audit-log.h"
#include "server/gatekeeper.h"
#include "server/key-store.h"
#include "server/rate-limit.h"
#include "server/server-config.h"
#include "server/telemetry.h"

namespace cyllm::server {

struct ServerRuntime {
  ServerSettings settings;
  std::unique_ptr<Logger> log;
  std::unique_ptr<KeyStore> keys;
  std::unique_ptr<AuditLog> audit;
  std::unique_ptr<RateLimitBackend> limiter;
  std::unique_ptr<Telemetry> telemetry;
  std::unique_ptr<Gatekeeper> gate;

  // Opens the stores and checks the auth rule: a server bound beyond loopback needs at least one
  // API key (the error says how to create one). log_sink: where log lines go (default stderr).
  static Result<std::unique_ptr<ServerRuntime>> create(const ServerSettings& s, Logger::Sink log_sink = {});
};

}  // namespace cyllm::server
