"""Grammars shared by the CFG tests: each sglike grammar with an independent lark reference.

`CASES[name] = (grammar text given to compile_cfg, equivalent Lark grammar for lark's Earley)`.
"""
from __future__ import annotations

import lark
import pytest

LARK_JSON = r"""
start: value
?value: dict | list | ESCAPED_STRING | SIGNED_NUMBER | "true" | "false" | "null"
list : "[" [value ("," value)*] "]"
dict : "{" [pair ("," pair)*] "}"
pair : ESCAPED_STRING ":" value
%import common.ESCAPED_STRING
%import common.SIGNED_NUMBER
%import common.WS
%ignore WS
"""

GBNF_JSON = r"""
# JSON in llama.cpp's GBNF dialect
root   ::= ws value
value  ::= object | array | string | number | ("true" | "false" | "null") ws
object ::= "{" ws ( string ":" ws value ("," ws string ":" ws value)* )? "}" ws
array  ::= "[" ws ( value ("," ws value)* )? "]" ws
string ::= "\"" ( [^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4}) )* "\"" ws
number ::= "-"? ([1-9] [0-9]* | [0-9]) ("." [0-9]+)? ([eE] [-+]? [0-9]+)? ws
ws     ::= [ \t\n\r]*
"""

LARK_OF_GBNF_JSON = r"""
start: ws value
?value: object | array | STRING ws | NUMBER ws | ("true" | "false" | "null") ws
object: "{" ws [pair ("," ws pair)*] "}" ws
pair: STRING ws ":" ws value
array: "[" ws [value ("," ws value)*] "]" ws
ws: WSC*
WSC: /[ \t\n\r]/
STRING: /"(?:[^"\\\x00-\x1f\x7f]|\\(?:["\\\/bfnrt]|u[0-9a-fA-F]{4}))*"/
NUMBER: /-?(?:[1-9][0-9]*|[0-9])(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?/
"""

LARK_ARITH = r"""
?start: sum
?sum: product | sum "+" product | sum "-" product
?product: atom | product "*" atom | product "/" atom
?atom: NUMBER | "-" atom | NAME | "(" sum ")"
NUMBER: /[0-9]+(\.[0-9]+)?/
NAME: /[a-z_][a-z0-9_]*/
%ignore " "
"""

GBNF_ARITH = r"""
root    ::= ws sum
sum     ::= product | sum "+" ws product | sum "-" ws product   # left recursive
product ::= atom | product [*/] ws atom
atom    ::= number ws | "-" ws atom | name ws | "(" ws sum ")" ws
number  ::= [0-9]+ ("." [0-9]+)?
name    ::= [a-z_] [a-z0-9_]*
ws      ::= " "*
"""

LARK_SQL = r"""
start: "SELECT"i cols "FROM"i NAME [where] [";"]
cols: "*" | NAME ("," NAME)*
where: "WHERE"i cond
?cond: cmp | cond "AND"i cmp | cond "OR"i cmp | "(" cond ")"
cmp: NAME OP value
OP: "=" | "!=" | "<" | ">" | "<=" | ">="
value: NUMBER | STRING | NAME
NAME: /[a-z_][a-z0-9_]*/
NUMBER: /[0-9]+/
STRING: /'[^']*'/
%import common.WS
%ignore WS
"""

GBNF_SQL = r"""
root  ::= ws select
select ::= [sS][eE][lL][eE][cC][tT] ws cols [fF][rR][oO][mM] ws name where? (";" ws)?
cols  ::= "*" ws | name ("," ws name)*
where ::= [wW][hH][eE][rR][eE] ws cond
cond  ::= cmp | cond [aA][nN][dD] ws cmp | cond [oO][rR] ws cmp | "(" ws cond ")" ws
cmp   ::= name op ws value
op    ::= "=" | "!=" | "<" | ">" | "<=" | ">="
value ::= [0-9]+ ws | "'" [^']* "'" ws | name
name  ::= [a-z_] [a-z0-9_]* ws
ws    ::= [ \t\n\r\f]*
"""

CASES = {
    "lark_json": (LARK_JSON, LARK_JSON),
    "gbnf_json": (GBNF_JSON, LARK_OF_GBNF_JSON),
    "lark_arith": (LARK_ARITH, LARK_ARITH),
    "gbnf_arith": (GBNF_ARITH, LARK_ARITH),
    "lark_sql": (LARK_SQL, LARK_SQL),
    "gbnf_sql": (GBNF_SQL, LARK_SQL),
}

ALPHABETS = {
    "json": ' \t\n{}[]",:0123456789.-+eEtrufalsn\\/xé',
    "arith": " +-*/()0123456789.abxyz_",
    "sql": " \t*,;()=!<>'selctfromwhandSELCTFROMWHAND_xyz0123456789",
}


def alphabet(case: str) -> str:
    return ALPHABETS[case.split("_")[1]]


def reference(case: str) -> lark.Lark:
    """lark's Earley parser with the complete dynamic lexer (terminals match at any length)."""
    return lark.Lark(CASES[case][1], parser="earley", lexer="dynamic_complete")


def lark_accepts(ref: lark.Lark, text: str) -> bool:
    try:
        ref.parse(text)
        return True
    except lark.exceptions.LarkError:
        return False


@pytest.mark.parametrize("case", sorted(CASES))
def test_reference_grammars_load(case):
    assert lark_accepts(reference(case), {"json": '{"a": [1, -2.5e3, "x"]}', "arith": "1 + 2*(x-3)",
                                          "sql": "SELECT a, b FROM t WHERE a = 1"}[case.split("_")[1]])
