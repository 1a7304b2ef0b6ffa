// Small-M GEMMs that read GGUF-style quantized weights directly (no float copy of the model):
//   q4_gemm: Q4_1-style int4, 32-weight blocks with a float scale and min (w = d*q + m)
//   q8_gemm: Q8_0-style int8, 32-weight blocks with a float scale (w = d*q)
// and the dequantizers that feed the float GEMM for large-M (prefill) tiles.
//
// The weights are used exactly as stored (the file's own blocks and scales). The AVX2 path
// multiplies them in int16 against activations rounded to int16 per 32-block (relative
// error ~1.5e-5 of a block's largest value); the scalar path computes in float32 from the
// dequantized weights and is its plain twin (and the path on CPUs without AVX2+FMA). Rows of the output are split across threads (at::parallel_for).
//
// Layouts (prepared in Python, sglike/kernels/cpu/__init__.py):
//   q4 qs [N, K/32, 16] uint8: byte j of a block holds weight j (low nibble) and j+16 (high)
//   q8 q  [N, K] int8;  scales / mins [N, K/32] float32
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include "ops.h"
#include <immintrin.h>
#include <algorithm>
#include <cmath>
#include <vector>

namespace {

constexpr int64_t kBlock = 32;

// ---- scalar twins -----------------------------------------------------------------------
void q4_rows_scalar(const float* x, int64_t m_rows, int64_t k, const uint8_t* qs, const float* d,
                    const float* mn, float* y, int64_t n_total, int64_t n0, int64_t n1) {
  const int64_t nb = k / kBlock;
  for (int64_t n = n0; n < n1; ++n) {
    for (int64_t m = 0; m < m_rows; ++m) {
      const float* xr = x + m * k;
      float acc = 0.f;
      for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* q = qs + (n * nb + b) * 16;
        const float db = d[n * nb + b], mb = mn[n * nb + b];
        for (int j = 0; j < 16; ++j) {
          acc += (db * float(q[j] & 0x0F) + mb) * xr[b * kBlock + j];
          acc += (db * float(q[j] >> 4) + mb) * xr[b * kBlock + 16 + j];
        }
      }
      y[m * n_total + n] = acc;
    }
  }
}

void q8_rows_scalar(const float* x, int64_t m_rows, int64_t k, const int8_t* q, const float* d,
                    float* y, int64_t n_total, int64_t n0, int64_t n1) {
  const int64_t nb = k / kBlock;
  for (int64_t n = n0; n < n1; ++n) {
    for (int64_t m = 0; m < m_rows; ++m) {
      const float* xr = x + m * k;
      float acc = 0.f;
      for (int64_t b = 0; b < nb; ++b) {
        const float db = d[n * nb + b];
        for (int j = 0; j < kBlock; ++j) acc += db * float(q[n * k + b * kBlock + j]) * xr[b * kBlock + j];
      }
      y[m * n_total + n] = acc;
    }
  }
}

// ---- AVX2 + FMA: weights as int16, activations as int16 per 32-block --------------------
// x is quantized per row and block to int16 (scale = amax / 32767, relative error ~1.5e-5 of
// the block's largest value), so one vpmaddwd multiplies 16 weight/activation pairs; the
// int4 min enters as min * sum(x) with the float sum of the block.
struct QuantizedX {
  std::vector<int16_t> q;    // [M, K]
  std::vector<float> scale;  // [M, K/32]
  std::vector<float> sum;    // [M, K/32]
};

QuantizedX quantize_x16(const float* x, int64_t m_rows, int64_t k) {
  const int64_t nb = k / kBlock;
  QuantizedX out{std::vector<int16_t>(m_rows * k), std::vector<float>(m_rows * nb), std::vector<float>(m_rows * nb)};
  for (int64_t i = 0; i < m_rows * nb; ++i) {
    const float* xb = x + i * kBlock;
    float amax = 0.f, sum = 0.f;
    for (int j = 0; j < kBlock; ++j) amax = std::max(amax, std::fabs(xb[j])), sum += xb[j];
    const float scale = amax / 32767.f, inv = amax > 0.f ? 32767.f / amax : 0.f;
    for (int j = 0; j < kBlock; ++j) out.q[i * kBlock + j] = int16_t(std::nearbyint(xb[j] * inv));
    out.scale[i] = scale;
    out.sum[i] = sum;
  }
  return out;
}

