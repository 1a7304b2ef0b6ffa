// Decode attention over the paged KV pool with the shared-prefix cascade (decode_attention.cpp).
#pragma once
#include <cstdint>
#include <vector>

// where request b's KV slots are: slots[(rows ? rows[b] : b) * stride + j] for j < lens[b]
struct KVRows {
  const int64_t* slots;
  int64_t stride;
  const int64_t* rows;  // null: request b is row b
  const int64_t* lens;
  const int64_t* row(int64_t b) const { return slots + (rows ? rows[b] : b) * stride; }
};

struct CascadeGroup {
  std::vector<int64_t> members;  // batch indices sharing ...
  int64_t prefix;                // ... their first ``prefix`` slots
};

struct CascadePlan {
  std::vector<CascadeGroup> groups;  // empty: every request attends alone
  std::vector<int64_t> start;        // [B] where each request's own keys begin
};

// the groups worth a shared pass (those of sglike.kernels.attention.cascade.plan_cascade);
// computed once per step, the same for every layer
CascadePlan plan_cascade(const KVRows& r, int64_t b_total);

// q [B, Hq, D] -> out [B, Hq, D] against k_buf/v_buf [Hk, S, D]; callers validate the slots.
// ``simd``: the AVX-512 path where it applies (head_dim 64/128), else the plain loops.
void decode_attention_raw(const float* q, int64_t b_total, int64_t hq, int64_t d, const float* k_buf, const float* v_buf, int64_t hk,
                          int64_t s_total, const KVRows& r, const CascadePlan& plan, float scale, float* out, bool simd);
