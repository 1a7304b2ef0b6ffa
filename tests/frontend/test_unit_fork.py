"""Fork/join with SGLang's frontend semantics, on the fake engine and a failing HTTP server."""
from __future__ import annotations

import http.server
import threading

import pytest

import sglike as sgl
from sglike.backend.base import BackendError
from sglike.ir import Fork, Gen, Text

from .fake_backend import FakeBackend


@pytest.fixture
def fake() -> FakeBackend:
    return FakeBackend(responder=lambda prompt, params: f"<{prompt[-2:]}>")


def test_item_augmented_assignment_extends_one_branch(fake):
    @sgl.program
    def p(s):
        s += "Q"
        forks = s.fork(3)
        for i in range(3):
            forks[i] += f"{i}:" + sgl.gen("a", max_tokens=8)
        forks[1] += "!"
        forks.join(mode="concate_and_append")

    state = p.run(backend=fake)
    assert state.text() == "Q0:<0:>1:<1:>!2:<2:>"
    assert "a" not in state  # concate_and_append brings text back, not variables


def test_branch_cannot_be_replaced(fake):
    @sgl.program
    def p(s):
        forks = s.fork(2)
        forks[0] = forks[1]

    with pytest.raises(TypeError, match="cannot be replaced"):
        p.run(backend=fake)


def test_callable_is_applied_per_fork_index(fake):
    @sgl.program
    def p(s):
        s += "Go "
        forks = s.fork(3)
        forks += lambda i: f"#{i}" + sgl.gen("x", max_tokens=8)
        forks.join()

    state = p.run(backend=fake)
    assert state["x"] == ["<#0>", "<#1>", "<#2>"]
    assert state.text() == "Go "  # gather leaves the parent's text unchanged
    assert [len(c) for c in fake.calls] == [3]  # the branches went as one batch
    assert [m["finish_reason"]["type"] for m in state.get_meta_info("x")] == ["stop"] * 3


def test_gather_lists_only_branches_that_set_the_variable(fake):
    @sgl.program
    def p(s):
        s["seen"] = "parent"
        forks = s.fork(3)
        for i, f in enumerate(forks):
            if i != 1:
                f += f"{i}" + sgl.gen("only", max_tokens=8)
        forks.join()

    state = p.run(backend=fake)
    assert state["only"] == ["<0>", "<2>"]  # SGLang: one entry per branch that set it
    assert state["seen"] == "parent"  # inherited and untouched: not gathered


def test_fork_loop_regathers_a_reused_name(fake):
    @sgl.program
    def p(s):
        for level in range(2):
            forks = s.fork(2)
            forks += lambda i: f"{level}{i}" + sgl.gen("t", max_tokens=8)
            forks.join()
            s += s["t"][0]

    state = p.run(backend=fake)
    assert state.text() == "<00><10>"
    assert state["t"] == ["<10>", "<11>"]  # the second join replaced the first one's list


def test_nested_fork_concat_then_gather(fake):
    @sgl.program
    def p(s):
        outer = s.fork(2)
        for i, f in enumerate(outer):
            f += f"o{i}"
            inner = f.fork(2)
            inner += lambda j: f"i{j}"
            inner.join("concate_and_append")
            f += sgl.gen("g", max_tokens=8)
        outer.join()

    state = p.run(backend=fake)
    assert state["g"] == ["<i1>", "<i1>"]
    assert state.text() == ""


def test_concat_brings_messages_in_fork_order(fake):
    @sgl.program
    def p(s):
        s += sgl.system("sys")
        forks = s.fork(2)
        forks += [sgl.user("first"), sgl.user("second")]
        forks.join("concate_and_append")

    state = p.run(backend=fake)
    assert [m["content"] for m in state.messages()] == ["sys", "first", "second"]
    assert state.text().index("first") < state.text().index("second")


def test_copy_is_a_joined_single_fork(fake):
    @sgl.program
    def p(s):
        s += "ab"
        with s.copy() as c:
            c += sgl.gen("side", max_tokens=8)

    state = p.run(backend=fake)
    assert state["side"] == ["<ab>"] and state.text() == "ab"


def test_unknown_join_mode(fake):
    @sgl.program
    def p(s):
        s.fork(2).join("merge")

    with pytest.raises(ValueError, match="join mode"):
        p.run(backend=fake)


def test_trace_records_item_and_callable_appends():
    @sgl.program
    def p(s):
        forks = s.fork(2)
        forks[0] += "a"
        forks += lambda i: sgl.gen(f"g{i}")
        forks.join()

    fork = next(n for n in p.trace().nodes if isinstance(n, Fork))
    first, second = fork.branches
    assert isinstance(first[0], Text) and first[0].value == "a"
    assert [n.name for n in (first[1], second[0])] == ["g0", "g1"] and isinstance(second[0], Gen)


class RaisingBackend(FakeBackend):
    """An engine call that raises (a dead engine, a dropped connection)."""

    def _call(self, items):
        raise BackendError("engine went away")


@sgl.program
def forked(s):
    s += "x"
    forks = s.fork(2)
    forks += sgl.gen("a", max_tokens=4)
    forks.join()
    s += sgl.gen("after", max_tokens=4)


@pytest.mark.timeout(60)
def test_backend_error_in_fork_raises_not_hangs():
    with pytest.raises(BackendError, match="went away"):
        forked.run(backend=RaisingBackend())
    state = forked.run(backend=RaisingBackend(), stream=True)
    with pytest.raises(BackendError):
        list(state.text_iter())
    assert isinstance(state.error(), BackendError)
    with pytest.raises(KeyError, match="went away"):
        state["a"]


class _Failing(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # /get_model_info: not there
        self.send_error(404)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_error(500, "no such request")

    def log_message(self, *args):
        pass


@pytest.mark.timeout(60)
def test_http_backend_error_during_join_raises():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        backend = sgl.RuntimeEndpoint(f"http://127.0.0.1:{server.server_port}", chat_template="chatml")
        with pytest.raises(BackendError, match="HTTP 500"):
            forked.run(backend=backend)
        backend.shutdown()
    finally:
        server.shutdown()
        server.server_close()
