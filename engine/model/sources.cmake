target_sources(cyllm_engine PRIVATE
  model/tensor-types.cpp
  model/gguf-reader.cpp
)
target_sources(cyllm_engine PRIVATE
  model/model-config.cpp
  model/weights.cpp
  model/llama-model.cpp
  model/kv-storage.cpp
  model/forward.cpp
  model/inference-context.cpp
  model/lora.cpp
)
# LoRA adapter files (PEFT safetensors, GGUF LoRA) and the writers they need.
target_sources(cyllm_engine PRIVATE
  model/safetensors.cpp
  model/gguf-file-writer.cpp
  model/adapter-io.cpp
  model/adapter-peft.cpp
  model/adapter-gguf.cpp
  model/merge-lora.cpp
)
