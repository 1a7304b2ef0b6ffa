// The decode step (and small extends) of a pre-norm Llama-family decoder as one C++ call
// (decode_step.cpp).
#pragma once
#include <ATen/ATen.h>
#include <string>
#include <vector>

// One linear of the step, y = x @ W^T (+ bias), on the kernel its layer chose in Python:
//   "vnni_q4" / "vnni_q8": {packed}              (vnni_gemm.cpp)
//   "vnni_w8a8": {packed int8}                   (vnni_gemm.cpp, activations rounded to int8)
//   "vnni_w4a8": {packed int4}                   (vnni_gemm.cpp, activations rounded to int8)
//   "q4": {qs, scale, min};  "q8": {q, scale}    (quant_gemm.cpp, AVX2)
//   "dense": {weight [N, K] float32}             (torch's GEMM)
class StepLinear {
 public:
  StepLinear(std::string kind, std::vector<at::Tensor> tensors, int64_t n, c10::optional<at::Tensor> bias);
  at::Tensor operator()(const at::Tensor& x) const;  // x [M, K] float32 -> [M, n]
  int64_t n() const { return n_; }

 private:
  enum class Kind { kVnniQ4, kVnniQ8, kVnniW8A8, kVnniW4A8, kQ4, kQ8, kDense };
  Kind kind_;
  std::vector<at::Tensor> t_;
  int64_t n_;
  c10::optional<at::Tensor> bias_;
};

struct StepLayer {
  at::Tensor input_norm, post_norm;  // RMSNorm weights [H]
  StepLinear qkv, o, gate_up, down;
  at::Tensor k_buf, v_buf;  // this layer's KV pool [Hk, S, D]
};

class DecoderStep {
 public:
  DecoderStep(int64_t num_heads, int64_t num_kv_heads, int64_t head_dim, double eps, at::Tensor cos, at::Tensor sin,
              at::Tensor req_to_token, at::Tensor final_norm, StepLinear lm_head);
  void add_layer(StepLayer layer);
  // x [T, H] embedded new tokens; positions, out_loc (their KV slots), rows (each token's row
  // of req_to_token, whose slots up to its position are already filled in) and lens (the
  // token's position + 1: the keys it attends) all int64 [T]. A decode step has one token per
  // request; an extend (a small prefill chunk, a speculative verify) several per request,
  // causal through lens. -> float32 logits [T, vocab], or [R, vocab] for ``logit_rows`` [R].
  // ``cascade`` false: no shared-prefix split, so each token's attention is bit for bit what
  // a lone decode step computes for it (a speculative verify must equal plain decoding)
  at::Tensor forward(const at::Tensor& x, const at::Tensor& positions, const at::Tensor& out_loc, const at::Tensor& rows,
                     const at::Tensor& lens, const c10::optional<at::Tensor>& logit_rows, bool cascade = true) const;
  int64_t num_layers() const { return int64_t(layers_.size()); }
  int64_t last_cascade_groups() const { return last_groups_; }  // shared-prefix groups of the last forward

 private:
  int64_t hq_, hk_, d_;
  double eps_;
  at::Tensor cos_, sin_, table_, final_norm_;
  StepLinear lm_head_;
  std::vector<StepLayer> layers_;
  mutable int64_t last_groups_ = 0;
};
