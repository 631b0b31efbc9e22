# Training data: dataset formats (JSONL, JSON, CSV, Parquet), schemas, validation, rendering with
# the chat template and loss masks, train/eval split.
target_sources(cyllm_engine PRIVATE
  train/dataset-format.cpp
  train/dataset-jsonl.cpp
  train/json-fast.cpp
  train/dataset-json.cpp
  train/dataset-csv.cpp
  train/dataset-parquet.cpp
  train/parquet-thrift.cpp
  train/parquet-decode.cpp
  train/dataset-schema.cpp
  train/dataset-validate.cpp
  train/dataset-render.cpp
  train/dataset-split.cpp
  train/early-stop.cpp
  train/job-queue.cpp
  train/checkpoint.cpp
)

# The LoRA trainer: parameters, training forward/backward (fp32, and fp64 for gradient checks),
# optimiser, schedule, data, loop (see docs/ARCHITECTURE.md, "Trainer").
target_sources(cyllm_engine PRIVATE
  train/lora-params.cpp
  train/train-gemm.cpp
  train/train-gemm-bf16.cpp
  train/train-forward.cpp
  train/lora-backward.cpp
  train/train-attention.cpp
  train/train-pointwise.cpp
  train/fused-ce.cpp
  train/train-graph.cpp
  train/adamw.cpp
  train/lr-schedule.cpp
  train/train-config.cpp
  train/train-data.cpp
  train/trainer.cpp
  train/checkpoint-adapter.cpp
  train/job-runner.cpp
)
# The training GEMM's micro-kernel, the attention's softmax and the element-wise kernels want fused
# multiply-adds (one clone per process, so results stay deterministic on a machine).
set_source_files_properties(train/train-gemm.cpp train/train-attention.cpp train/train-pointwise.cpp
  PROPERTIES COMPILE_OPTIONS "-ffp-contract=fast")

# bf16 products (train-gemm-bf16.h): AVX512-BF16, only called after a run-time CPU check.
set_source_files_properties(train/train-gemm-bf16.cpp PROPERTIES COMPILE_OPTIONS
  "-mavx512f;-mavx512bw;-mavx512dq;-mavx512vl;-mavx512bf16;-Wno-uninitialized;-Wno-maybe-uninitialized")

# Parquet page codecs (Debian: zlib1g-dev, libzstd-dev, libsnappy-dev; see scripts/setup-deps.sh).
find_package(ZLIB REQUIRED)
find_path(CYLLM_ZSTD_INCLUDE zstd.h REQUIRED)
find_library(CYLLM_ZSTD_LIB zstd REQUIRED)
find_path(CYLLM_SNAPPY_INCLUDE snappy-c.h REQUIRED)
find_library(CYLLM_SNAPPY_LIB snappy REQUIRED)
target_include_directories(cyllm_engine PRIVATE ${CYLLM_ZSTD_INCLUDE} ${CYLLM_SNAPPY_INCLUDE})
target_link_libraries(cyllm_engine PRIVATE ZLIB::ZLIB ${CYLLM_ZSTD_LIB} ${CYLLM_SNAPPY_LIB})

# The job queue's store (Debian: libsqlite3-dev).
find_package(SQLite3 REQUIRED)
target_link_libraries(cyllm_engine PRIVATE SQLite::SQLite3)
