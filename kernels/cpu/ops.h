// Entry points of sglike's CPU extension (bound to Python in bindings.cpp).
#pragma once
#include <ATen/ATen.h>
#include <utility>
#include <vector>

bool cpu_has_avx2_fma();
bool cpu_has_avx512_vnni();
at::Tensor q4_gemm(const at::Tensor& x, const at::Tensor& qs, const at::Tensor& d, const at::Tensor& mn, bool use_simd);
at::Tensor q8_gemm(const at::Tensor& x, const at::Tensor& q, const at::Tensor& d, bool use_simd);
void q4_dequant_rows(const at::Tensor& qs, const at::Tensor& d, const at::Tensor& mn, int64_t r0, int64_t r1, at::Tensor& out);
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps, const c10::optional<at::Tensor>& residual);
void rope_inplace(at::Tensor& x, const at::Tensor& positions, const at::Tensor& cos, const at::Tensor& sin);
at::Tensor decode_attention_paged(const at::Tensor& q, const at::Tensor& k_buf, const at::Tensor& v_buf,
                                  const at::Tensor& slots, const at::Tensor& lens, double scale, bool cascade, bool use_simd);
std::vector<std::pair<std::vector<int64_t>, int64_t>> cascade_groups(const at::Tensor& slots, const at::Tensor& lens);
at::Tensor silu_mul(const at::Tensor& gate_up, bool use_simd);
void kv_store(at::Tensor& k_buf, at::Tensor& v_buf, const at::Tensor& slots, const at::Tensor& k, const at::Tensor& v);
at::Tensor vnni_gemm(const at::Tensor& x, const at::Tensor& packed, int64_t n, bool q4, bool use_simd);
void vnni_dequant_rows(const at::Tensor& packed, bool q4, const at::Tensor& rows, at::Tensor& out);

// Unchecked building blocks shared by the fused decode step (decode_step.cpp); callers validate.
// decode attention: request b reads slots[(rows ? rows[b] : b) * slot_stride + j] for j < lens[b];
// with ``cascade``, shared prefixes are read once per group; ``simd``: the AVX-512 path where it
// applies (head_dim 64/128), else the plain loops; returns the number of groups
int64_t decode_attention_raw(const float* q, int64_t b_total, int64_t hq, int64_t d, const float* k_buf, const float* v_buf, int64_t hk,
                             int64_t s_total, const int64_t* slots, int64_t slot_stride, const int64_t* rows, const int64_t* lens,
                             float scale, float* out, bool cascade, bool simd);
