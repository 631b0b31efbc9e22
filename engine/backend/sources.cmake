# Scalar reference kernels compile for the baseline ISA; the SIMD files get their own flags and
# are only called after a run-time CPU check (backend/quant-dispatch.cpp).
target_sources(cyllm_engine PRIVATE
  backend/quant-dispatch.cpp
  backend/quant-scalar.cpp
  backend/quant-avx2.cpp
  backend/quant-avx512.cpp
)
set_source_files_properties(backend/quant-avx2.cpp PROPERTIES COMPILE_OPTIONS "-mavx2;-mfma;-mf16c")
set_source_files_properties(backend/quant-avx512.cpp PROPERTIES COMPILE_OPTIONS
  "-mavx2;-mfma;-mf16c;-mavx512f;-mavx512bw;-mavx512dq;-mavx512vl")
target_sources(cyllm_engine PRIVATE
  backend/cpu-ops.cpp
  backend/cpu-matmul.cpp
  backend/device.cpp
)
