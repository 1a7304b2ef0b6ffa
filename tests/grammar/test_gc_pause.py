"""`gc_pause.gc_paused`: the collector is off inside a compile (nested and across threads)
and back on after the last one ends, unless the caller had turned it off itself."""
from __future__ import annotations

import gc
import threading

from sglike.grammar import GrammarCompiler, Vocabulary
from sglike.grammar.gc_pause import gc_paused


def test_paused_inside_nested_blocks_and_restored_after():
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_caller_disabled_collector_stays_disabled():
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_resumes_when_the_last_thread_leaves():
    inside, release = threading.Event(), threading.Event()

    def other() -> None:
        with gc_paused():
            inside.set()
            release.wait(5)

    t = threading.Thread(target=other)
    with gc_paused():
        t.start()
        inside.wait(5)
    assert not gc.isenabled()  # the other thread is still compiling
    release.set()
    t.join()
    assert gc.isenabled()


def test_compile_leaves_the_collector_enabled_even_when_it_fails():
    gc_ = GrammarCompiler(Vocabulary.from_tokens([b"a"]), cache_dir=False)
    assert gc_.compile_json_schema({"type": "string", "maxLength": 3}).accepts('"abc"')
    try:
        gc_.compile_regex("(")
    except ValueError:
        pass
    assert gc.isenabled()
