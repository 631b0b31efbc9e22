# Scalar reference kernels compile for the baseline ISA; the SIMD files get their own flags and
# are only called after a run-time CPU check (backend/quant-dispatch.cpp). The VNNI instance of the
# AVX-512 32-block matmul and the packed-weight kernels (packed-avx512-vnni.cpp) are only called
# when the CPU reports avx512vnni. Floating-point
# contraction is off so SIMD dequant/K-quant scaling repeats the scalar expressions exactly.
target_sources(cyllm_engine PRIVATE
  backend/quant-dispatch.cpp
  backend/quant-scalar.cpp
  backend/quant-scalar-ref.cpp
  backend/quant-avx2.cpp
  backend/quant-avx2-q32.cpp
  backend/quant-avx2-kquants.cpp
  backend/quant-avx512.cpp
  backend/quant-avx512-q32.cpp
  backend/quant-avx512-q32-vnni.cpp
  backend/quant-avx512-kquants.cpp
  backend/packed-repack.cpp
  backend/packed-avx512-vnni.cpp
)
set(_cyllm_avx2 "-mavx2;-mfma;-mf16c;-ffp-contract=off")
# GCC 12 reports false -Wmaybe-uninitialized inside avx512fintrin.h (_mm512_undefined_*); silenced.
set(_cyllm_avx512 "${_cyllm_avx2};-mavx512f;-mavx512bw;-mavx512dq;-mavx512vl;-Wno-uninitialized;-Wno-maybe-uninitialized")
set_source_files_properties(backend/quant-dispatch.cpp backend/quant-scalar.cpp backend/quant-scalar-ref.cpp
  PROPERTIES COMPILE_OPTIONS "-ffp-contract=off")
set_source_files_properties(backend/quant-avx2.cpp backend/quant-avx2-q32.cpp backend/quant-avx2-kquants.cpp
  PROPERTIES COMPILE_OPTIONS "${_cyllm_avx2}")
set_source_files_properties(backend/quant-avx512.cpp backend/quant-avx512-q32.cpp backend/quant-avx512-kquants.cpp
  PROPERTIES COMPILE_OPTIONS "${_cyllm_avx512}")
set_source_files_properties(backend/quant-avx512-q32-vnni.cpp backend/packed-avx512-vnni.cpp PROPERTIES COMPILE_OPTIONS "${_cyllm_avx512};-mavx512vnni")

# CPU ops, matmul driver and device selection (used by engine/model).
target_sources(cyllm_engine PRIVATE
  backend/cpu-ops.cpp
  backend/cpu-attention.cpp
  backend/cpu-attention-avx512.cpp
  backend/cpu-ops-avx512.cpp
  backend/cpu-matmul.cpp
  backend/cpu-lora.cpp
  backend/cpu-lora-avx512.cpp
  backend/device.cpp
  backend/gpu-monitor.cpp
)
# Attention: fused multiply-add in the AVX2/AVX-512 clones (one clone is used for every call, so
# results stay independent of batch composition).
set_source_files_properties(backend/cpu-attention.cpp PROPERTIES COMPILE_OPTIONS "-ffp-contract=fast")
# Batched LoRA kernels (cpu-lora.h): the AVX-512 file is only called when the active ISA is AVX-512.
set_source_files_properties(backend/cpu-lora-avx512.cpp PROPERTIES COMPILE_OPTIONS "${_cyllm_avx512}")
# AVX-512 attention (cpu-attention.h) and activations (cpu-ops.h): only called when the active ISA
# is AVX-512.
set_source_files_properties(backend/cpu-attention-avx512.cpp backend/cpu-ops-avx512.cpp PROPERTIES COMPILE_OPTIONS "${_cyllm_avx512}")

# The CUDA forward pass (plain C++ over kernels/cuda-ops.h), only when the kernels are built.
if(CYLLM_HAVE_CUDA)
  target_sources(cyllm_engine PRIVATE backend/cuda-forward.cpp backend/cuda-forward-lora.cpp)
endif()
