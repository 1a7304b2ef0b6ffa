// GEMMs over GGUF-style int4/int8 blocks repacked for AVX512-VNNI (vpdpbusd), 16 output rows
// interleaved, so one 512-bit register holds a 4-weight slice of 16 rows and every lane
// accumulates its own row: no horizontal sums, and the per-block scales of 16 rows are one
// vector load. Chosen at run time on CPUs with AVX512-VNNI (Cascade Lake and newer Xeons,
// AMD Zen 4); the scalar path over the same layout is its plain twin.
//
// Packed layout (built in Python, sglike/kernels/cpu/vnni.py): uint8 [G, K/32, REC], one
// record per (group of 16 rows, 32-weight block):
//   int4 (REC 320): 4 chunks of 64 bytes, chunk c byte 4r+t holds row r's weight 8c+t in its
//                   low nibble and weight 8c+4+t in its high nibble; then 16 fp16 scales d and
//                   16 fp16 mins m (w = d*q + m; Q4_0 has m = -8d)
//   int8 (REC 576): 8 chunks of 64 bytes, chunk j byte 4r+t holds row r's weight 4j+t (int8);
//                   then 16 fp16 scales d (w = d*q) and the 16 rows' sums of q (int16)
// Activations are rounded per row and 32-block to int16 (relative error ~1.5e-5 of the
// block's largest value) and split as x = 256*hi + lo (hi in -128..127, lo in 0..255), so two
// vpdpbusd (unsigned x signed bytes) give the exact integer dot product: int4 weights are
// both, so w*hi takes them as the unsigned side and lo*w as the signed one; int8 weights are
// signed, so hi enters as hi+128 and the row sums take the 128 back out.
// With act8 (dynamic W8A8), activations are instead rounded per row and 32-block to int8
// (x = s*xq, s = amax/127, as llama.cpp's Q8_0 activations): one vpdpbusd of xq (+128 for
// int8 weights) per 4 weights, half the work, at the cost of that rounding.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include "ops.h"
#include <immintrin.h>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace {

constexpr int64_t kBlock = 32, kRows = 16;
constexpr int64_t kRecQ4 = 320, kRecQ8 = 576;

inline int64_t record_bytes(bool q4) { return q4 ? kRecQ4 : kRecQ8; }

inline float half_to_float(uint16_t h) {
  return c10::detail::fp16_ieee_to_fp32_value(h);
}

// row r's weight j (0..31) of a block record, as the integer q (int4: 0..15; int8: -128..127)
inline int weight_at(const uint8_t* rec, bool q4, int r, int j) {
  if (q4) {
    const int c = j / 8, within = j % 8;
    const uint8_t byte = rec[c * 64 + 4 * r + (within % 4)];
    return within < 4 ? (byte & 0x0F) : (byte >> 4);
  }
  return int(int8_t(rec[(j / 4) * 64 + 4 * r + j % 4]));
}

inline const uint16_t* scales_of(const uint8_t* rec, bool q4) { return reinterpret_cast<const uint16_t*>(rec + (q4 ? 256 : 512)); }
inline const uint16_t* mins_of(const uint8_t* rec) { return reinterpret_cast<const uint16_t*>(rec + 288); }
inline const int16_t* row_sums_of(const uint8_t* rec) { return reinterpret_cast<const int16_t*>(rec + 544); }

