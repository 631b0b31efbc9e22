// AVX-512 VNNI instance of the 32-block matmul (see quant-avx512-q32.inc); built with -mavx512vnni
// and only called when the CPU reports avx512vnni (avx512::vnni_enabled()).
#define CYLLM_Q32_NS vnni
#define CYLLM_Q32_VNNI 1
#include "backend/quant-avx512-q32.inc"
