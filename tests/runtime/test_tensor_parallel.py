"""Tensor parallelism end to end: ranks are real processes over gloo (2 CPU cores here, so
few tokens). Greedy tokens with tp_size > 1 equal tp_size 1: on tiny random models (tp 2
and 4, KV heads split and replicated, a vocabulary that leaves padding, Qwen2 biases) and on
the default model (tp 3: 9 heads, 3 KV heads); a dead rank fails the engine instead of
hanging it; two "nodes" launched separately on loopback form one group."""
from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import threading
import time

import pytest

from sglike.runtime import Engine

PROMPTS = ["The capital of France is", "List three colours:"]
SHAPE = dict(dtype="float32", max_total_tokens=1024, max_running_requests=4, context_length=256)


def greedy(model_path, max_new=4, **options):
    engine = Engine(model_path, **{**SHAPE, **options})
    try:
        if options.get("tp_size", 1) > 1:
            assert engine.scheduler.runner.cpu_step is None  # the C++ step cannot all-reduce
        params = {"max_new_tokens": max_new, "temperature": 0, "ignore_eos": True}
        outs = engine.generate(PROMPTS, params)
        again = engine.generate(PROMPTS[0] + " a city", params)  # its cached prefix enters the table without a forward
        assert again["meta_info"]["cached_tokens"] > 0
        return [o["output_ids"] for o in outs + [again]]
    finally:
        engine.shutdown()


def _no_rank_processes_left(timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not [p for p in multiprocessing.active_children() if p.name.startswith("sglike-tp-rank")]:
            return True
        time.sleep(0.2)
    return False


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory, default_tokenizer, tiny_model_factory):
    # 4 heads, 2 KV heads; 49155 rows: tp 2 and 4 both leave padding on the last rank
    folder = str(tmp_path_factory.mktemp("tiny_tp"))
    return tiny_model_factory(folder, default_tokenizer, vocab_size=49155)


def test_tiny_llama_tp2_and_tp4_match_tp1(tiny_llama):
    expected = greedy(tiny_llama)
    assert greedy(tiny_llama, tp_size=2) == expected  # KV heads split
    assert greedy(tiny_llama, tp_size=4) == expected  # 4 ranks share 2 KV heads: replicated
    assert _no_rank_processes_left()


def test_tiny_qwen2_with_biases_tp2(tmp_path, default_tokenizer, tiny_model_factory):
    folder = tiny_model_factory(str(tmp_path), default_tokenizer, arch="qwen2", tie_word_embeddings=True)
    assert greedy(folder, tp_size=2) == greedy(folder)


def test_invalid_tp_size_names_the_valid_ones(tiny_llama):
    with pytest.raises(ValueError, match=r"valid tp sizes: 1, 2, 4"):
        Engine(tiny_llama, tp_size=3, **SHAPE)
    assert _no_rank_processes_left(1.0)  # checked before any rank started


@pytest.mark.parametrize("quantization", ["none", "auto"])
def test_default_model_tp3_matches_tp1(quantization):
    """SmolLM2-135M in float32 (9 heads / 3 KV heads, one KV head per rank): dequantized
    (``none``), and in the GGUF's own Q4_1/Q8_0 blocks (``auto``: o_proj and down_proj cut
    on 32-weight blocks of their input, 192 and 512 columns per rank)."""
    assert greedy(None, max_new=3, quantization=quantization, tp_size=3) == greedy(None, max_new=3, quantization=quantization)


def test_a_dead_rank_fails_the_engine_without_hanging(tiny_llama):
    engine = Engine(tiny_llama, tp_size=2, **SHAPE)
    try:
        (rank1,) = [p for p in multiprocessing.active_children() if p.name.startswith("sglike-tp-rank")]
        rank1.kill()
        rank1.join(5)
        box = {}
        worker = threading.Thread(target=lambda: box.update(out=_generate_or_error(engine)), daemon=True)
        worker.start()
        worker.join(60)
        assert not worker.is_alive(), "generate hung after a rank died"
        out = box["out"]
        assert isinstance(out, Exception) or out["meta_info"]["finish_reason"]["type"] == "abort"
    finally:
        started = time.monotonic()
        engine.shutdown()
        assert time.monotonic() - started < 30


