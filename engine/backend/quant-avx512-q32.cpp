// AVX-512 (no VNNI) instance of the 32-block matmul (see quant-avx512-q32.inc): vpmaddubsw+vpmaddwd.
#define CYLLM_Q32_NS plain
#define CYLLM_Q32_VNNI 0
#include "backend/quant-avx512-q32.inc"
