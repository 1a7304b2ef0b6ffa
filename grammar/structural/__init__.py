"""``structural_tag``: free text with triggered sections constrained by JSON schemas (the
tag's shape and checks, a byte index over the vocabulary, and the triggered grammar)."""