// ---- scalar twin: float32 from the dequantized weights ------------------------------------
void groups_scalar(const float* x, int64_t m_rows, int64_t k, const uint8_t* packed, bool q4, float* y, int64_t n,
                   int64_t g0, int64_t g1) {  // x already rounded to int8 per block where act8
  const int64_t nb = k / kBlock, rec = record_bytes(q4);
  std::vector<float> w(kRows * kBlock);
  for (int64_t g = g0; g < g1; ++g) {
    std::vector<double> acc(m_rows * kRows, 0.0);
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* r8 = packed + (g * nb + b) * rec;
      for (int r = 0; r < kRows; ++r) {
        const float d = half_to_float(scales_of(r8, q4)[r]), mn = q4 ? half_to_float(mins_of(r8)[r]) : 0.f;
        for (int j = 0; j < kBlock; ++j) w[r * kBlock + j] = d * float(weight_at(r8, q4, r, j)) + mn;
      }
      for (int64_t m = 0; m < m_rows; ++m)
        for (int r = 0; r < kRows; ++r)
          for (int j = 0; j < kBlock; ++j) acc[m * kRows + r] += double(w[r * kBlock + j]) * x[m * k + b * kBlock + j];
    }
    for (int64_t m = 0; m < m_rows; ++m)
      for (int r = 0; r < kRows && g * kRows + r < n; ++r) y[m * n + g * kRows + r] = float(acc[m * kRows + r]);
  }
}

// the plain twin's act8 rounding: each 32-block of x to s * round(x / s), s = amax / 127
std::vector<float> round_act8(const float* x, int64_t count) {
  std::vector<float> out(x, x + count);
  for (int64_t b = 0; b < count; b += kBlock) {
    float amax = 0.f;
    for (int j = 0; j < kBlock; ++j) amax = std::max(amax, std::fabs(out[b + j]));
    const float inv = amax > 0.f ? 127.f / amax : 0.f, s = amax / 127.f;
    for (int j = 0; j < kBlock; ++j) out[b + j] = s * std::nearbyint(out[b + j] * inv);
  }
  return out;
}

// ---- activations: int16 per row and block, split into hi/lo bytes --------------------------
struct SplitX {
  std::vector<uint8_t> hi, lo;  // [M, K]: hi as int8 (int4 weights) or hi + 128 as uint8 (int8 weights); lo 0..255
  std::vector<float> scale;     // [M, K/32]
  std::vector<float> sum;       // [M, K/32]: float sum of the block (int4's min term)
};

// ---- AVX512-VNNI -------------------------------------------------------------------------
#define SGLIKE_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,fma,f16c")))

// one row-block of 32 activations -> int16 values split in bytes (rounded to nearest even)
SGLIKE_VNNI inline void split_block(const float* xb, uint8_t* hi, uint8_t* lo, float* scale, float* sum, int bias) {
  const __m512 a = _mm512_loadu_ps(xb), b = _mm512_loadu_ps(xb + 16);
  const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(a), _mm512_abs_ps(b)));
  *sum = _mm512_reduce_add_ps(_mm512_add_ps(a, b));
  if (lo == nullptr) {  // act8: int8 values (+ bias) in hi only
    const __m512 inv = _mm512_set1_ps(amax > 0.f ? 127.f / amax : 0.f);
    const __m512i bv = _mm512_set1_epi32(bias);
    const __m512i va = _mm512_cvtps_epi32(_mm512_mul_ps(a, inv)), vb = _mm512_cvtps_epi32(_mm512_mul_ps(b, inv));  // -127..127
    _mm_storeu_si128(reinterpret_cast<__m128i*>(hi), _mm512_cvtepi32_epi8(_mm512_add_epi32(va, bv)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(hi + 16), _mm512_cvtepi32_epi8(_mm512_add_epi32(vb, bv)));
    *scale = amax / 127.f;
    *sum = *scale * float(_mm512_reduce_add_epi32(_mm512_add_epi32(va, vb)));  // of the rounded values
    return;
  }
  const __m512 inv = _mm512_set1_ps(amax > 0.f ? 32767.f / amax : 0.f);
  const __m512i va = _mm512_cvtps_epi32(_mm512_mul_ps(a, inv)), vb = _mm512_cvtps_epi32(_mm512_mul_ps(b, inv));  // -32767..32767
  const __m512i bv = _mm512_set1_epi32(bias), low = _mm512_set1_epi32(255);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(hi), _mm512_cvtepi32_epi8(_mm512_add_epi32(_mm512_srai_epi32(va, 8), bv)));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(hi + 16), _mm512_cvtepi32_epi8(_mm512_add_epi32(_mm512_srai_epi32(vb, 8), bv)));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(lo), _mm512_cvtepi32_epi8(_mm512_and_si512(va, low)));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(lo + 16), _mm512_cvtepi32_epi8(_mm512_and_si512(vb, low)));
  *scale = amax / 32767.f;
}

