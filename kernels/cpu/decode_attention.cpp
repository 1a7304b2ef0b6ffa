// One-query-per-request decode attention read in place from the paged KV pool, with the
// shared-prefix ("cascade") split: requests whose slot rows start with the same slots (the
// radix cache hands them the very same KV for a shared prompt) form a group whose prefix is
// read once for all its members' queries; each request's own suffix is attended alone and
// the two partial softmaxes merge exactly through their maxima and sums. The grouping is the
// one of sglike/kernels/attention/cascade.py (shared_prefix_groups, plan_cascade); the
// torch code of kernels/attention/decode.py is the plain twin of the arithmetic.
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

constexpr int64_t kMinPrefix = 32;    // shorter shared prefixes are not worth a separate pass
constexpr double kMinSaving = 0.2;    // cascade only when it saves this share of the keys read

// Best (keys saved, groups) among ``members``, which all share slots [0, start): one group
// over their longest common prefix, or the best groups of the sub-clusters that agree one
// position further (each request's newest key is always its own).
int64_t best_groups(const KVRows& r, const std::vector<int64_t>& members, int64_t start, std::vector<CascadeGroup>& out) {
  if (members.size() < 2) return 0;
  int64_t limit = INT64_MAX;
  for (int64_t m : members) limit = std::min(limit, r.lens[m] - 1);
  int64_t common = start;
  const int64_t* lead = r.row(members[0]);
  while (common < limit) {
    bool same = true;
    for (size_t i = 1; i < members.size() && same; ++i) same = r.row(members[i])[common] == lead[common];
    if (!same) break;
    ++common;
  }
  int64_t best = common >= kMinPrefix ? int64_t(members.size() - 1) * common : 0;
  std::vector<CascadeGroup> plan;
  if (best > 0) plan.push_back({members, common});
  if (common < limit) {
    std::vector<int64_t> keys;
    std::vector<std::vector<int64_t>> buckets;
    for (int64_t m : members) {
      const int64_t s = r.row(m)[common];
      const auto it = std::find(keys.begin(), keys.end(), s);
      if (it == keys.end()) keys.push_back(s), buckets.push_back({m});
      else buckets[it - keys.begin()].push_back(m);
    }
    std::vector<CascadeGroup> sub;
    int64_t total = 0;
    for (const auto& bucket : buckets) total += best_groups(r, bucket, common + 1, sub);
    if (total > best) best = total, plan = std::move(sub);
  }
  out.insert(out.end(), plan.begin(), plan.end());
  return best;
}

// Partial attention of nq query vectors against keys slots[0..nk) of one KV head: per query
// its running max, sum of exponentials and unnormalised output (scores: scratch [nq, nk]).
SGLIKE_CLONES void attend_partial_plain(const float* const* qs, int64_t nq, int64_t d, const float* kh, const float* vh, const int64_t* slots,
                                        int64_t nk, float scale, float* scores, float* mx, float* sum, float* out) {
  for (int64_t j = 0; j < nk; ++j) {
    const float* kr = kh + slots[j] * d;
    for (int64_t qi = 0; qi < nq; ++qi) {
      const float* q = qs[qi];
      float acc = 0.f;
#pragma omp simd reduction(+ : acc)
      for (int64_t i = 0; i < d; ++i) acc += q[i] * kr[i];
      scores[qi * nk + j] = acc * scale;
    }
  }
  for (int64_t qi = 0; qi < nq; ++qi) {
    float* sc = scores + qi * nk;
    float m = sc[0], s = 0.f;
    for (int64_t j = 1; j < nk; ++j) m = std::max(m, sc[j]);
    for (int64_t j = 0; j < nk; ++j) s += (sc[j] = std::exp(sc[j] - m));
    mx[qi] = m, sum[qi] = s;
    std::fill_n(out + qi * d, d, 0.f);
  }
  for (int64_t j = 0; j < nk; ++j) {
    const float* vr = vh + slots[j] * d;
    for (int64_t qi = 0; qi < nq; ++qi) {
      const float p = scores[qi * nk + j];
      float* o = out + qi * d;
#pragma omp simd
      for (int64_t i = 0; i < d; ++i) o[i] += p * vr[i];
    }
  }
}

