"""A grammar that cannot go on mid-request (its lazy DFA outgrew the state limit) aborts the
request with the grammar's message, before any EOS could end it as a valid "stop"."""
from __future__ import annotations

from types import SimpleNamespace

from sglike.runtime.scheduler.finish import FinishChecker


def test_matcher_error_aborts_the_request():
    checker = FinishChecker(tokenizer=None, eos_ids={0})
    matcher = SimpleNamespace(error="grammar too large (over 20 DFA states)", is_finished=lambda: True)
    req = SimpleNamespace(grammar=matcher, output_ids=[0])  # the EOS-only mask made it sample EOS
    reason = checker.check(req)
    assert reason.type == "abort" and "grammar too large" in reason.message