// x [M, K] -> hi/lo bytes (hi biased by 128 for int8 weights), scales and sums per 32-block
SGLIKE_VNNI SplitX split_x(const float* x, int64_t m_rows, int64_t k, bool q4, bool act8) {
  const int64_t nb = k / kBlock;
  SplitX s;
  s.hi.resize(m_rows * k), s.lo.resize(act8 ? 0 : m_rows * k), s.scale.resize(m_rows * nb), s.sum.resize(m_rows * nb);
  for (int64_t i = 0; i < m_rows * nb; ++i)
    split_block(x + i * kBlock, s.hi.data() + i * kBlock, act8 ? nullptr : s.lo.data() + i * kBlock, s.scale.data() + i,
                s.sum.data() + i, q4 ? 0 : 128);
  return s;
}

SGLIKE_VNNI inline __m512i bcast4(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

// The 8 weight registers of one record: register j holds weights 4j..4j+3 of the 16 rows
// (int4: unsigned 0..15, valid as either side of vpdpbusd; int8: signed).
template <bool Q4>
SGLIKE_VNNI inline void load_weights(const uint8_t* rec, __m512i (&w)[8]) {
  if (Q4) {
    const __m512i low = _mm512_set1_epi8(0x0F);
    for (int c = 0; c < 4; ++c) {
      const __m512i v = _mm512_loadu_si512(rec + c * 64);
      w[2 * c] = _mm512_and_si512(v, low);
      w[2 * c + 1] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);
    }
  } else {
    for (int j = 0; j < 8; ++j) w[j] = _mm512_loadu_si512(rec + j * 64);
  }
}

// MT activation rows (from m0) against one group of 16 weight rows, into y[m, g*16 .. +16]
template <int MT, bool Q4, bool A8>
SGLIKE_VNNI void group_tile(const SplitX& xs, int64_t m0, int64_t nb, const uint8_t* grp, float* y, int64_t ldy,
                            __mmask16 keep) {
  constexpr int64_t rec = Q4 ? kRecQ4 : kRecQ8;
  __m512 acc[MT];
  for (int m = 0; m < MT; ++m) acc[m] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* r8 = grp + b * rec;
    __m512i w[8];
    load_weights<Q4>(r8, w);
    // the record's scales and row sums sit after its weights: reading them after the weights
    // keeps the record's lines in address order, which the hardware prefetcher follows
    // (read first, the int8 head at batch 1 ran ~1.3x slower from DRAM)
    asm volatile("" ::: "memory");
    const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(scales_of(r8, Q4))));
    const __m512 mn = Q4 ? _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(mins_of(r8)))) : d;
    // int8: (256 unless act8) * 128 * (row sums of q), the bias of hi + 128
    const __m512i bias = Q4 ? _mm512_setzero_si512()
                            : _mm512_slli_epi32(_mm512_cvtepi16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row_sums_of(r8)))), A8 ? 7 : 15);