// ---- AVX-512 for head_dim = 16 * NV (64, 128): vector dot products, exp and accumulation ----
// exponentiates sc[0..n) - m in place; returns their sum
SGLIKE_AVX512 float exp_shift_sum(float* sc, int64_t n, float m) {
  const __m512 mv = _mm512_set1_ps(m);
  __m512 acc = _mm512_setzero_ps();
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    const __m512 e = exp512(_mm512_sub_ps(_mm512_loadu_ps(sc + j), mv));
    _mm512_storeu_ps(sc + j, e);
    acc = _mm512_add_ps(acc, e);
  }
  if (j < n) {
    const __mmask16 k = __mmask16((1u << (n - j)) - 1);
    const __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, sc + j), mv));
    _mm512_mask_storeu_ps(sc + j, k, e);
    acc = _mm512_add_ps(acc, _mm512_maskz_mov_ps(k, e));
  }
  return _mm512_reduce_add_ps(acc);
}

// the four horizontal sums [sum(a), sum(b), sum(c), sum(d)] in one pass of shuffles
SGLIKE_AVX512 inline __m128 hsum4(__m512 a, __m512 b, __m512 c, __m512 d) {
  const __m512 ab = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));  // per 128-bit lane: a, b, a, b
  const __m512 cd = _mm512_add_ps(_mm512_unpacklo_ps(c, d), _mm512_unpackhi_ps(c, d));
  const __m512 u = _mm512_add_ps(_mm512_shuffle_ps(ab, cd, _MM_SHUFFLE(1, 0, 1, 0)), _mm512_shuffle_ps(ab, cd, _MM_SHUFFLE(3, 2, 3, 2)));
  const __m256 v = _mm256_add_ps(_mm512_castps512_ps256(u), _mm512_extractf32x8_ps(u, 1));  // lanes: a, b, c, d
  return _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
}

SGLIKE_AVX512 float max_of(const float* x, int64_t n) {
  __m512 m = _mm512_set1_ps(-INFINITY);
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) m = _mm512_max_ps(m, _mm512_loadu_ps(x + j));
  float r = _mm512_reduce_max_ps(m);
  for (; j < n; ++j) r = std::max(r, x[j]);
  return r;
}

// NQ (a compile-time count) queries against keys slots[0..nk) of one KV head; per query
// ``out`` gets [max, sum, unnormalised output (16 * NV floats)]; scores: scratch [NQ, nk]
template <int NV, int NQ>
SGLIKE_AVX512 void attend_tile_avx512(const float* const* qs, const float* kh, const float* vh, const int64_t* slots, int64_t nk,
                                      float scale, float* scores, float* out) {
  constexpr int64_t d = 16 * NV;
  __m512 q[NQ][NV];
  for (int t = 0; t < NQ; ++t)
    for (int v = 0; v < NV; ++v) q[t][v] = _mm512_mul_ps(_mm512_loadu_ps(qs[t] + 16 * v), _mm512_set1_ps(scale));
  for (int64_t j = 0; j < nk; ++j) {
    const float* kr = kh + slots[j] * d;
    __m512 k[NV], acc[4];
    for (int v = 0; v < NV; ++v) k[v] = _mm512_loadu_ps(kr + 16 * v);
    for (int t = 0; t < 4; ++t) {
      acc[t] = _mm512_setzero_ps();
      if (t < NQ)
        for (int v = 0; v < NV; ++v) acc[t] = _mm512_fmadd_ps(q[t][v], k[v], acc[t]);
    }
    float dots[4];
    _mm_storeu_ps(dots, hsum4(acc[0], acc[1], acc[2], acc[3]));
    for (int t = 0; t < NQ; ++t) scores[t * nk + j] = dots[t];
  }
  for (int t = 0; t < NQ; ++t) {
    float* sc = scores + t * nk;
    const float m = max_of(sc, nk);
    out[t * (d + 2)] = m, out[t * (d + 2) + 1] = exp_shift_sum(sc, nk, m);
  }
  __m512 o[NQ][NV];
  for (int t = 0; t < NQ; ++t)
    for (int v = 0; v < NV; ++v) o[t][v] = _mm512_setzero_ps();
  for (int64_t j = 0; j < nk; ++j) {
    const float* vr = vh + slots[j] * d;
    __m512 vv[NV];
    for (int v = 0; v < NV; ++v) vv[v] = _mm512_loadu_ps(vr + 16 * v);
    for (int t = 0; t < NQ; ++t) {
      const __m512 p = _mm512_set1_ps(scores[t * nk + j]);
      for (int v = 0; v < NV; ++v) o[t][v] = _mm512_fmadd_ps(p, vv[v], o[t][v]);
    }
  }
  for (int t = 0; t < NQ; ++t)
    for (int v = 0; v < NV; ++v) _mm512_storeu_ps(out + t * (d + 2) + 2 + 16 * v, o[t][v]);
}

