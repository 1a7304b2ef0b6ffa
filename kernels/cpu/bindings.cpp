// Python bindings of sglike's CPU extension (the kernels live in quant_gemm.cpp and fused_ops.cpp).
#include <torch/extension.h>
#include "ops.h"

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "sglike CPU kernels: GEMMs over GGUF-style int4/int8 blocks, fused decode-step ops";
  m.def("has_avx2_fma", &cpu_has_avx2_fma, "whether the AVX2+FMA GEMM path runs on this CPU");
  m.def("q4_gemm", &q4_gemm, "x [M,K] @ int4 W^T", py::arg("x"), py::arg("qs"), py::arg("scale"), py::arg("min"), py::arg("use_simd") = true);
  m.def("q8_gemm", &q8_gemm, "x [M,K] @ int8 W^T", py::arg("x"), py::arg("q"), py::arg("scale"), py::arg("use_simd") = true);
  m.def("q4_dequant_rows", &q4_dequant_rows, "int4 rows -> float32", py::arg("qs"), py::arg("scale"), py::arg("min"), py::arg("r0"), py::arg("r1"), py::arg("out"));
  m.def("rms_norm", &rms_norm, "RMSNorm (optionally adding x into residual first)", py::arg("x"), py::arg("weight"), py::arg("eps"), py::arg("residual") = py::none());
  m.def("rope_inplace", &rope_inplace, "rotary embedding in place", py::arg("x"), py::arg("positions"), py::arg("cos"), py::arg("sin"));
  m.def("decode_attention_paged", &decode_attention_paged, "one-query attention over pool slots", py::arg("q"), py::arg("k_buf"), py::arg("v_buf"), py::arg("slots"), py::arg("lens"), py::arg("scale"));
  m.def("kv_store", &kv_store, "write k, v rows into the pool at slots", py::arg("k_buf"), py::arg("v_buf"), py::arg("slots"), py::arg("k"), py::arg("v"));
}
