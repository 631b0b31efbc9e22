target_sources(cyllm_engine PRIVATE serve/sampler.cpp serve/stop-matcher.cpp serve/generator.cpp serve/percentiles.cpp serve/latency.cpp serve/request-queue.cpp serve/kv-blocks.cpp serve/timeouts.cpp serve/scheduler.cpp serve/request-metrics.cpp serve/json-grammar.cpp serve/json-constraint.cpp serve/logprobs.cpp)
target_sources(cyllm_engine PRIVATE serve/adapter-registry.cpp)
