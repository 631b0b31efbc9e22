target_sources(cyllm_engine PRIVATE serve/sampler.cpp serve/stop-matcher.cpp serve/generator.cpp serve/percentiles.cpp serve/latency.cpp serve/request-queue.cpp serve/kv-blocks.cpp)
