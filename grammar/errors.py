"""Errors raised by sglike.grammar."""


class GrammarError(ValueError):
    """An unsupported or invalid grammar, regex or JSON schema; the message names the problem."""
