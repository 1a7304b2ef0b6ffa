"""DSL machinery on a fake engine: roles, gen, var_scope, fork/join, streaming, errors."""
from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

import sglike as sgl
from sglike.chat_template import derive_chat_template, get_chat_template, jinja_renderer

from .fake_backend import FakeBackend

SMOL_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are SmolLM<|im_end|>\\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")


@pytest.fixture
def fake() -> FakeBackend:
    return FakeBackend(template=derive_chat_template(jinja_renderer(SMOL_TEMPLATE)))


def test_import_does_not_import_torch():
    code = "import sys, sglike; sglike.gen; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_derived_template_matches_rendering(fake):
    render = jinja_renderer(SMOL_TEMPLATE)

    @sgl.program
    def chat(s):
        s += sgl.user("hi")
        s += sgl.assistant("yo")

    state = chat.run(backend=fake)
    expected = render([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}], False)
    assert state.text() == expected
    assert fake.chat_template.default_system_prompt == "You are SmolLM"
    assert state.messages() == [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]


def test_roles_as_blocks_and_begin_end(fake):
    @sgl.function
    def chat(s):
        s += sgl.system("sys")
        with s.user():
            s += "question"
        s += sgl.assistant_begin()
        s += sgl.gen("a", max_tokens=5)
        s += sgl.assistant_end()

    state = chat.run(backend=fake)
    assert [m["role"] for m in state.messages()] == ["system", "user", "assistant"]
    assert state["a"] == "hello"
    assert state.text().endswith("<|im_start|>assistant\nhello<|im_end|>\n")
    assert "SmolLM" not in state.text()


def test_unbalanced_roles_raise(fake):
    @sgl.program
    def bad(s):
        s += sgl.user_begin()
        s += sgl.assistant_end()

    with pytest.raises(sgl.ProgramError):
        bad.run(backend=fake)


def test_gen_stop_defaults_and_meta(fake):
    @sgl.program
    def qa(s, q):
        s += "Q: " + q + "\nA:" + sgl.gen("answer", stop="\n")

    state = qa.run(q="why?", backend=fake, temperature=0)
    assert state["answer"] == "hello world. more text"
    assert state.get_meta_info("answer")["finish_reason"] == {"type": "stop", "matched": "\n"}
    params = fake.calls[-1][0]["sampling_params"]
    assert params["temperature"] == 0 and params["stop"] == ["\n"] and params["max_new_tokens"] == 128


def test_var_scope_and_bind(fake):
    @sgl.program
    def obj(s, key, value):
        with s.var_scope("js"):
            s += '{"' + key + '": "' + value + '"}'

    state = obj.bind(key="k").run(value="v", backend=fake)
    assert state["js"] == '{"k": "v"}'


def test_fork_gather_batches_branches(fake):
    @sgl.program
    def tree(s):
        s += "root "
        forks = s.fork(3)
        for i, f in enumerate(forks):
            f += f"branch {i}: " + sgl.gen("idea", max_tokens=5)
        for f in forks:
            f += " then " + sgl.gen("more", max_tokens=3)
        forks.join()

    state = tree.run(backend=fake)
    assert state["idea"] == ["hello"] * 3
    assert state["more"] == ["hel"] * 3
    assert [len(c) for c in fake.calls] == [3, 3]  # each round of branches is one batch
    assert state.text() == "root "


def test_fork_concat_join(fake):
    @sgl.program
    def enc(s, parts):
        s += "Docs:\n"
        forks = s.fork(len(parts))
        forks += [sgl.user(p) for p in parts]
        forks.join(mode="concate_and_append")

    state = enc.run(parts=["a", "b"], backend=fake)
    assert state.text() == "Docs:\n<|im_start|>user\na<|im_end|>\n<|im_start|>user\nb<|im_end|>\n"
    assert [m["content"] for m in state.messages()] == ["a", "b"]


def test_fork_read_forces_run(fake):
    @sgl.program
    def p(s):
        forks = s.fork(2)
        forks += sgl.gen("x", max_tokens=2)
        s += "seen " + forks[1]["x"]

    assert p.run(backend=fake).text() == "seen he"


def test_stream_text_iter_and_async(fake):
    @sgl.program
    def p(s):
        s += "A:" + sgl.gen("a", max_tokens=5) + "|" + sgl.gen("b", max_tokens=3)

    state = p.run(backend=fake, stream=True)
    assert "".join(state.text_iter("a")) == "hello"
    assert "".join(state.text_iter()) == "A:hello|hel"

    async def collect():
        return [c async for c in state.text_async_iter("b")]

    assert "".join(asyncio.run(collect())) == "hel"
    assert state["b"] == "hel" and state.error() is None


def test_errors_surface(fake):
    @sgl.program
    def boom(s):
        s += "x" + sgl.gen("a", max_tokens=3)
        raise ValueError("bad program")

    with pytest.raises(ValueError, match="bad program"):
        boom.run(backend=fake)
    state = boom.run(backend=fake, stream=True)
    with pytest.raises(ValueError):
        list(state.text_iter())
    assert isinstance(state.error(), ValueError)
    with pytest.raises(KeyError, match="bad program"):
        state["missing"]


def test_engine_abort_raises():
    backend = FakeBackend(fail_on="explode")

    @sgl.program
    def p(s, x):
        s += x + sgl.gen("a")

    with pytest.raises(sgl.BackendError, match="boom"):
        p.run(x="explode", backend=backend)
    states = p.run_batch([{"x": "fine"}, {"x": "explode"}], backend=backend)
    assert states[0].error() is None and isinstance(states[1].error(), sgl.BackendError)


def test_run_batch_precaches_prefix(fake):
    @sgl.program
    def p(s, q):
        s += sgl.system("Be brief.")
        s += sgl.user("Few-shot header. Question: " + q)
        s += sgl.assistant(sgl.gen("a", max_tokens=2))

    states = p.run_batch([{"q": str(i)} for i in range(10)], backend=fake, num_threads=4, progress_bar=True)
    assert [st["a"] for st in states] == ["he"] * 10
    assert fake.cached == ["<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nFew-shot header. Question: "]
    assert all(st.text().startswith(fake.cached[0]) for st in states)


def test_default_backend_and_dtype_regex(fake):
    sgl.set_default_backend(fake)
    try:
        @sgl.program
        def p(s):
            s += sgl.gen_int("n") + " " + sgl.gen("b", dtype=bool)

        state = p.run()
        assert int(state["n"]) == 42 and state["b"] == "True"
        assert fake.calls[0][0]["sampling_params"]["regex"] == sgl.primitives.DTYPE_REGEX[int]
    finally:
        sgl.set_default_backend(None)


def test_registry_override():
    tpl = get_chat_template("llama-3-instruct")
    backend = FakeBackend(template=tpl)

    @sgl.program
    def p(s):
        s += sgl.user("hi")

    assert p.run(backend=backend).text() == "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>"
