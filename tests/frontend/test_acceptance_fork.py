"""SGLang-style fork programs on the real default model (in-process Runtime)."""
from __future__ import annotations

import pytest

import sglike as sgl

pytestmark = pytest.mark.slow

TOPICS = ["cats", "rain", "tea"]


def notes_program(groups: list):
    @sgl.program
    def parallel_notes(s):
        """Written the SGLang way: ``forks[i] +=``, ``forks += lambda i: ...``, concat join."""
        s += sgl.system("Write one short line per topic.")
        forks = s.fork(len(TOPICS))
        groups.append(forks)
        for i in range(len(TOPICS)):
            forks[i] += sgl.user(f"Topic: {TOPICS[i]}")
        forks += lambda i: sgl.assistant(sgl.gen("line", max_tokens=8, stop="\n"))
        forks.join(mode="concate_and_append")
        s += sgl.user("Now name the second topic in one word.")
        s += sgl.assistant(sgl.gen("summary", max_tokens=4))

    return parallel_notes


def test_concat_join_appends_branches_in_order_and_reuses_their_kv(runtime):
    groups: list = []
    state = notes_program(groups).run(backend=runtime, temperature=0)
    branches = groups[0]
    lines = [b["line"] for b in branches]
    messages = state.messages()
    assert [m["role"] for m in messages] == ["system"] + ["user", "assistant"] * 3 + ["user", "assistant"]
    assert [m["content"] for m in messages[1:7]] == [x for t, line in zip(TOPICS, lines)
                                                     for x in (f"Topic: {t}", line)]
    added = [b.buffer.added_since_fork()[0] for b in branches]
    fork_point = branches[0].text()[: -len(added[0])]
    assert all(line in part for line, part in zip(lines, added))
    assert state.text().startswith(fork_point + "".join(added))  # the branches' texts, in fork order
    # the first branch's prompt and generated line are a prefix of the final prompt:
    # their KV comes back from the prefix cache
    first = branches[0].get_meta_info("line")
    assert state.get_meta_info("summary")["cached_tokens"] > first["prompt_tokens"]


@sgl.program
def gather_facts(s):
    s += sgl.user("Give a one-line fact about the sea.")
    forks = s.fork(2)
    forks += lambda i: sgl.assistant(f"Fact {i + 1}: " + sgl.gen("fact", max_tokens=6, stop="\n"))
    forks.join()


def test_default_join_gathers_and_keeps_parent_text(runtime):
    state = gather_facts.run(backend=runtime, temperature=0)
    facts = state["fact"]
    assert isinstance(facts, list) and len(facts) == 2 and all(isinstance(f, str) and f for f in facts)
    assert [m["completion_tokens"] > 0 for m in state.get_meta_info("fact")] == [True, True]
    assert state.text().endswith("Give a one-line fact about the sea.<|im_end|>\n")
    assert [m["role"] for m in state.messages()] == ["user"]
