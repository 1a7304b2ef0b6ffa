"""Executes primitive IR nodes against a state.

Each node runs as a generator that *yields* backend requests and is sent the results.
That lets one driver run a single state eagerly and another run the branches of a fork
in lockstep, sending each round's requests to the backend as one batch.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generator, Iterable, Sequence

from .backend.base import GenRequest, GenResult, Request, SelectRequest
from .ir import Expr, Gen, RoleBegin, RoleEnd, Select, Text, VarScopeBegin, VarScopeEnd

if TYPE_CHECKING:
    from .state import ProgramState

Steps = Generator[Request, Any, None]

DEFAULT_MAX_NEW_TOKENS = 128


class ProgramError(RuntimeError):
    """A program used the DSL wrongly (unbalanced roles, unknown node, ...)."""


def node_steps(state: "ProgramState", node: Expr) -> Steps:
    """Run one primitive node on ``state``; yields requests for the backend."""
    if isinstance(node, Text):
        state._append(node.value)
    elif isinstance(node, Gen):
        yield from _gen_steps(state, node)
    elif isinstance(node, Select):
        decision = yield SelectRequest(state._text, node.choices, node.method)
        state._append(decision.decision, var=node.name)
        if node.name is not None:
            state.variables[node.name] = decision.decision
            state.meta_info[node.name] = decision.meta_info
    elif isinstance(node, RoleBegin):
        _role_begin(state, node.role)
    elif isinstance(node, RoleEnd):
        _role_end(state, node.role)
    elif isinstance(node, VarScopeBegin):
        state._scopes[node.name] = len(state._text)
    elif isinstance(node, VarScopeEnd):
        start = state._scopes.pop(node.name, None)
        if start is None:
            raise ProgramError(f"var_scope({node.name!r}) ended but never began")
        state.variables[node.name] = state._text[start:]
    else:
        raise ProgramError(f"cannot execute {type(node).__name__} in a running program")


def nodes_steps(state: "ProgramState", nodes: Iterable[Expr]) -> Steps:
    for node in nodes:
        yield from node_steps(state, node)


def _gen_steps(state: "ProgramState", node: Gen) -> Steps:
    params = {"max_new_tokens": DEFAULT_MAX_NEW_TOKENS, **state._defaults.sampling, **node.params}
    logprob = node.return_logprob if node.return_logprob is not None else state._defaults.return_logprob
    req = GenRequest(
        prompt=state._text,
        sampling_params=params,
        return_logprob=bool(logprob),
        logprob_start_len=node.logprob_start_len if node.logprob_start_len is not None else state._defaults.logprob_start_len,
        top_logprobs_num=node.top_logprobs_num if node.top_logprobs_num is not None else state._defaults.top_logprobs_num,
        messages=state.messages(),
        in_assistant_role=bool(state._roles) and state._roles[-1][0] == "assistant",
        partial_assistant=state._text[state._roles[-1][1]:] if state._roles else "",
    )
    state._current_var = node.name
    result: GenResult = yield req
    state._current_var = None
    state._append(result.text, var=node.name, published=result.meta_info.pop("_streamed", False))
    if node.name is not None:
        texts = result.meta_info.get("n_texts")
        state.variables[node.name] = list(texts) if texts else result.text
        state.meta_info[node.name] = result.meta_info


def _role_begin(state: "ProgramState", role: str) -> None:
    if state._roles:
        raise ProgramError(f"cannot begin a {role!r} message inside an open {state._roles[-1][0]!r} message")
    template = state.chat_template
    if not state._messages and state._text == "":
        state._append(template.opening(role))
    state._append(template.prefix(role))
    state._roles.append((role, len(state._text)))


def _role_end(state: "ProgramState", role: str) -> None:
    if not state._roles or state._roles[-1][0] != role:
        open_role = state._roles[-1][0] if state._roles else None
        raise ProgramError(f"{role}_end() does not match the open message ({open_role!r})")
    _, start = state._roles.pop()
    state._messages.append({"role": role, "content": state._text[start:]})
    state._append(state.chat_template.suffix(role))


def drive(state: "ProgramState", steps: Steps) -> None:
    """Run one state's steps eagerly (streaming gens when the state streams)."""
    try:
        req = next(steps)
    except StopIteration:
        return
    while True:
        if state._streaming and isinstance(req, GenRequest):
            result: Any = _stream_one(state, req)
        else:
            result = state.backend.execute([req])[0]
        try:
            req = steps.send(result)
        except StopIteration:
            return


def _stream_one(state: "ProgramState", req: GenRequest) -> GenResult:
    final: GenResult | None = None
    for piece in state.backend.generate_stream(req):
        if isinstance(piece, GenResult):
            final = piece
        else:
            state._publish(state._current_var, piece)
    assert final is not None, "generate_stream ended without a result"
    final.meta_info["_streamed"] = True
    return final


def drive_lockstep(backend: Any, runners: Sequence[Steps]) -> None:
    """Run several states' steps together: each round's requests go as one batch."""
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