__attribute__((target("avx2,fma"))) inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// one 32-weight block of one weight row against MT activation rows, into acc / min_acc
// (xq, xs, xsum: the quantized activations, scales and sums from row m0 on; raw pointers
// so the compiler keeps them in registers)
template <int MT, bool Q4>
__attribute__((target("avx2,fma"), always_inline)) inline void block_dot(const int16_t* __restrict xq, const float* __restrict xs,
                                                                   const float* __restrict xsum, int64_t nb, const void* __restrict wq,
                                                                   const float* __restrict d, const float* __restrict mn, int64_t b,
                                                                   __m256 (&acc)[MT], float (&min_acc)[MT]) {
  __m256i wa, wb;  // weights 0-15 and 16-31 as int16
  if (Q4) {
    const __m128i low = _mm_set1_epi8(0x0F);
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint8_t*>(wq) + b * 16));
    wa = _mm256_cvtepu8_epi16(_mm_and_si128(v, low));
    wb = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(v, 4), low));
  } else {
    const int8_t* q = static_cast<const int8_t*>(wq) + b * kBlock;
    wa = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q)));
    wb = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q + 16)));
  }
  for (int m = 0; m < MT; ++m) {
    const int64_t row = m * nb + b;
    const __m256i* xb = reinterpret_cast<const __m256i*>(xq + row * kBlock);
    const __m256i p = _mm256_add_epi32(_mm256_madd_epi16(wa, _mm256_loadu_si256(xb)), _mm256_madd_epi16(wb, _mm256_loadu_si256(xb + 1)));
    acc[m] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(d[b] * xs[row]), acc[m]);
    if (Q4) min_acc[m] += mn[b] * xsum[row];
  }
}

// MT activation rows against one weight row; two accumulator sets (even / odd blocks)
template <int MT, bool Q4>
__attribute__((target("avx2,fma"))) void row_tile(const QuantizedX& xq, int64_t m0, int64_t k, const void* wq,
                                                  const float* d, const float* mn, float* out, int64_t ldo) {
  const int64_t nb = k / kBlock;
  __m256 even[MT], odd[MT];
  float min_even[MT], min_odd[MT];
  for (int m = 0; m < MT; ++m) even[m] = odd[m] = _mm256_setzero_ps(), min_even[m] = min_odd[m] = 0.f;
  const int16_t* q = xq.q.data() + m0 * k;
  const float *xs = xq.scale.data() + m0 * nb, *xsum = xq.sum.data() + m0 * nb;
  int64_t b = 0;
  for (; b + 2 <= nb; b += 2) {
    block_dot<MT, Q4>(q, xs, xsum, nb, wq, d, mn, b, even, min_even);
    block_dot<MT, Q4>(q, xs, xsum, nb, wq, d, mn, b + 1, odd, min_odd);
  }
  if (b < nb) block_dot<MT, Q4>(q, xs, xsum, nb, wq, d, mn, b, even, min_even);
  for (int m = 0; m < MT; ++m) out[m * ldo] = hsum(_mm256_add_ps(even[m], odd[m])) + min_even[m] + min_odd[m];
}

