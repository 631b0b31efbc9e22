target_sources(cyllm_engine PRIVATE serve/sampler.cpp serve/stop-matcher.cpp serve/generator.cpp)
