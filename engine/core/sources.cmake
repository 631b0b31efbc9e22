target_sources(cyllm_engine PRIVATE
  core/status.cpp
  core/mapped-file.cpp
  core/thread-pool.cpp
  core/thread-priority.cpp
  core/memory-bandwidth.cpp
  core/config-schema.cpp
  core/alerts.cpp
  core/oom-advice.cpp
  core/metrics.cpp
  core/log.cpp
  core/trace.cpp
  core/sqlite-db.cpp
  core/sha256.cpp
  core/atomic-file.cpp
)