// one activation row against two weight rows at once (independent chains for the core to overlap)
template <bool Q4>
__attribute__((target("avx2,fma"))) void row_pair(const QuantizedX& xq, int64_t k, const void* w0, const void* w1, const float* d0,
                                                  const float* d1, const float* m0, const float* m1, float* out0, float* out1) {
  const int64_t nb = k / kBlock;
  const int16_t* q = xq.q.data();
  const float *xs = xq.scale.data(), *xsum = xq.sum.data();
  __m256 e0[1] = {_mm256_setzero_ps()}, o0[1] = {_mm256_setzero_ps()}, e1[1] = {_mm256_setzero_ps()}, o1[1] = {_mm256_setzero_ps()};
  float me0[1] = {0.f}, mo0[1] = {0.f}, me1[1] = {0.f}, mo1[1] = {0.f};
  int64_t b = 0;
  for (; b + 2 <= nb; b += 2) {
    block_dot<1, Q4>(q, xs, xsum, nb, w0, d0, m0, b, e0, me0);
    block_dot<1, Q4>(q, xs, xsum, nb, w1, d1, m1, b, e1, me1);
    block_dot<1, Q4>(q, xs, xsum, nb, w0, d0, m0, b + 1, o0, mo0);
    block_dot<1, Q4>(q, xs, xsum, nb, w1, d1, m1, b + 1, o1, mo1);
  }
  if (b < nb) {
    block_dot<1, Q4>(q, xs, xsum, nb, w0, d0, m0, b, e0, me0);
    block_dot<1, Q4>(q, xs, xsum, nb, w1, d1, m1, b, e1, me1);
  }
  *out0 = hsum(_mm256_add_ps(e0[0], o0[0])) + me0[0] + mo0[0];
  *out1 = hsum(_mm256_add_ps(e1[0], o1[0])) + me1[0] + mo1[0];
}

template <bool Q4>
__attribute__((target("avx2,fma"))) void rows_avx2(const QuantizedX& xq, int64_t m_rows, int64_t k, const void* wq,
                                                   const float* d, const float* mn, float* y, int64_t n_total,
                                                   int64_t n0, int64_t n1) {
  const int64_t nb = k / kBlock;
  const int64_t row_bytes = Q4 ? nb * 16 : k;
  if (Q4 && m_rows == 1) {  // batch-1 int4 decode: weight rows in pairs (measured slower for int8)
    const uint8_t* w = static_cast<const uint8_t*>(wq);
    for (; n0 + 2 <= n1; n0 += 2)
      row_pair<Q4>(xq, k, w + n0 * row_bytes, w + (n0 + 1) * row_bytes, d + n0 * nb, d + (n0 + 1) * nb,
                   Q4 ? mn + n0 * nb : nullptr, Q4 ? mn + (n0 + 1) * nb : nullptr, y + n0, y + n0 + 1);
  }
  for (int64_t n = n0; n < n1; ++n) {
    const void* wr = static_cast<const uint8_t*>(wq) + n * row_bytes;
    const float* dr = d + n * nb;
    const float* mr = Q4 ? mn + n * nb : nullptr;
    int64_t m = 0;
    for (; m + 4 <= m_rows; m += 4) row_tile<4, Q4>(xq, m, k, wr, dr, mr, y + m * n_total + n, n_total);
    switch (m_rows - m) {
      case 3: row_tile<3, Q4>(xq, m, k, wr, dr, mr, y + m * n_total + n, n_total); break;
      case 2: row_tile<2, Q4>(xq, m, k, wr, dr, mr, y + m * n_total + n, n_total); break;
      case 1: row_tile<1, Q4>(xq, m, k, wr, dr, mr, y + m * n_total + n, n_total); break;
      default: break;
    }
  }
}

void check_common(const at::Tensor& x, const at::Tensor& d, int64_t n, int64_t k) {
  TORCH_CHECK(x.dim() == 2 && x.scalar_type() == at::kFloat && x.is_contiguous(), "x must be a contiguous float32 [M, K]");
  TORCH_CHECK(x.size(1) == k && k % kBlock == 0, "x has K=", x.size(1), ", weights K=", k, " (a multiple of 32)");
  TORCH_CHECK(d.scalar_type() == at::kFloat && d.is_contiguous() && d.numel() == n * (k / kBlock), "scales must be float32 [N, K/32]");
}

int64_t grain(int64_t m_rows) { return std::max<int64_t>(1, 256 / std::max<int64_t>(1, m_rows)); }

}  // namespace

// ---- entry points -----------------------------------------------------------------------
bool cpu_has_avx2_fma() {
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return ok;
}

