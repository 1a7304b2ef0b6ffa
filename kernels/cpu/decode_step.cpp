// The decode step of a pre-norm Llama-family decoder (RMSNorm, GQA attention with RoPE over
// a paged KV pool, SiLU-gated MLP) run layer after layer in C++: the CPU's counterpart of
// replaying a captured decode graph. Small extends (a short prefill chunk, a speculative
// verify) run through it too: each new token attends its request's slots up to itself. It composes the extension's own kernels (each with its
// twin and parity test) and torch's ops, so no Python runs between them; the model's
// module-by-module forward is its plain twin (tests/kernels/test_decode_step.py).
#include "decode_step.h"

#include <ATen/Parallel.h>
#include "decode_attention.h"
#include "ops.h"

namespace {

void check_f32(const at::Tensor& t, const char* what) {
  TORCH_CHECK(t.device().is_cpu() && t.scalar_type() == at::kFloat && t.is_contiguous(), what, " must be a contiguous float32 CPU tensor");
}

void check_i64(const at::Tensor& t, int64_t n, const char* what) {
  TORCH_CHECK(t.scalar_type() == at::kLong && t.dim() == 1 && t.numel() == n && t.is_contiguous(), what, " must be contiguous int64 [", n, "]");
}

}  // namespace

StepLinear::StepLinear(std::string kind, std::vector<at::Tensor> tensors, int64_t n, c10::optional<at::Tensor> bias)
    : t_(std::move(tensors)), n_(n), bias_(std::move(bias)) {
  size_t want = 0;
  if (kind == "vnni_q4") kind_ = Kind::kVnniQ4, want = 1;
  else if (kind == "vnni_q8") kind_ = Kind::kVnniQ8, want = 1;
  else if (kind == "vnni_w8a8") kind_ = Kind::kVnniW8A8, want = 1;
  else if (kind == "vnni_w4a8") kind_ = Kind::kVnniW4A8, want = 1;
  else if (kind == "q4") kind_ = Kind::kQ4, want = 3;
  else if (kind == "q8") kind_ = Kind::kQ8, want = 2;
  else if (kind == "dense") kind_ = Kind::kDense, want = 1;
  else TORCH_CHECK(false, "unknown step linear kind '", kind, "'");
  TORCH_CHECK(t_.size() == want, "step linear '", kind, "' takes ", want, " tensors, got ", t_.size());
  if (kind_ == Kind::kDense) check_f32(t_[0], "dense weight");
  if (bias_.has_value()) check_f32(*bias_, "bias");
}

at::Tensor StepLinear::operator()(const at::Tensor& x) const {
  at::Tensor y;
  switch (kind_) {
    case Kind::kVnniQ4: y = vnni_gemm(x, t_[0], n_, true, true); break;
    case Kind::kVnniQ8: y = vnni_gemm(x, t_[0], n_, false, true); break;
    case Kind::kVnniW8A8: y = vnni_gemm(x, t_[0], n_, false, true, true); break;
    case Kind::kVnniW4A8: y = vnni_gemm(x, t_[0], n_, true, true, true); break;
    case Kind::kQ4: y = q4_gemm(x, t_[0], t_[1], t_[2], true); break;
    case Kind::kQ8: y = q8_gemm(x, t_[0], t_[1], true); break;
    case Kind::kDense: y = at::mm(x, t_[0].t()); break;
  }
  if (bias_.has_value()) y.add_(*bias_);
  return y;
}

DecoderStep::DecoderStep(int64_t num_heads, int64_t num_kv_heads, int64_t head_dim, double eps, at::Tensor cos, at::Tensor sin,
                         at::Tensor req_to_token, at::Tensor final_norm, StepLinear lm_head)
    : hq_(num_heads), hk_(num_kv_heads), d_(head_dim), eps_(eps), cos_(std::move(cos)), sin_(std::move(sin)),
      table_(std::move(req_to_token)), final_norm_(std::move(final_norm)), lm_head_(std::move(lm_head)) {
  TORCH_CHECK(hk_ > 0 && hq_ % hk_ == 0, "num_heads must be a multiple of num_kv_heads");
  check_f32(cos_, "cos");
  check_f32(sin_, "sin");
  check_f32(final_norm_, "final norm");
  TORCH_CHECK(table_.scalar_type() == at::kLong && table_.dim() == 2 && table_.stride(1) == 1, "req_to_token must be int64 [R, C]");
}

void DecoderStep::add_layer(StepLayer layer) {
  check_f32(layer.input_norm, "input norm");
  check_f32(layer.post_norm, "post-attention norm");
  check_f32(layer.k_buf, "k pool");
  check_f32(layer.v_buf, "v pool");
  TORCH_CHECK(layer.k_buf.dim() == 3 && layer.k_buf.size(0) == hk_ && layer.k_buf.size(2) == d_ && layer.v_buf.sizes() == layer.k_buf.sizes(),
              "KV pool buffers must be [num_kv_heads, S, head_dim]");
  TORCH_CHECK(layer.qkv.n() == (hq_ + 2 * hk_) * d_, "qkv projection has ", layer.qkv.n(), " outputs");
  TORCH_CHECK(layer.gate_up.n() % 2 == 0, "gate_up projection must have an even number of outputs");
  layers_.push_back(std::move(layer));
}