#pragma GCC unroll 8
    for (int m = 0; m < MT; ++m) {  // unrolled: the accumulators stay in registers
      const int64_t row = (m0 + m) * nb + b;
      const uint8_t *hi = xs.hi.data() + row * kBlock, *lo = A8 ? nullptr : xs.lo.data() + row * kBlock;
      // one activation row has two chains each for hi and lo (even / odd slices) to hide the
      // vpdpbusd latency; with several rows the rows' chains interleave instead
      constexpr int kChains = MT == 1 ? 2 : 1;
      __m512i h[kChains], l[kChains];
      for (int c = 0; c < kChains; ++c) h[c] = l[c] = _mm512_setzero_si512();
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) {
        const int c = j % kChains;
        h[c] = Q4 ? _mm512_dpbusd_epi32(h[c], w[j], bcast4(hi + 4 * j)) : _mm512_dpbusd_epi32(h[c], bcast4(hi + 4 * j), w[j]);
        if (!A8) l[c] = _mm512_dpbusd_epi32(l[c], bcast4(lo + 4 * j), w[j]);
      }
      if (kChains == 2) h[0] = _mm512_add_epi32(h[0], h[kChains - 1]), l[0] = _mm512_add_epi32(l[0], l[kChains - 1]);
      __m512i dot = A8 ? h[0] : _mm512_add_epi32(_mm512_slli_epi32(h[0], 8), l[0]);
      if (!Q4) dot = _mm512_sub_epi32(dot, bias);
      acc[m] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(d, _mm512_set1_ps(xs.scale[row])), acc[m]);
      if (Q4) acc[m] = _mm512_fmadd_ps(mn, _mm512_set1_ps(xs.sum[row]), acc[m]);
    }
  }
  for (int m = 0; m < MT; ++m) _mm512_mask_storeu_ps(y + m * ldy, keep, acc[m]);
}

// rows m..m+MT-1 against group g
template <int MT, bool Q4, bool A8>
SGLIKE_VNNI inline void tile_at(const SplitX& xs, int64_t m, int64_t g, int64_t nb, const uint8_t* packed, float* y, int64_t n) {
  const int64_t live = std::min<int64_t>(kRows, n - g * kRows);
  const __mmask16 keep = live == kRows ? __mmask16(0xFFFF) : __mmask16((1u << live) - 1);
  group_tile<MT, Q4, A8>(xs, m, nb, packed + g * nb * (Q4 ? kRecQ4 : kRecQ8), y + m * n + g * kRows, n, keep);
}

// groups [g0, g1) against every activation row. Rows go in chunks of kChunk, groups in
// blocks of kGroupBlock (their weights stay in L2), and within a block each tile of 8 rows
// meets every group in turn, so the tile's split activations stay in L1.
template <bool Q4, bool A8>
SGLIKE_VNNI void groups_vnni(const SplitX& xs, int64_t m_rows, int64_t k, const uint8_t* packed, float* y, int64_t n,
                             int64_t g0, int64_t g1) {
  constexpr int64_t kChunk = 64, kGroupBlock = 32;
  const int64_t nb = k / kBlock;
  for (int64_t c0 = 0; c0 < m_rows; c0 += kChunk) {
    const int64_t c1 = std::min(m_rows, c0 + kChunk);
    for (int64_t b0 = g0; b0 < g1; b0 += kGroupBlock) {
      const int64_t b1 = std::min(g1, b0 + kGroupBlock);
      int64_t m = c0;
      for (; m + 8 <= c1; m += 8)
        for (int64_t g = b0; g < b1; ++g) tile_at<8, Q4, A8>(xs, m, g, nb, packed, y, n);
      if (m + 4 <= c1) {
        for (int64_t g = b0; g < b1; ++g) tile_at<4, Q4, A8>(xs, m, g, nb, packed, y, n);
        m += 4;
      }
      for (int64_t g = b0; g < b1; ++g) {
        switch (c1 - m) {
          case 3: tile_at<3, Q4, A8>(xs, m, g, nb, packed, y, n); break;
          case 2: tile_at<2, Q4, A8>(xs, m, g, nb, packed, y, n); break;
          case 1: tile_at<1, Q4, A8>(xs, m, g, nb, packed, y, n); break;
          default: break;
        }
      }
    }
  }
}

void check_packed(const at::Tensor& packed, bool q4, int64_t n) {
  TORCH_CHECK(packed.dim() == 3 && packed.scalar_type() == at::kByte && packed.is_contiguous(), "packed must be uint8 [G, K/32, REC]");
  TORCH_CHECK(packed.size(2) == record_bytes(q4), "packed records are ", packed.size(2), " bytes, expected ", record_bytes(q4));
  TORCH_CHECK(n > (packed.size(0) - 1) * kRows && n <= packed.size(0) * kRows, "n=", n, " does not fit ", packed.size(0), " groups of 16");
}

}  // namespace

