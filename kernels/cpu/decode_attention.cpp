// One-query-per-request decode attention read in place from the paged KV pool, with the
// shared-prefix ("cascade") split: requests whose slot rows start with the same slots (the
// radix cache hands them the very same KV for a shared prompt) form a group whose prefix is
// read once for all its members' queries; each request's own suffix is attended alone and
// the two partial softmaxes merge exactly through their maxima and sums. The grouping is the
// one of sglike/kernels/attention/cascade.py (shared_prefix_groups, plan_cascade); the
// torch code of kernels/attention/decode.py is the plain twin of the arithmetic.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include "ops.h"
#include "simd_math.h"
#include <algorithm>
#include <cmath>
#include <vector>

#define SGLIKE_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

namespace {

constexpr int64_t kMinPrefix = 32;    // shorter shared prefixes are not worth a separate pass
constexpr double kMinSaving = 0.2;    // cascade only when it saves this share of the keys read

struct Rows {
  const int64_t* slots;
  int64_t stride;
  const int64_t* rows;  // null: request b is row b
  const int64_t* lens;
  const int64_t* row(int64_t b) const { return slots + (rows ? rows[b] : b) * stride; }
};

struct Group {
  std::vector<int64_t> members;
  int64_t prefix;
};

// Best (keys saved, groups) among ``members``, which all share slots [0, start): one group
// over their longest common prefix, or the best groups of the sub-clusters that agree one
// position further (each request's newest key is always its own).
int64_t best_groups(const Rows& r, const std::vector<int64_t>& members, int64_t start, std::vector<Group>& out) {
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
  std::vector<Group> plan;
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
    std::vector<Group> sub;
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

template <int NV, int QT>
SGLIKE_AVX512 void attend_tile_avx512(const float* const* qs, int64_t nq, const float* kh, const float* vh, const int64_t* slots, int64_t nk,
                                      float scale, float* scores, float* out) {
  constexpr int64_t d = 16 * NV;
  __m512 q[QT][NV];
  for (int t = 0; t < QT; ++t)
    for (int v = 0; v < NV; ++v) q[t][v] = t < nq ? _mm512_mul_ps(_mm512_loadu_ps(qs[t] + 16 * v), _mm512_set1_ps(scale)) : _mm512_setzero_ps();
  for (int64_t j = 0; j < nk; ++j) {
    const float* kr = kh + slots[j] * d;
    __m512 k[NV];
    for (int v = 0; v < NV; ++v) k[v] = _mm512_loadu_ps(kr + 16 * v);
    for (int t = 0; t < QT; ++t) {
      if (t >= nq) break;
      __m512 acc = _mm512_mul_ps(q[t][0], k[0]);
      for (int v = 1; v < NV; ++v) acc = _mm512_fmadd_ps(q[t][v], k[v], acc);
      scores[t * nk + j] = _mm512_reduce_add_ps(acc);
    }
  }
  for (int t = 0; t < QT && t < nq; ++t) {
    float* sc = scores + t * nk;
    float m = sc[0];
    for (int64_t j = 1; j < nk; ++j) m = std::max(m, sc[j]);
    const float s = exp_shift_sum(sc, nk, m);
    out[t * (d + 2)] = m, out[t * (d + 2) + 1] = s;  // packed as [max, sum, o...] per query
  }
  __m512 o[QT][NV];
  for (int t = 0; t < QT; ++t)
    for (int v = 0; v < NV; ++v) o[t][v] = _mm512_setzero_ps();
  for (int64_t j = 0; j < nk; ++j) {
    const float* vr = vh + slots[j] * d;
    __m512 vv[NV];
    for (int v = 0; v < NV; ++v) vv[v] = _mm512_loadu_ps(vr + 16 * v);
    for (int t = 0; t < QT; ++t) {
      if (t >= nq) break;
      const __m512 p = _mm512_set1_ps(scores[t * nk + j]);
      for (int v = 0; v < NV; ++v) o[t][v] = _mm512_fmadd_ps(p, vv[v], o[t][v]);
    }
  }
  for (int t = 0; t < QT && t < nq; ++t)
    for (int v = 0; v < NV; ++v) _mm512_storeu_ps(out + t * (d + 2) + 2 + 16 * v, o[t][v]);
}

// The partial attention of attend_partial_plain on AVX-512 for head_dim 64 or 128, query
// tiles of QT; false where it does not apply.
template <int NV, int QT>
bool attend_tiles(const float* const* qs, int64_t nq, const float* kh, const float* vh, const int64_t* slots, int64_t nk, float scale,
                  float* scores, float* mx, float* sum, float* out) {
  constexpr int64_t d = 16 * NV;
  float packed[QT * (d + 2)];
  for (int64_t q0 = 0; q0 < nq; q0 += QT) {
    const int64_t n = std::min<int64_t>(QT, nq - q0);
    attend_tile_avx512<NV, QT>(qs + q0, n, kh, vh, slots, nk, scale, scores, packed);
    for (int64_t t = 0; t < n; ++t) {
      mx[q0 + t] = packed[t * (d + 2)], sum[q0 + t] = packed[t * (d + 2) + 1];
      std::copy_n(packed + t * (d + 2) + 2, d, out + (q0 + t) * d);
    }
  }
  return true;
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

int64_t decode_attention_raw(const float* q, int64_t b_total, int64_t hq, int64_t d, const float* k_buf, const float* v_buf, int64_t hk,
                             int64_t s_total, const int64_t* slots, int64_t slot_stride, const int64_t* rows, const int64_t* lens,
                             float scale, float* out, bool cascade, bool simd) {
  const Rows r{slots, slot_stride, rows, lens};
  const int64_t g = hq / hk;
  std::vector<Group> groups;
  if (cascade && b_total > 1) {
    std::vector<int64_t> all(b_total);
    for (int64_t b = 0; b < b_total; ++b) all[b] = b;
    int64_t total = 0;
    for (int64_t b = 0; b < b_total; ++b) total += lens[b];
    if (best_groups(r, all, 0, groups) < kMinSaving * double(total)) groups.clear();
  }
  std::vector<int64_t> start(b_total, 0);  // where each request's own keys begin
  for (const Group& grp : groups)
    for (int64_t m : grp.members) start[m] = grp.prefix;
  // prefix partials, per (request, query head): max, sum, output
  std::vector<float> pm(b_total * hq), ps(b_total * hq), po(groups.empty() ? 0 : b_total * hq * d);
  at::parallel_for(0, int64_t(groups.size()) * hk, 1, [&](int64_t t0, int64_t t1) {
    std::vector<float> scores, m, s, o;
    std::vector<const float*> qs;
    for (int64_t task = t0; task < t1; ++task) {
      const Group& grp = groups[task / hk];
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
  return int64_t(groups.size());
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
  const Rows r{sl.data_ptr<int64_t>(), sl.size(1), nullptr, lp};
  std::vector<int64_t> all(b_total);
  for (int64_t b = 0; b < b_total; ++b) all[b] = b;
  std::vector<Group> groups;
  std::vector<std::pair<std::vector<int64_t>, int64_t>> out;
  if (b_total > 1 && best_groups(r, all, 0, groups) >= kMinSaving * double(total))
    for (const Group& grp : groups) out.emplace_back(grp.members, grp.prefix);
  return out;
}