// The partial attention of attend_partial_plain on AVX-512 for head_dim 16 * NV, in tiles of
// up to QMAX queries.
template <int NV, int QMAX>
void attend_tiles(const float* const* qs, int64_t nq, const float* kh, const float* vh, const int64_t* slots, int64_t nk, float scale,
                  float* scores, float* mx, float* sum, float* out) {
  constexpr int64_t d = 16 * NV;
  float packed[QMAX * (d + 2)];
  for (int64_t q0 = 0; q0 < nq; q0 += QMAX) {
    const int64_t n = std::min<int64_t>(QMAX, nq - q0);
    switch (n) {
      case 1: attend_tile_avx512<NV, 1>(qs + q0, kh, vh, slots, nk, scale, scores, packed); break;
      case 2: attend_tile_avx512<NV, 2>(qs + q0, kh, vh, slots, nk, scale, scores, packed); break;
      case 3: attend_tile_avx512<NV, (QMAX >= 3 ? 3 : 1)>(qs + q0, kh, vh, slots, nk, scale, scores, packed); break;
      default: attend_tile_avx512<NV, (QMAX >= 4 ? 4 : 1)>(qs + q0, kh, vh, slots, nk, scale, scores, packed); break;
    }
    for (int64_t t = 0; t < n; ++t) {
      mx[q0 + t] = packed[t * (d + 2)], sum[q0 + t] = packed[t * (d + 2) + 1];
      std::copy_n(packed + t * (d + 2) + 2, d, out + (q0 + t) * d);
    }
  }
}

void attend_partial(const float* const* qs, int64_t nq, int64_t d, const float* kh, const float* vh, const int64_t* slots, int64_t nk,
                    float scale, float* scores, float* mx, float* sum, float* out, bool simd) {
  if (simd && cpu_has_avx512f() && d == 64) attend_tiles<4, 4>(qs, nq, kh, vh, slots, nk, scale, scores, mx, sum, out);
  else if (simd && cpu_has_avx512f() && d == 128) attend_tiles<8, 2>(qs, nq, kh, vh, slots, nk, scale, scores, mx, sum, out);
  else attend_partial_plain(qs, nq, d, kh, vh, slots, nk, scale, scores, mx, sum, out);
}

// out = own / own_sum, merged first with a prefix partial (pm, ps, po) when given
SGLIKE_CLONES void finish(const float* own, float own_max, float own_sum, const float* po, float pm, float ps, int64_t d, float* out) {
  if (po == nullptr) {
    const float inv = 1.f / own_sum;
    for (int64_t i = 0; i < d; ++i) out[i] = own[i] * inv;
    return;
  }
  const float m = std::max(own_max, pm), a = std::exp(own_max - m), b = std::exp(pm - m);
  const float inv = 1.f / (a * own_sum + b * ps);
  for (int64_t i = 0; i < d; ++i) out[i] = (a * own[i] + b * po[i]) * inv;
}

}  // namespace

CascadePlan plan_cascade(const KVRows& r, int64_t b_total) {
  CascadePlan plan;
  plan.start.assign(b_total, 0);
  if (b_total < 2) return plan;
  std::vector<int64_t> all(b_total);
  int64_t total = 0;
  for (int64_t b = 0; b < b_total; ++b) all[b] = b, total += r.lens[b];
  if (best_groups(r, all, 0, plan.groups) < kMinSaving * double(total)) plan.groups.clear();
  for (const CascadeGroup& grp : plan.groups)
    for (int64_t m : grp.members) plan.start[m] = grp.prefix;
  return plan;
}