bool cpu_has_avx512_vnni() {
  static const bool ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("fma") &&
                         __builtin_cpu_supports("f16c");
  return ok;
}

// x [M, K] float32 @ W^T for W packed as above (n true output rows) -> [M, n]
at::Tensor vnni_gemm(const at::Tensor& x, const at::Tensor& packed, int64_t n, bool q4, bool use_simd, bool act8) {
  check_packed(packed, q4, n);
  const int64_t k = packed.size(1) * kBlock, m_rows = x.size(0), groups = packed.size(0);
  TORCH_CHECK(x.dim() == 2 && x.scalar_type() == at::kFloat && x.is_contiguous(), "x must be a contiguous float32 [M, K]");
  TORCH_CHECK(x.size(1) == k, "x has K=", x.size(1), ", weights K=", k);
  at::Tensor y = at::empty({m_rows, n}, x.options());
  const float* xp = x.data_ptr<float>();
  const uint8_t* pp = packed.data_ptr<uint8_t>();
  float* yp = y.data_ptr<float>();
  const bool simd = use_simd && cpu_has_avx512_vnni();
  const SplitX xs = simd ? split_x(xp, m_rows, k, q4, act8) : SplitX{};
  const std::vector<float> xr = !simd && act8 ? round_act8(xp, m_rows * k) : std::vector<float>{};
  const float* xin = xr.empty() ? xp : xr.data();
  const int64_t grain = std::max<int64_t>(1, 16 / std::max<int64_t>(1, m_rows));
  at::parallel_for(0, groups, grain, [&](int64_t g0, int64_t g1) {
    if (!simd) groups_scalar(xin, m_rows, k, pp, q4, yp, n, g0, g1);
    else if (q4 && act8) groups_vnni<true, true>(xs, m_rows, k, pp, yp, n, g0, g1);
    else if (q4) groups_vnni<true, false>(xs, m_rows, k, pp, yp, n, g0, g1);
    else if (act8) groups_vnni<false, true>(xs, m_rows, k, pp, yp, n, g0, g1);
    else groups_vnni<false, false>(xs, m_rows, k, pp, yp, n, g0, g1);
  });
  return y;
}

// the packed weights' rows ``rows`` [R] (any order, e.g. token ids) as float32 into out [>= R, K]
void vnni_dequant_rows(const at::Tensor& packed, bool q4, const at::Tensor& rows, at::Tensor& out) {
  const int64_t nb = packed.size(1), k = nb * kBlock, rec = record_bytes(q4), total = packed.size(0) * kRows;
  TORCH_CHECK(packed.dim() == 3 && packed.size(2) == rec && packed.is_contiguous(), "packed must be uint8 [G, K/32, REC]");
  TORCH_CHECK(rows.scalar_type() == at::kLong && rows.dim() == 1, "rows must be int64 [R]");
  TORCH_CHECK(out.scalar_type() == at::kFloat && out.is_contiguous() && out.size(1) == k && out.size(0) >= rows.size(0), "bad out");
  const at::Tensor rc = rows.contiguous();
  const int64_t* rp = rc.data_ptr<int64_t>();
  for (int64_t i = 0; i < rc.numel(); ++i) TORCH_CHECK(rp[i] >= 0 && rp[i] < total, "row ", rp[i], " out of range");
  const uint8_t* pp = packed.data_ptr<uint8_t>();
  float* op = out.data_ptr<float>();
  at::parallel_for(0, rc.numel(), 16, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t g = rp[i] / kRows;
      const int r = int(rp[i] % kRows);
      for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* r8 = pp + (g * nb + b) * rec;
        const float d = half_to_float(scales_of(r8, q4)[r]), mn = q4 ? half_to_float(mins_of(r8)[r]) : 0.f;
        float* o = op + i * k + b * kBlock;
        for (int j = 0; j < kBlock; ++j) o[j] = d * float(weight_at(r8, q4, r, j)) + mn;
      }
    }
  });
}
