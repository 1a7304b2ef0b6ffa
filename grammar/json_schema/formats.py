"""Regexes for JSON Schema string formats (the content between the quotes, ASCII only).

Each is a subset of the valid values (never wider): e.g. date-time needs 'T' and 'Z' or an
offset in upper case; date allows Feb 29 in every year; hostname has at most 3 labels.
"""
from __future__ import annotations

_D2 = r"(?:0[1-9]|1[0-9]|2[0-8])"
_DATE = (r"[0-9]{4}-(?:(?:0[13578]|1[02])-(?:" + _D2[3:-1] + r"|29|30|31)"
         r"|(?:0[469]|11)-(?:" + _D2[3:-1] + r"|29|30)|02-(?:" + _D2[3:-1] + r"|29))")
_TIME = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]+)?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
_H = r"[0-9a-fA-F]{1,4}"
_IPV6 = "|".join([
    rf"(?:{_H}:){{7}}{_H}", rf"(?:{_H}:){{1,7}}:", rf"(?:{_H}:){{1,6}}:{_H}",
    rf"(?:{_H}:){{1,5}}(?::{_H}){{1,2}}", rf"(?:{_H}:){{1,4}}(?::{_H}){{1,3}}",
    rf"(?:{_H}:){{1,3}}(?::{_H}){{1,4}}", rf"(?:{_H}:){{1,2}}(?::{_H}){{1,5}}",
    rf"{_H}:(?::{_H}){{1,6}}", rf":(?:(?::{_H}){{1,7}}|:)"])
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ATOM = r"[A-Za-z0-9_%+-]+"

FORMATS = {
    "date": _DATE,
    "time": _TIME,
    "date-time": _DATE + "T" + _TIME,
    "uuid": r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
    "ipv4": _OCTET + r"(?:\." + _OCTET + r"){3}",
    "ipv6": "(?:" + _IPV6 + ")",
    "hostname": _LABEL + r"(?:\." + _LABEL + r"){0,2}",
    "email": _ATOM + r"(?:\." + _ATOM + r")*@" + _LABEL + r"(?:\." + _LABEL + r"){1,2}",
    "uri": r"[a-zA-Z][a-zA-Z0-9+.-]*:(?:[A-Za-z0-9._~:/?#@!$&'()*+,;=-]|%[0-9A-Fa-f]{2})+",
}
