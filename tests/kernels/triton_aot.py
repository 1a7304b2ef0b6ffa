"""Compiles the Triton kernels for a GPU target without a GPU (run as a script, without
TRITON_INTERPRET): ``python triton_aot.py ARCH`` prints one line per kernel. Catches what the
interpreter does not check: types, shapes and resources of the compiled kernels."""
from __future__ import annotations

import sys

import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

from sglike.kernels.triton import cascade, decode, extend, kv_store

POOL = dict(KBuf="*bf16", VBuf="*bf16", ReqToTok="*i64")


def compile_kernel(fn, types: dict, consts: dict, arch: int) -> int:
    """Shared memory bytes of ``fn`` compiled with ``consts`` (other ints: i64 strides)."""
    sig = {name: "constexpr" if name in consts else types.get(name, "i64") for name in fn.arg_names}
    kernel = triton.compile(ASTSource(fn=fn, signature=sig, constexprs=consts), target=GPUTarget("cuda", arch, 32))
    return kernel.metadata.shared


def main(arch: int) -> None:
    flags = dict(PRECISION="tf32", UPCAST=False)
    jobs = [
        (decode._split_kernel, dict(Q="*bf16", **POOL, Rows="*i64", Starts="*i64", Ends="*i64", OutP="*fp32", LseP="*fp32",
                                    scale_log2="fp32", num_splits="i32"), dict(G=3, BLOCK_H=16, BLOCK_N=decode.BLOCK_N, D=64, **flags)),
        (decode._merge_kernel, dict(OutP="*fp32", LseP="*fp32", Out="*bf16", num_parts="i32"), dict(BLOCK_S=4, D=64)),
        (cascade._prefix_kernel, dict(Q="*bf16", **POOL, Members="*i64", PrefixRows="*i64", PrefixLens="*i64", OutP="*fp32",
                                      LseP="*fp32", scale_log2="fp32", M="i32", part="i32"),
         dict(G=3, BLOCK_Q=cascade.BLOCK_Q, BLOCK_N=decode.BLOCK_N, D=64, **flags)),
        (extend._extend_kernel, dict(Q="*bf16", K="*bf16", V="*bf16", **POOL, Out="*bf16", Rows="*i64", PrefixLens="*i64",
                                     ExtStarts="*i64", ExtLens="*i64", scale_log2="fp32"),
         dict(G=3, BLOCK_M=extend.BLOCK_M, BLOCK_N=extend.BLOCK_N, D=64, **flags)),
        (kv_store._store_kernel, dict(K="*bf16", V="*bf16", KBuf="*bf16", VBuf="*bf16", Slots="*i64"), dict(D=64)),
    ]
    for fn, types, consts in jobs:
        print(f"compiled {fn.__name__} sm_{arch} shared={compile_kernel(fn, types, consts, arch)}", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]))
