// The regular IR's Python objects (grammar/regex/ir.py) -> the flat program nfa_build.h reads:
// the native twin of `nfa_program.program`, writing each distinct node object once.
#pragma once
#include <pybind11/pybind11.h>

#include <cstdint>
#include <vector>

namespace sglike_grammar {

// The IR classes (Lit, Cls, Seq, Alt, Rep, Regex), and the Python callables for what stays
// in Python: `parse(pattern)` -> IR (parse.py, cached) and `class_code(ranges)` -> the CLS
// node body as a tuple of ints (cached per class for the process).
struct IrKinds {
  pybind11::handle lit, cls, seq, alt, rep, regex;
  pybind11::object parse, class_code;
};

// Appends the program of `expr` to `prog`; returns its node's offset. Throws
// pybind11::type_error on a non-IR object, pybind11::value_error on a bound beyond int32.
int32_t ir_program(pybind11::handle expr, const IrKinds& kinds, std::vector<int32_t>& prog);

}  // namespace sglike_grammar
