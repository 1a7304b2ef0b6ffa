"""The C++ decode step (runtime/cpu_decode_step.py) against its plain twin, the model's
module-by-module forward (``disable_cpu_decode_step=True``): the same greedy tokens and
logprobs on the real default model (the GGUF's int4/int8 blocks) and on tiny random models
(float32 weights, tied and untied heads, a qkv bias), shared prefixes included."""
from __future__ import annotations

import pytest
import torch

from sglike.kernels import cpu
from sglike.runtime import Engine
from sglike.runtime.cpu_decode_step import EXTEND_MAX_ROWS
from sglike.runtime.layers.kernel_table import DECODE_MAX_M

pytestmark = pytest.mark.skipif(not cpu.available(), reason="sglike CPU extension not built")
PARAMS = {"max_new_tokens": 24, "temperature": 0, "ignore_eos": True}


def _pair(**options) -> tuple[Engine, Engine]:
    base = dict(dtype="float32", max_total_tokens=8192, max_running_requests=8, **options)
    return Engine(**base), Engine(**base, disable_cpu_decode_step=True)


@pytest.fixture(scope="module")
def engines():
    fast, plain = _pair()
    assert fast.scheduler.runner.cpu_step is not None and plain.scheduler.runner.cpu_step is None
    yield fast, plain
    fast.shutdown()
    plain.shutdown()


def _run(engine: Engine, prompts: list[str]) -> list[dict]:
    return engine.generate(prompts, PARAMS, return_logprob=True)


def _same(a: list[dict], b: list[dict]) -> None:
    assert [o["output_ids"] for o in a] == [o["output_ids"] for o in b]
    for x, y in zip(a, b):
        lx = torch.tensor([lp for lp, _, _ in x["meta_info"]["output_token_logprobs"]])
        ly = torch.tensor([lp for lp, _, _ in y["meta_info"]["output_token_logprobs"]])
        # the int GEMMs round activations per block, so a 1e-7 difference upstream (another
        # summation order in attention) can move a product by one rounding step: measured <= 3e-3
        torch.testing.assert_close(lx, ly, atol=1e-2, rtol=0)


def test_default_model_decodes_like_the_module_path(engines):
    fast, plain = engines
    prompts = ["The capital of France is", "Write a haiku about rain.", "1, 2, 3, 4,", "def add(a, b):"]
    _same(_run(fast, prompts), _run(plain, prompts))


def test_shared_prefix_batches_take_the_cascade(engines):
    fast, plain = engines
    system = "You are a careful assistant who answers in one short sentence. " * 6
    prompts = [f"{system}\nQuestion {i}: name a fruit." for i in range(5)]
    for e in engines:
        e.flush_cache()
    before = fast.get_server_info()["cascade_decode_steps"]
    out = _run(fast, prompts)
    assert fast.get_server_info()["cascade_decode_steps"] > before
    _same(out, _run(plain, prompts))


@pytest.mark.parametrize("arch,quantization,tied", [("llama", "none", True), ("qwen2", "none", False), ("llama", "int4", False),
                                                    ("qwen2", "w8a8_int8", False), ("llama", "w4a8_int8", False)])
def test_tiny_models_decode_like_the_module_path(arch, quantization, tied, tmp_path, default_tokenizer, tiny_model_factory):
    if quantization.endswith("a8_int8") and not cpu.has_vnni():
        pytest.skip("W8A8 / W4A8 have a C++ step twin on AVX512-VNNI only (AVX2 rounds activations in torch)")
    folder = tiny_model_factory(str(tmp_path), default_tokenizer, arch=arch, tie_word_embeddings=tied)
    fast, plain = _pair(model_path=folder, quantization=quantization)
    try:
        assert fast.scheduler.runner.cpu_step is not None
        prompts = ["Hello there", "A much longer prompt about the weather in spring"]
        _same(_run(fast, prompts), _run(plain, prompts))
    finally:
        fast.shutdown()
        plain.shutdown()


@pytest.mark.parametrize("options", [{"dtype": "bfloat16"}, {"attention_backend": "torch_ref"}, {"disable_cpu_decode_step": True}])
def test_not_built_where_a_piece_has_no_twin(options, tmp_path, default_tokenizer, tiny_model_factory):
    folder = tiny_model_factory(str(tmp_path), default_tokenizer)
    engine = Engine(model_path=folder, max_total_tokens=256, **{"dtype": "float32", **options})
    try:
        assert engine.scheduler.runner.cpu_step is None
    finally:
        engine.shutdown()


def test_bad_kv_bookkeeping_is_an_error_not_a_crash(engines):
    step = engines[0].scheduler.runner.cpu_step.step
    x, one = torch.zeros(1, 576), torch.tensor([0])
    with pytest.raises(RuntimeError, match="outside the pool"):
        step.forward(x, one, torch.tensor([10**9]), one, torch.tensor([1]))
    with pytest.raises(RuntimeError, match="outside the context"):
        step.forward(x, one, one, one, torch.tensor([10**9]))


