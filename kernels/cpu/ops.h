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
at::Tensor vnni_gemm(const at::Tensor& x, const at::Tensor& packed, int64_t n, bool q4, bool use_simd, bool act8 = false);
void vnni_dequant_rows(const at::Tensor& packed, bool q4, const at::Tensor& rows, at::Tensor& out);
at::Tensor mapped_zeros(int64_t nbytes, bool huge);
