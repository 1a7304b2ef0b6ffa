// Fused float32 elementwise ops for the CPU decode step, and the checked entry point of the
// paged decode attention (decode_attention.cpp).
// Each replaces a chain of small torch ops whose dispatch dominates a batch-1 step; the
// torch code they replace (runtime/layers/norm.py, rotary.py, kernels/attention/decode.py)
// is their reference twin. Loops are plain C++ compiled for AVX-512, AVX2 and a baseline
// (target_clones picks one at load time).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include "decode_attention.h"
#include "ops.h"
#include "simd_math.h"
#include <algorithm>
#include <cmath>
#include <vector>

#define SGLIKE_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

namespace {

void check_f32(const at::Tensor& t, const char* name) {
  TORCH_CHECK(t.device().is_cpu() && t.scalar_type() == at::kFloat, name, " must be a float32 CPU tensor");
}

SGLIKE_CLONES void norm_row(const float* x, const float* w, float* out, int64_t h, float eps) {
  double ss = 0.0;
#pragma omp simd reduction(+ : ss)
  for (int64_t i = 0; i < h; ++i) ss += double(x[i]) * double(x[i]);
  const float r = 1.0f / std::sqrt(float(ss / double(h)) + eps);
  for (int64_t i = 0; i < h; ++i) out[i] = w[i] * (x[i] * r);
}

SGLIKE_CLONES void add_row(float* acc, const float* x, int64_t h) {
  for (int64_t i = 0; i < h; ++i) acc[i] += x[i];
}

SGLIKE_CLONES void rope_row(float* x, const float* c, const float* s, int64_t half) {
  for (int64_t i = 0; i < half; ++i) {
    const float a = x[i], b = x[half + i];
    x[i] = a * c[i] - b * s[i];
    x[half + i] = b * c[i] + a * s[i];
  }
}

SGLIKE_AVX512 void silu_mul_avx512(const float* g, const float* u, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 x = _mm512_loadu_ps(g + i);
    const __m512 s = _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.f), exp512(_mm512_sub_ps(_mm512_setzero_ps(), x))));
    _mm512_storeu_ps(out + i, _mm512_mul_ps(s, _mm512_loadu_ps(u + i)));
  }
  for (; i < n; ++i) out[i] = g[i] / (1.f + std::exp(-g[i])) * u[i];
}

void silu_mul_plain(const float* g, const float* u, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = g[i] / (1.f + std::exp(-g[i])) * u[i];
}

}  // namespace

// SiLU-gated product of a merged gate/up projection: gate_up [T, 2I] -> silu(gate) * up [T, I]
at::Tensor silu_mul(const at::Tensor& gate_up, bool use_simd) {
  check_f32(gate_up, "gate_up");
  TORCH_CHECK(gate_up.dim() == 2 && gate_up.stride(1) == 1 && gate_up.size(1) % 2 == 0, "gate_up must be [T, 2I] with contiguous rows");
  const int64_t t = gate_up.size(0), inter = gate_up.size(1) / 2;
  at::Tensor out = at::empty({t, inter}, gate_up.options());
  const bool simd = use_simd && cpu_has_avx512f();
  for (int64_t i = 0; i < t; ++i) {
    const float* g = gate_up.data_ptr<float>() + i * gate_up.stride(0);
    float* o = out.data_ptr<float>() + i * inter;
    if (simd) silu_mul_avx512(g, g + inter, o, inter);
    else silu_mul_plain(g, g + inter, o, inter);
  }
  return out;
}

// out = weight * x / rms(x), row by row; with ``residual``: residual += x first, and the
// norm is taken of the sum (the pre-norm decoder's "add then normalise").
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps, const c10::optional<at::Tensor>& residual) {
  check_f32(x, "x");
  check_f32(weight, "weight");
  TORCH_CHECK(x.dim() == 2 && x.stride(1) == 1 && weight.is_contiguous() && weight.numel() == x.size(1), "x [T, H], weight [H]");
  const int64_t t = x.size(0), h = x.size(1);
  at::Tensor out = at::empty({t, h}, x.options());
  const float* wp = weight.data_ptr<float>();
  float* op = out.data_ptr<float>();
  if (residual.has_value()) {
    const at::Tensor& r = *residual;
    check_f32(r, "residual");
    TORCH_CHECK(r.dim() == 2 && r.size(0) == t && r.size(1) == h && r.stride(1) == 1, "residual must be [T, H]");
    float* rp = r.data_ptr<float>();
    const float* xp = x.data_ptr<float>();
    for (int64_t i = 0; i < t; ++i) {
      add_row(rp + i * r.stride(0), xp + i * x.stride(0), h);
      norm_row(rp + i * r.stride(0), wp, op + i * h, h, float(eps));
    }
  } else {
    const float* xp = x.data_ptr<float>();
    for (int64_t i = 0; i < t; ++i) norm_row(xp + i * x.stride(0), wp, op + i * h, h, float(eps));
  }
  return out;
}

