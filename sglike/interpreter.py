"""Executes primitive IR nodes against a :class:`~sglike.buffer.ProgramBuffer`.

Each node runs as a generator that *yields* backend requests and is sent the results.
That lets one driver run a single branch eagerly and another run the branches of a fork
in lockstep, sending each round's requests to the backend as one batch.
"""
from __future__ import annotations

from typing import Any, Callable, Generator, Iterable, Sequence

from .backend.base import Backend, GenRequest, GenResult, Request, SelectRequest
from .buffer import ProgramBuffer, ProgramError
from .ir import ConcatAndAppend, Expr, Gen, RoleBegin, RoleEnd, Select, Text, VarScopeBegin, VarScopeEnd

__all__ = ["ProgramError", "Steps", "node_steps", "nodes_steps", "drive", "drive_lockstep"]

Steps = Generator[Request, Any, None]

DEFAULT_MAX_NEW_TOKENS = 128


def _concat_and_append(buf: ProgramBuffer, node: ConcatAndAppend) -> None:
    """Append, in fork order, what each joined branch added after the fork point."""
    for branch in node.states:
        text, messages = branch.added_since_fork()
        buf.append(text)
        buf.extend_messages(messages)


# nodes that need no backend request: node type -> what it does to the buffer
_PLAIN: dict[type, Callable[[ProgramBuffer, Any], None]] = {
    Text: lambda buf, node: buf.append(node.value),
    RoleBegin: lambda buf, node: buf.begin_role(node.role),
    RoleEnd: lambda buf, node: buf.end_role(node.role),
    VarScopeBegin: lambda buf, node: buf.begin_scope(node.name),
    VarScopeEnd: lambda buf, node: buf.end_scope(node.name),
    ConcatAndAppend: _concat_and_append,
}


def node_steps(buf: ProgramBuffer, node: Expr) -> Steps:
    """Run one primitive node on ``buf``; yields requests for the backend."""
    plain = _PLAIN.get(type(node))
    if plain is not None:
        plain(buf, node)
    elif isinstance(node, Gen):
        yield from _gen_steps(buf, node)
    elif isinstance(node, Select):
        decision = yield SelectRequest(buf.current_text, node.choices, node.method)
        buf.append(decision.decision, var=node.name)
        if node.name is not None:
            buf.set_result(node.name, decision.decision, decision.meta_info)
    else:
        raise ProgramError(f"cannot execute {type(node).__name__} in a running program")


def nodes_steps(buf: ProgramBuffer, nodes: Iterable[Expr]) -> Steps:
    for node in nodes:
        yield from node_steps(buf, node)


def _gen_steps(buf: ProgramBuffer, node: Gen) -> Steps:
    defaults = buf.defaults
    params = {"max_new_tokens": DEFAULT_MAX_NEW_TOKENS, **defaults.sampling, **node.params}
    logprob = node.return_logprob if node.return_logprob is not None else defaults.return_logprob
    req = GenRequest(
        prompt=buf.current_text,
        sampling_params=params,
        return_logprob=bool(logprob),
        logprob_start_len=node.logprob_start_len if node.logprob_start_len is not None else defaults.logprob_start_len,
        top_logprobs_num=node.top_logprobs_num if node.top_logprobs_num is not None else defaults.top_logprobs_num,
        messages=buf.chat_messages(),
        in_assistant_role=buf.current_role == "assistant",
        partial_assistant=buf.role_text(),
    )
    buf.current_var = node.name
    result: GenResult = yield req
    buf.current_var = None
    buf.append(result.text, var=node.name, published=result.meta_info.pop("_streamed", False))
    if node.name is not None:
        texts = result.meta_info.get("n_texts")
        buf.set_result(node.name, list(texts) if texts else result.text, result.meta_info)


def drive(backend: Backend, buf: ProgramBuffer, steps: Steps) -> None:
    """Run one branch's steps eagerly (streaming gens when the buffer streams)."""
    try:
        req = next(steps)
    except StopIteration:
        return
    while True:
        if buf.streaming and isinstance(req, GenRequest):
            result: Any = _stream_one(backend, buf, req)
        else:
            result = backend.execute([req])[0]
        try:
            req = steps.send(result)
        except StopIteration:
            return


def _stream_one(backend: Backend, buf: ProgramBuffer, req: GenRequest) -> GenResult:
    final: GenResult | None = None
    for piece in backend.generate_stream(req):
        if isinstance(piece, GenResult):
            final = piece
        else:
            buf.publish(buf.current_var, piece)
    assert final is not None, "generate_stream ended without a result"
    final.meta_info["_streamed"] = True
    return final


def drive_lockstep(backend: Backend, runners: Sequence[Steps]) -> None:
    """Run several branches' steps together: each round's requests go as one batch."""
    active: list[tuple[Steps, Request]] = []
    for steps in runners:
        try:
            active.append((steps, next(steps)))
        except StopIteration:
            pass
    while active:
        results = backend.execute([req for _, req in active])
        following = []
        for (steps, _), result in zip(active, results):
            try:
                following.append((steps, steps.send(result)))
            except StopIteration:
                pass
        active = following
