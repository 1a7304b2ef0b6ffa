"""Token-mask builders over a byte automaton: the vocabulary's byte trie and its walks, the
per-state mask with its plain per-token twin, and the batched compile-time precompute."""