def _generate_or_error(engine):
    try:
        return engine.generate(PROMPTS[0], {"max_new_tokens": 2, "temperature": 0})
    except Exception as exc:  # noqa: BLE001 - the engine refusing is a valid outcome
        return exc


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("tp_size", [2, 4])
def test_two_nodes_on_loopback(tiny_llama, tp_size):
    """Node 1 is a separate launch (`sglike serve --node-rank 1`) hosting ranks k..2k-1 (k =
    tp_size / 2; the first in its own process, the others started by it); node 0 is this
    process's engine (rank 0, and at tp 4 rank 1 started by the engine)."""
    addr = f"127.0.0.1:{_free_port()}"
    flags = ["--tp-size", str(tp_size), "--nnodes", "2", "--node-rank", "1", "--dist-init-addr", addr, "--model-path", tiny_llama,
             "--dtype", "float32", "--max-total-tokens", "1024", "--max-running-requests", "4", "--context-length", "256"]
    node1 = subprocess.Popen([sys.executable, "-m", "sglike.cli", "serve", *flags], env=dict(os.environ), cwd=os.path.dirname(tiny_llama),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # dist_timeout: a node 1 that never joins fails the start after 60 s, not 600
        two_nodes = greedy(tiny_llama, tp_size=tp_size, nnodes=2, node_rank=0, dist_init_addr=addr, dist_timeout=60)
        assert node1.wait(30) == 0, node1.stdout.read()[-3000:]  # node 1 leaves with the engine
    finally:
        if node1.poll() is None:
            node1.kill()
    assert two_nodes == greedy(tiny_llama)


def test_server_with_tp2(tiny_llama, tmp_path):
    """`sglike serve --tp-size 2`: the engine process (not daemonic then) starts rank 1."""
    import httpx

    port = _free_port()
    log_path = tmp_path / "server.log"
    cmd = [sys.executable, "-m", "sglike.cli", "serve", "--port", str(port), "--model-path", tiny_llama, "--tp-size", "2",
           "--dtype", "float32", "--max-total-tokens", "1024", "--max-running-requests", "4", "--context-length", "256"]
    with open(log_path, "w") as log:
        # cwd: not the repository root, whose kernels/ folder would shadow Hugging Face's `kernels`
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"}, cwd=tmp_path)
    try:
        deadline = time.time() + 120
        while "sglike: serving" not in log_path.read_text():
            assert proc.poll() is None and time.time() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.5)
        body = {"input_ids": [1, 2, 3], "sampling_params": {"max_new_tokens": 4, "temperature": 0, "ignore_eos": True}}
        out = httpx.post(f"http://127.0.0.1:{port}/generate", json=body, timeout=120).json()
        expected = Engine(tiny_llama, **SHAPE)
        try:
            assert out["output_ids"] == expected.generate(input_ids=[1, 2, 3], sampling_params=body["sampling_params"])["output_ids"]
        finally:
            expected.shutdown()
    finally:
        proc.terminate()
        assert proc.wait(60) == 0, log_path.read_text()[-3000:]


RANK0_SCRIPT = """
import multiprocessing, sys, time
from sglike.runtime import Engine
if __name__ == "__main__":
    engine = Engine(sys.argv[1], tp_size=2, dtype="float32", max_total_tokens=1024, max_running_requests=4, context_length=256)
    engine.generate("Hello", {"max_new_tokens": 2})
    print("RANK1", [p.pid for p in multiprocessing.active_children() if p.name.startswith("sglike-tp-rank")][0], flush=True)
    time.sleep(600)
"""


def test_ranks_leave_when_rank0_dies(tiny_llama, tmp_path):
    """The engine's process killed outright: its rank process sees the closed connection and exits."""
    script = tmp_path / "rank0.py"
    script.write_text(RANK0_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), tiny_llama], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("RANK1"), line
        rank1 = int(line.split()[1])
    finally:
        proc.kill()
        proc.wait(10)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(rank1, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.kill(rank1, 9)
    pytest.fail("rank 1 outlived rank 0 by 30 s")


def test_standalone_speculation_verifies_through_the_ranks(tiny_llama):
    """The draft model runs unsplit on rank 0; each verify forward goes through every rank."""
    prompt, params = "one two three four one two three four one two", {"max_new_tokens": 10, "temperature": 0, "ignore_eos": True}
    plain = Engine(tiny_llama, **SHAPE)
    try:
        expected = plain.generate(prompt, params)["output_ids"]
    finally:
        plain.shutdown()
    spec = Engine(tiny_llama, tp_size=2, speculative_algorithm="STANDALONE", speculative_cost_gate=False, **SHAPE)
    try:
        out = spec.generate(prompt, params)
    finally:
        spec.shutdown()
    assert out["output_ids"] == expected and out["meta_info"]["spec_accepted_tokens"] > 0


def test_chunked_prefill_shared_prefixes_and_tight_memory_tp2(tiny_llama):
    """Prefill in 16-token chunks, prompts sharing a prefix (cached chunks repoint table rows),
    a KV pool small enough to retract and requeue: the same tokens as tp 1."""
    stem = "Once upon a time in a land far away there lived a king who had three daughters and"
    prompts = [f"{stem} number {i} said" for i in range(6)]
    params = {"max_new_tokens": 40, "temperature": 0, "ignore_eos": True}
    shape = dict(dtype="float32", max_total_tokens=96, max_running_requests=6, context_length=128,
                 chunked_prefill_size=16, max_prefill_tokens=32)

    def run(tp_size):
        engine = Engine(tiny_llama, tp_size=tp_size, **shape)
        try:
            return [o["output_ids"] for o in engine.generate(prompts, params)], engine.get_server_info()
        finally:
            engine.shutdown()

    (expected, _), (got, info) = run(1), run(2)
    assert got == expected
    assert info["retractions"] > 0 and info["evicted_tokens"] > 0 and info["prompt_tokens_cached"] > 0


@pytest.mark.skipif(not __import__("torch").cuda.is_available() or __import__("torch").cuda.device_count() < 2,
                    reason="NCCL tensor parallelism needs 2 CUDA devices (one per rank)")
def test_tiny_llama_tp2_over_nccl_matches_tp1(tiny_llama):
    assert greedy(tiny_llama, device="cuda", tp_size=2) == greedy(tiny_llama, device="cuda")