at::Tensor q4_gemm(const at::Tensor& x, const at::Tensor& qs, const at::Tensor& d, const at::Tensor& mn, bool use_simd) {
  TORCH_CHECK(qs.dim() == 3 && qs.size(2) == 16 && qs.scalar_type() == at::kByte && qs.is_contiguous(), "qs must be uint8 [N, K/32, 16]");
  const int64_t n = qs.size(0), k = qs.size(1) * kBlock, m_rows = x.size(0);
  check_common(x, d, n, k);
  TORCH_CHECK(mn.sizes() == d.sizes() && mn.scalar_type() == at::kFloat && mn.is_contiguous(), "mins must match scales");
  at::Tensor y = at::empty({m_rows, n}, x.options());
  const float *xp = x.data_ptr<float>(), *dp = d.data_ptr<float>(), *mp = mn.data_ptr<float>();
  const uint8_t* qp = qs.data_ptr<uint8_t>();
  float* yp = y.data_ptr<float>();
  const bool simd = use_simd && cpu_has_avx2_fma();
  const QuantizedX xq = simd ? quantize_x16(xp, m_rows, k) : QuantizedX{};
  at::parallel_for(0, n, grain(m_rows), [&](int64_t n0, int64_t n1) {
    if (simd) rows_avx2<true>(xq, m_rows, k, qp, dp, mp, yp, n, n0, n1);
    else q4_rows_scalar(xp, m_rows, k, qp, dp, mp, yp, n, n0, n1);
  });
  return y;
}

at::Tensor q8_gemm(const at::Tensor& x, const at::Tensor& q, const at::Tensor& d, bool use_simd) {
  TORCH_CHECK(q.dim() == 2 && q.scalar_type() == at::kChar && q.is_contiguous(), "q must be int8 [N, K]");
  const int64_t n = q.size(0), k = q.size(1), m_rows = x.size(0);
  check_common(x, d, n, k);
  at::Tensor y = at::empty({m_rows, n}, x.options());
  const float *xp = x.data_ptr<float>(), *dp = d.data_ptr<float>();
  const int8_t* qp = q.data_ptr<int8_t>();
  float* yp = y.data_ptr<float>();
  const bool simd = use_simd && cpu_has_avx2_fma();
  const QuantizedX xq = simd ? quantize_x16(xp, m_rows, k) : QuantizedX{};
  at::parallel_for(0, n, grain(m_rows), [&](int64_t n0, int64_t n1) {
    if (simd) rows_avx2<false>(xq, m_rows, k, qp, dp, nullptr, yp, n, n0, n1);
    else q8_rows_scalar(xp, m_rows, k, qp, dp, yp, n, n0, n1);
  });
  return y;
}

// rows [r0, r1) of the int4 weights as float32 into out [r1 - r0, K]
void q4_dequant_rows(const at::Tensor& qs, const at::Tensor& d, const at::Tensor& mn, int64_t r0, int64_t r1, at::Tensor& out) {
  const int64_t nb = qs.size(1), k = nb * kBlock;
  TORCH_CHECK(out.scalar_type() == at::kFloat && out.is_contiguous() && out.size(1) == k && out.size(0) >= r1 - r0, "bad out");
  const uint8_t* qp = qs.data_ptr<uint8_t>();
  const float *dp = d.data_ptr<float>(), *mp = mn.data_ptr<float>();
  float* op = out.data_ptr<float>();
  at::parallel_for(r0, r1, 16, [&](int64_t a, int64_t b) {
    for (int64_t n = a; n < b; ++n)
      for (int64_t blk = 0; blk < nb; ++blk) {
        const uint8_t* q = qp + (n * nb + blk) * 16;
        const float db = dp[n * nb + blk], mb = mp[n * nb + blk];
        float* o = op + (n - r0) * k + blk * kBlock;
        for (int j = 0; j < 16; ++j) {
          o[j] = db * float(q[j] & 0x0F) + mb;
          o[16 + j] = db * float(q[j] >> 4) + mb;
        }
      }
  });
}

