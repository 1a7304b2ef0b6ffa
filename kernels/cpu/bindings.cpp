// Python bindings of sglike's CPU extension (kernels in quant_gemm.cpp, vnni_gemm.cpp,
// fused_ops.cpp, decode_attention.cpp; the fused decode step in decode_step.cpp).
#include <torch/extension.h>
#include "decode_step.h"
#include "ops.h"

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "sglike CPU kernels: GEMMs over GGUF-style int4/int8 blocks, fused decode-step ops";
  m.def("has_avx2_fma", &cpu_has_avx2_fma, "whether the AVX2+FMA GEMM path runs on this CPU");
  m.def("has_avx512_vnni", &cpu_has_avx512_vnni, "whether the AVX512-VNNI GEMM path runs on this CPU");
  m.def("vnni_gemm", &vnni_gemm, "x [M,K] @ W^T, W packed in 16-row groups", py::arg("x"), py::arg("packed"), py::arg("n"), py::arg("q4"), py::arg("use_simd") = true, py::arg("act8") = false);
  m.def("vnni_dequant_rows", &vnni_dequant_rows, "packed rows -> float32", py::arg("packed"), py::arg("q4"), py::arg("rows"), py::arg("out"));
  m.def("q4_gemm", &q4_gemm, "x [M,K] @ int4 W^T", py::arg("x"), py::arg("qs"), py::arg("scale"), py::arg("min"), py::arg("use_simd") = true);
  m.def("q8_gemm", &q8_gemm, "x [M,K] @ int8 W^T", py::arg("x"), py::arg("q"), py::arg("scale"), py::arg("use_simd") = true);
  m.def("q4_dequant_rows", &q4_dequant_rows, "int4 rows -> float32", py::arg("qs"), py::arg("scale"), py::arg("min"), py::arg("r0"), py::arg("r1"), py::arg("out"));
  m.def("rms_norm", &rms_norm, "RMSNorm (optionally adding x into residual first)", py::arg("x"), py::arg("weight"), py::arg("eps"), py::arg("residual") = py::none());
  m.def("rope_inplace", &rope_inplace, "rotary embedding in place", py::arg("x"), py::arg("positions"), py::arg("cos"), py::arg("sin"));
  m.def("decode_attention_paged", &decode_attention_paged, "one-query attention over pool slots", py::arg("q"), py::arg("k_buf"), py::arg("v_buf"), py::arg("slots"), py::arg("lens"), py::arg("scale"), py::arg("cascade") = false, py::arg("use_simd") = true);
  m.def("cascade_groups", &cascade_groups, "the shared-prefix groups decode attention forms", py::arg("slots"), py::arg("lens"));
  m.def("silu_mul", &silu_mul, "silu(gate) * up of a merged [T, 2I] projection", py::arg("gate_up"), py::arg("use_simd") = true);
  m.def("mapped_zeros", &mapped_zeros, "zeroed uint8 tensor in a fresh mapping, backed on first touch (huge: on huge pages)",
        py::arg("nbytes"), py::arg("huge"));
  m.def("kv_store", &kv_store, "write k, v rows into the pool at slots", py::arg("k_buf"), py::arg("v_buf"), py::arg("slots"), py::arg("k"), py::arg("v"));

  py::class_<StepLinear>(m, "StepLinear", "one linear of the fused decode step")
      .def(py::init<std::string, std::vector<at::Tensor>, int64_t, c10::optional<at::Tensor>>(), py::arg("kind"), py::arg("tensors"),
           py::arg("n"), py::arg("bias") = py::none())
      .def("__call__", &StepLinear::operator(), py::arg("x"));
  py::class_<StepLayer>(m, "StepLayer", "one decoder layer of the fused decode step")
      .def(py::init<at::Tensor, at::Tensor, StepLinear, StepLinear, StepLinear, StepLinear, at::Tensor, at::Tensor>(), py::arg("input_norm"),
           py::arg("post_norm"), py::arg("qkv"), py::arg("o"), py::arg("gate_up"), py::arg("down"), py::arg("k_buf"), py::arg("v_buf"));
  py::class_<DecoderStep>(m, "DecoderStep", "a pre-norm Llama-family decode step as one call")
      .def(py::init<int64_t, int64_t, int64_t, double, at::Tensor, at::Tensor, at::Tensor, at::Tensor, StepLinear>(), py::arg("num_heads"),
           py::arg("num_kv_heads"), py::arg("head_dim"), py::arg("eps"), py::arg("cos"), py::arg("sin"), py::arg("req_to_token"),
           py::arg("final_norm"), py::arg("lm_head"))
      .def("add_layer", &DecoderStep::add_layer, py::arg("layer"))
      .def("forward", &DecoderStep::forward, py::arg("x"), py::arg("positions"), py::arg("out_loc"), py::arg("rows"), py::arg("lens"),
           py::arg("logit_rows") = py::none(), py::arg("cascade") = true, py::call_guard<py::gil_scoped_release>())
      .def_property_readonly("num_layers", &DecoderStep::num_layers)
      .def_property_readonly("last_cascade_groups", &DecoderStep::last_cascade_groups);
}