at::Tensor DecoderStep::forward(const at::Tensor& x_in, const at::Tensor& positions, const at::Tensor& out_loc, const at::Tensor& rows,
                                const at::Tensor& lens, const c10::optional<at::Tensor>& logit_rows, bool cascade) const {
  TORCH_CHECK(!layers_.empty(), "the step has no layers");
  check_f32(x_in, "x");
  const int64_t b = x_in.size(0), q_dim = hq_ * d_, kv_dim = hk_ * d_;
  check_i64(positions, b, "positions");
  check_i64(out_loc, b, "out_loc");
  check_i64(rows, b, "rows");
  check_i64(lens, b, "lens");
  // validate the KV bookkeeping once for every layer: rows, lengths, and each live slot
  const int64_t *rp = rows.data_ptr<int64_t>(), *lp = lens.data_ptr<int64_t>(), *op = out_loc.data_ptr<int64_t>();
  const int64_t* tp = table_.data_ptr<int64_t>();
  const int64_t slots_total = layers_[0].k_buf.size(1), stride = table_.stride(0);
  for (int64_t i = 0; i < b; ++i) {
    TORCH_CHECK(rp[i] >= 0 && rp[i] < table_.size(0), "row ", rp[i], " outside the request table");
    TORCH_CHECK(lp[i] >= 1 && lp[i] <= table_.size(1), "length ", lp[i], " outside the context");
    TORCH_CHECK(op[i] >= 0 && op[i] < slots_total, "new token's slot outside the pool");
    for (int64_t j = 0; j < lp[i]; ++j) {
      const int64_t s = tp[rp[i] * stride + j];
      TORCH_CHECK(s >= 0 && s < slots_total, "slot out of the pool");
    }
  }
  const float scale = 1.f / std::sqrt(float(d_));
  const KVRows kv_rows{tp, stride, rp, lp};
  // shared prefixes: the same in every layer (none: every token attends alone)
  const CascadePlan plan = cascade ? plan_cascade(kv_rows, b) : CascadePlan{{}, std::vector<int64_t>(b, 0)};
  last_groups_ = int64_t(plan.groups.size());
  at::Tensor x = x_in, residual = x_in.clone();
  for (size_t li = 0; li < layers_.size(); ++li) {
    const StepLayer& layer = layers_[li];
    at::Tensor h = li == 0 ? rms_norm(residual, layer.input_norm, eps_, c10::nullopt) : rms_norm(x, layer.input_norm, eps_, residual);
    at::Tensor qkv = layer.qkv(h);                                             // [B, (Hq + 2Hk) * D]
    at::Tensor qk = qkv.narrow(1, 0, q_dim + kv_dim).view({b, hq_ + hk_, d_});  // q and k heads rotated together
    rope_inplace(qk, positions, cos_, sin_);
    at::Tensor k = qkv.narrow(1, q_dim, kv_dim).view({b, hk_, d_}), v = qkv.narrow(1, q_dim + kv_dim, kv_dim).view({b, hk_, d_});
    at::Tensor k_buf = layer.k_buf, v_buf = layer.v_buf;
    kv_store(k_buf, v_buf, out_loc, k, v);
    at::Tensor q = qkv.narrow(1, 0, q_dim).contiguous();  // [B, Hq * D]
    at::Tensor attn = at::empty({b, q_dim}, x.options());
    decode_attention_raw(q.data_ptr<float>(), b, hq_, d_, k_buf.data_ptr<float>(), v_buf.data_ptr<float>(), hk_, slots_total, kv_rows, plan,
                         scale, attn.data_ptr<float>(), true);
    h = rms_norm(layer.o(attn), layer.post_norm, eps_, residual);
    x = layer.down(silu_mul(layer.gate_up(h), true));  // gate_up [B, 2I] -> [B, I] -> [B, H]
  }
  if (logit_rows.has_value()) {  // only these rows' logits are wanted
    const at::Tensor& lr = *logit_rows;
    TORCH_CHECK(lr.scalar_type() == at::kLong && lr.dim() == 1, "logit_rows must be int64 [R]");
    TORCH_CHECK(lr.numel() == 0 || (lr.min().item<int64_t>() >= 0 && lr.max().item<int64_t>() < b), "logit_rows outside the batch");
    x = x.index_select(0, lr), residual = residual.index_select(0, lr);
  }
  return lm_head_(rms_norm(x, final_norm_, eps_, residual));
}