def test_default_options_take_the_step_in_float32():
    """``dtype=auto`` resolves to float32 when the linears run sglike's integer kernels (they
    take float32 activations), so a default engine decodes through the C++ step."""
    engine = Engine(max_total_tokens=256)
    try:
        runner = engine.scheduler.runner
        if runner.quant_plan.linear == "float":
            pytest.skip("no integer kernel for the default GGUF on this CPU")
        assert runner.dtype == torch.float32 and runner.cpu_step is not None
    finally:
        engine.shutdown()


def test_auto_dtype_rule():
    from sglike.runtime.device import cpu_has_fast_bf16, resolve_dtype

    cpu = torch.device("cpu")
    assert resolve_dtype("auto", cpu, integer_linears=True) == torch.float32
    assert resolve_dtype("auto", cpu) == (torch.bfloat16 if cpu_has_fast_bf16() else torch.float32)
    assert resolve_dtype("bfloat16", cpu, integer_linears=True) == torch.bfloat16


def test_avx2_kernels_in_the_step(monkeypatch):
    """On an AVX2-only CPU the step runs the AVX2 int4/int8 GEMMs (kinds "q4" / "q8"): forced
    here through the platform the runner detects, on the real default model."""
    from sglike.runtime import model_runner
    from sglike.runtime.platform import Platform

    avx2 = Platform("cpu", avx2=True, cpu_kernels=cpu.has_simd())
    if not avx2.cpu_kernels:
        pytest.skip("the AVX2 path needs an AVX2 CPU")
    monkeypatch.setattr(model_runner, "detect_platform", lambda device: avx2)
    fast, plain = _pair()
    try:
        kinds = {m.kernels["decode"].name for m in fast.scheduler.runner.model.modules() if hasattr(m, "kernels")}
        assert kinds == {"sglike_q4_gemv", "sglike_q8_gemv"} and fast.scheduler.runner.cpu_step is not None
        # past 32 rows these layers take dequantized tiles, so longer prefill chunks go module by module
        assert fast.scheduler.runner.cpu_step.max_rows == DECODE_MAX_M
        prompts = ["The capital of France is", "Once upon a time"]
        _same(_run(fast, prompts), _run(plain, prompts))
    finally:
        fast.shutdown()
        plain.shutdown()


@pytest.mark.parametrize("prefix, new", [(40, 8), (0, 300)])
def test_extends_match_the_module_path(engines, prefix, new):
    """An extend after a cached prefix (a prefill chunk, a speculative verify) and a fresh
    300-token prefill chunk: every new token attends its request's slots up to itself,
    through the step or module by module."""
    from sglike.runtime.forward_batch import ForwardBatch, ForwardMode

    runner = engines[0].scheduler.runner
    if new > runner.cpu_step.max_rows:
        pytest.skip("this machine's step takes only short extends (its linears change kernel past 32 rows)")
    total = prefix + new
    ids = runner.model_config.vocab_size // 7 + torch.arange(total) * 13
    row, slots = runner.req_table.alloc(), runner.allocator.alloc(total)
    try:
        runner.req_table.table[row, :total] = slots

        def batch(lo: int, hi: int, logits: torch.Tensor) -> ForwardBatch:
            return ForwardBatch(ForwardMode.EXTEND, ids[lo:hi], torch.arange(lo, hi), slots[lo:hi], torch.tensor([row]), [hi],
                                [hi - lo], logits)

        if prefix:
            runner.forward(batch(0, prefix, torch.tensor([prefix - 1])))
        chunk = batch(prefix, total, torch.tensor([0, 3, new - 1]))
        assert runner.cpu_step.can_run(chunk)
        fast = runner.cpu_step.run(chunk)
        runner.attn.prepare(chunk)
        plain = runner.model(chunk, runner.attn)
        assert fast.shape == plain.shape == (3, runner.vocab_size)
        assert torch.equal(fast.argmax(-1), plain.argmax(-1))
        # each layer's int GEMMs round activations per block, so another summation order in
        # attention can move a product by a rounding step (measured: 2 of 147k logprobs 0.0102
        # apart, on these synthetic ids)
        torch.testing.assert_close(fast.log_softmax(-1), plain.log_softmax(-1), atol=2e-2, rtol=0)
    finally:
        runner.allocator.free(slots)
        runner.req_table.free(row)


def test_vnni_steps_take_prefill_chunks(engines):
    runner = engines[0].scheduler.runner
    kinds = {m.kernels["decode"].name for m in runner.model.modules() if hasattr(m, "kernels")}
    if not all("vnni" in k for k in kinds):
        pytest.skip("no AVX512-VNNI kernels on this CPU")
    assert runner.cpu_step.max_rows == EXTEND_MAX_ROWS  # one kernel at every size: chunks up to 512 tokens
