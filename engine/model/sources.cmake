target_sources(cyllm_engine PRIVATE
  model/tensor-types.cpp
  model/gguf-reader.cpp
)