// rotates x [T, H, D] in place (HF half-split layout) at ``positions`` from cos/sin [P, D/2]
void rope_inplace(at::Tensor& x, const at::Tensor& positions, const at::Tensor& cos, const at::Tensor& sin) {
  check_f32(x, "x");
  check_f32(cos, "cos");
  check_f32(sin, "sin");
  TORCH_CHECK(x.dim() == 3 && x.stride(2) == 1 && x.stride(1) == x.size(2), "x must be [T, H, D] with contiguous heads");
  TORCH_CHECK(positions.scalar_type() == at::kLong && positions.numel() == x.size(0), "positions must be int64 [T]");
  const int64_t t = x.size(0), h = x.size(1), half = x.size(2) / 2;
  TORCH_CHECK(cos.is_contiguous() && sin.is_contiguous() && cos.size(1) == half, "cos/sin must be [P, D/2]");
  const at::Tensor pos = positions.contiguous();
  const int64_t* pp = pos.data_ptr<int64_t>();
  float* xp = x.data_ptr<float>();
  for (int64_t i = 0; i < t; ++i) {
    TORCH_CHECK(pp[i] >= 0 && pp[i] < cos.size(0), "position out of the rotary table");
    const float* c = cos.data_ptr<float>() + pp[i] * half;
    const float* s = sin.data_ptr<float>() + pp[i] * half;
    for (int64_t j = 0; j < h; ++j) rope_row(xp + i * x.stride(0) + j * x.size(2), c, s, half);
  }
}

// One query per request over its KV slots, read in place from the pool.
// q [B, Hq, D]; k_buf/v_buf [Hk, S, D]; slots [B, L] int64 (row b's first lens[b] are live)
at::Tensor decode_attention_paged(const at::Tensor& q, const at::Tensor& k_buf, const at::Tensor& v_buf,
                                  const at::Tensor& slots, const at::Tensor& lens, double scale, bool cascade, bool use_simd) {
  check_f32(q, "q");
  check_f32(k_buf, "k_buf");
  check_f32(v_buf, "v_buf");
  TORCH_CHECK(q.dim() == 3 && q.is_contiguous() && k_buf.is_contiguous() && v_buf.is_contiguous(), "contiguous q and pool");
  TORCH_CHECK(slots.scalar_type() == at::kLong && lens.scalar_type() == at::kLong, "slots and lens are int64");
  const int64_t b_total = q.size(0), hq = q.size(1), d = q.size(2), hk = k_buf.size(0), s_total = k_buf.size(1);
  TORCH_CHECK(hq % hk == 0 && k_buf.size(2) == d && v_buf.sizes() == k_buf.sizes(), "head shapes do not match");
  const at::Tensor sl = slots.contiguous(), ln = lens.contiguous();
  const int64_t l_max = sl.size(1), g = hq / hk;
  const int64_t *sp = sl.data_ptr<int64_t>(), *lp = ln.data_ptr<int64_t>();
  for (int64_t b = 0; b < b_total; ++b) {
    TORCH_CHECK(lp[b] >= 1 && lp[b] <= l_max, "lens out of range");
    for (int64_t j = 0; j < lp[b]; ++j) TORCH_CHECK(sp[b * l_max + j] >= 0 && sp[b * l_max + j] < s_total, "slot out of the pool");
  }
  at::Tensor out = at::empty_like(q);
  const KVRows rows{sp, l_max, nullptr, lp};
  const CascadePlan plan = cascade ? plan_cascade(rows, b_total) : CascadePlan{{}, std::vector<int64_t>(b_total, 0)};
  decode_attention_raw(q.data_ptr<float>(), b_total, hq, d, k_buf.data_ptr<float>(), v_buf.data_ptr<float>(), hk, s_total, rows, plan,
                       float(scale), out.data_ptr<float>(), use_simd);
  return out;
}

// writes k, v [T, Hk, D] (rows may be strided) into k_buf/v_buf [Hk, S, D] at ``slots`` [T]
void kv_store(at::Tensor& k_buf, at::Tensor& v_buf, const at::Tensor& slots, const at::Tensor& k, const at::Tensor& v) {
  check_f32(k_buf, "k_buf");
  check_f32(v_buf, "v_buf");
  check_f32(k, "k");
  check_f32(v, "v");
  TORCH_CHECK(k_buf.is_contiguous() && v_buf.is_contiguous() && v_buf.sizes() == k_buf.sizes(), "pool buffers must match");
  TORCH_CHECK(k.dim() == 3 && v.sizes() == k.sizes() && k.stride(2) == 1 && v.stride(2) == 1 && k.stride(1) == k.size(2) && v.stride(1) == v.size(2),
              "k, v must be [T, Hk, D] with contiguous heads");
  const int64_t t = k.size(0), hk = k.size(1), d = k.size(2), s_total = k_buf.size(1);
  TORCH_CHECK(k_buf.size(0) == hk && k_buf.size(2) == d, "pool shape does not match k");
  TORCH_CHECK(slots.scalar_type() == at::kLong && slots.numel() == t, "slots must be int64 [T]");
  const at::Tensor sl = slots.contiguous();
  const int64_t* sp = sl.data_ptr<int64_t>();
  float *kb = k_buf.data_ptr<float>(), *vb = v_buf.data_ptr<float>();
  const float *kp = k.data_ptr<float>(), *vp = v.data_ptr<float>();
  for (int64_t i = 0; i < t; ++i) {
    TORCH_CHECK(sp[i] >= 0 && sp[i] < s_total, "slot out of the pool");
    for (int64_t h = 0; h < hk; ++h) {
      std::copy_n(kp + i * k.stride(0) + h * d, d, kb + (h * s_total + sp[i]) * d);
      std::copy_n(vp + i * v.stride(0) + h * d, d, vb + (h * s_total + sp[i]) * d);
    }
  }
}