void decode_attention_raw(const float* q, int64_t b_total, int64_t hq, int64_t d, const float* k_buf, const float* v_buf, int64_t hk,
                          int64_t s_total, const KVRows& r, const CascadePlan& plan, float scale, float* out, bool simd) {
  const int64_t g = hq / hk;
  const std::vector<CascadeGroup>& groups = plan.groups;
  const std::vector<int64_t>& start = plan.start;  // where each request's own keys begin
  const int64_t* lens = r.lens;
  // prefix partials, per (request, query head): max, sum, output
  std::vector<float> pm(b_total * hq), ps(b_total * hq), po(groups.empty() ? 0 : b_total * hq * d);
  at::parallel_for(0, int64_t(groups.size()) * hk, 1, [&](int64_t t0, int64_t t1) {
    std::vector<float> scores, m, s, o;
    std::vector<const float*> qs;
    for (int64_t task = t0; task < t1; ++task) {
      const CascadeGroup& grp = groups[task / hk];
      const int64_t kvh = task % hk, nq = int64_t(grp.members.size()) * g, nk = grp.prefix;
      qs.clear();
      for (int64_t b : grp.members)
        for (int64_t gi = 0; gi < g; ++gi) qs.push_back(q + (b * hq + kvh * g + gi) * d);
      scores.resize(nq * nk), m.resize(nq), s.resize(nq), o.resize(nq * d);
      attend_partial(qs.data(), nq, d, k_buf + kvh * s_total * d, v_buf + kvh * s_total * d, r.row(grp.members[0]), nk, scale,
                     scores.data(), m.data(), s.data(), o.data(), simd);
      for (size_t i = 0; i < grp.members.size(); ++i)
        for (int64_t gi = 0; gi < g; ++gi) {
          const int64_t head = grp.members[i] * hq + kvh * g + gi, qi = int64_t(i) * g + gi;
          pm[head] = m[qi], ps[head] = s[qi];
          std::copy_n(o.data() + qi * d, d, po.data() + head * d);
        }
    }
  });
  at::parallel_for(0, b_total * hk, 1, [&](int64_t t0, int64_t t1) {
    std::vector<float> scores, m(g), s(g), o(g * d);
    std::vector<const float*> qs(g);
    for (int64_t task = t0; task < t1; ++task) {
      const int64_t b = task / hk, kvh = task % hk, first = start[b], nk = lens[b] - first;
      const int64_t head = b * hq + kvh * g;
      for (int64_t gi = 0; gi < g; ++gi) qs[gi] = q + (head + gi) * d;
      scores.resize(g * nk);
      attend_partial(qs.data(), g, d, k_buf + kvh * s_total * d, v_buf + kvh * s_total * d, r.row(b) + first, nk, scale, scores.data(),
                     m.data(), s.data(), o.data(), simd);
      for (int64_t gi = 0; gi < g; ++gi) {
        const bool merged = first > 0;
        finish(o.data() + gi * d, m[gi], s[gi], merged ? po.data() + (head + gi) * d : nullptr, merged ? pm[head + gi] : 0.f,
               merged ? ps[head + gi] : 0.f, d, out + (head + gi) * d);
      }
    }
  });
}

// the groups decode_attention_raw would form for slots [B, L] (row b live up to lens[b])
std::vector<std::pair<std::vector<int64_t>, int64_t>> cascade_groups(const at::Tensor& slots, const at::Tensor& lens) {
  TORCH_CHECK(slots.scalar_type() == at::kLong && slots.dim() == 2 && lens.scalar_type() == at::kLong && lens.numel() == slots.size(0),
              "slots int64 [B, L], lens int64 [B]");
  const at::Tensor sl = slots.contiguous(), ln = lens.contiguous();
  const int64_t b_total = sl.size(0), *lp = ln.data_ptr<int64_t>();
  int64_t total = 0;
  for (int64_t b = 0; b < b_total; ++b) {
    TORCH_CHECK(lp[b] >= 1 && lp[b] <= sl.size(1), "lens out of range");
    total += lp[b];
  }
  std::vector<std::pair<std::vector<int64_t>, int64_t>> out;
  for (const CascadeGroup& grp : plan_cascade(KVRows{sl.data_ptr<int64_t>(), sl.size(1), nullptr, lp}, b_total).groups)
    out.emplace_back(grp.members, grp.prefix);
  return out;
}
