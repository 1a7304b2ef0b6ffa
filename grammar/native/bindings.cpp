// Python bindings of sglike's native grammar helpers (subsets.cpp, trie_walk.cpp, nfa_build.cpp, ir_program.cpp): the
// `sglike.grammar.native._native` module. Arrays come in as numpy; tables are written in place.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <stdexcept>
#include <string>

#include "ir_program.h"
#include "nfa_build.h"
#include "subsets.h"
#include "trie_walk.h"

namespace py = pybind11;
using namespace sglike_grammar;

namespace {

template <typename T>
T* data_of(py::array& a, const char* name, int64_t min_size) {
  if (!py::isinstance<py::array_t<T>>(a) || !(a.flags() & py::array::c_style))
    throw std::invalid_argument(std::string(name) + ": wrong dtype or not contiguous");
  if (a.size() < min_size) throw std::invalid_argument(std::string(name) + ": too small");
  return static_cast<T*>(a.mutable_data());
}

// The LazyDFA `Tables` tuple (table, flat, accepting, expanded, n_out, forced).
TableRefs table_refs(py::tuple t) {
  py::array table = t[0], flat = t[1], acc = t[2], exp = t[3], n_out = t[4], forced = t[5];
  int64_t rows = table.ndim() == 2 && table.shape(1) == 256 ? table.shape(0) : 0;
  if (rows < 1) throw std::invalid_argument("table: expected int32 [cap + 1, 256]");
  return {data_of<int32_t>(table, "table", rows * 256), flat.size() ? data_of<int32_t>(flat, "flat", rows * 256) : nullptr,
          data_of<bool>(acc, "accepting", rows), data_of<bool>(exp, "expanded", rows),
          data_of<int32_t>(n_out, "n_out", rows), data_of<int32_t>(forced, "forced", rows), rows - 1};
}

// (table, expanded or None, accept or None, LazyDFA Tables or None) of a walk table; the
// arrays are kept alive in `keep`.
WalkTables walk_tables(py::tuple v, py::list& keep) {
  keep.append(v);
  WalkTables w;
  py::array table = v[0];
  if (table.ndim() != 2 || table.shape(1) != 256) throw std::invalid_argument("table: expected int32 [S, 256]");
  w.table = data_of<int32_t>(table, "table", 256);
  if (!v[1].is_none()) {
    py::array e = v[1];
    w.expanded = data_of<bool>(e, "expanded", table.shape(0));
  }
  if (!v[2].is_none()) {
    py::array a = v[2];
    w.accept = data_of<bool>(a, "accept", table.shape(0));
  }
  if (v.size() > 3 && !v[3].is_none()) w.refs = table_refs(v[3]);
  w.rows = table.shape(0);
  return w;
}

template <typename T>
using Arr = py::array_t<T, py::array::c_style | py::array::forcecast>;

template <typename T>
std::vector<T> vec(const Arr<T>& a) {
  return std::vector<T>(a.data(), a.data() + a.size());
}

template <typename T>
py::array_t<T> to_array(std::vector<T>&& v) {
  auto* heap = new std::vector<T>(std::move(v));
  py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>({static_cast<py::ssize_t>(heap->size())}, {sizeof(T)}, heap->data(), owner);
}

IrKinds ir_kinds(py::tuple kinds) {
  if (kinds.size() != 8) throw std::invalid_argument("kinds: (Lit, Cls, Seq, Alt, Rep, Regex, parse, class_code)");
  return {kinds[0], kinds[1], kinds[2], kinds[3], kinds[4], kinds[5], kinds[6], kinds[7]};
}

// build_nfa's result tuple, or None past the state limit; with `grouped` (an NFA without
// edges before), the edges grouped by source (index_edges) as a tenth item
py::object run_build(const int32_t* prog, int64_t size, int32_t root, int32_t src, int64_t num_states, int64_t max_states,
                     bool grouped = false) {
  NfaEdges e;
  NfaIndex x;
  int32_t end;
  try {
    py::gil_scoped_release nogil;
    end = build_nfa(prog, size, root, src, num_states, max_states, e);
    if (grouped) x = index_edges(e);
  } catch (const NfaTooLarge&) {
    return py::none();
  }
  py::object index = py::none();
  if (grouped)
    index = py::make_tuple(to_array(std::move(x.e_start)), to_array(std::move(x.lo)), to_array(std::move(x.hi)),
                           to_array(std::move(x.dst)), to_array(std::move(x.p_start)), to_array(std::move(x.eps)));
  return py::make_tuple(end, e.num_states, e.dead_ends, to_array(std::move(e.e_src)), to_array(std::move(e.e_lo)),
                        to_array(std::move(e.e_hi)), to_array(std::move(e.e_dst)), to_array(std::move(e.p_src)),
                        to_array(std::move(e.p_dst)), index);
}

// plain_chain / plain_closure from `state` over a walk table (expanding states through
// `builder` or `refresh`, as a walk does): their states as an array, None for an empty result
template <typename F>
py::object plain_states(const char* what, int32_t state, py::tuple tables, py::object refresh, SubsetBuilder* builder,
                        int64_t max_states, F run) {
  py::list keep;
  WalkTables t = walk_tables(tables, keep);
  if (state < 0 || state >= t.rows) throw std::out_of_range(std::string(what) + ": no such DFA state");
  Expander expand;
  expand.builder = builder;
  expand.max_states = max_states;
  expand.refresh = [&](int64_t s) { return walk_tables(refresh(s), keep); };
  std::vector<int64_t> f = run(t, expand);
  if (f.empty()) return py::none();
  return to_array(std::move(f));
}

}  // namespace

PYBIND11_MODULE(_native, m) {
  m.doc() = "sglike grammar helpers: one-state subset construction and depth-first trie walks";

  py::class_<SubsetBuilder>(m, "SubsetBuilder", "subset construction of a LazyDFA's states")
      .def(py::init([](Arr<int32_t> e_start, Arr<int32_t> lo,
                       Arr<int32_t> hi, Arr<int32_t> dst,
                       Arr<int32_t> p_start, Arr<int32_t> eps,
                       Arr<uint8_t> live, Arr<int32_t> class_of,
                       int32_t final_state) {
             if (class_of.size() != 256) throw std::invalid_argument("class_of: expected 256 entries");
             return new SubsetBuilder(vec(e_start), vec(lo), vec(hi), vec(dst), vec(p_start), vec(eps), vec(live),
                                      vec(class_of), final_state);
           }),
           py::arg("e_start"), py::arg("lo"), py::arg("hi"), py::arg("dst"), py::arg("p_start"), py::arg("eps"),
           py::arg("live"), py::arg("class_of"), py::arg("final"))
      .def("add_start", [](SubsetBuilder& b, int32_t start, py::tuple t) { return b.add_start(start, table_refs(t)); },
           py::arg("start"), py::arg("tables"), "add state 0 (the start's closure); whether it is non-empty")
      .def("expand", [](SubsetBuilder& b, int32_t s, py::tuple t, int64_t max_states) {
             if (s < 0 || s >= b.num_states()) throw std::out_of_range("expand: no such state");
             return b.expand(s, table_refs(t), max_states);
           },
           py::arg("state"), py::arg("tables"), py::arg("max_states"),
           "expand a state in place: states after it, -1 (tables too small), -2 (over max_states)")
      .def_property_readonly("num_states", &SubsetBuilder::num_states)
      .def_property_readonly("num_expanded", &SubsetBuilder::num_expanded);

  py::class_<Trie>(m, "Trie", "the token trie's arrays for walks")
      .def(py::init([](Arr<int32_t> child_lo, Arr<int32_t> child_hi,
                       Arr<uint8_t> byte, Arr<int32_t> token,
                       Arr<int32_t> dup_start, Arr<int64_t> dup_ids) {
             auto lo = vec(child_lo), hi = vec(child_hi), tok = vec(token), ds = vec(dup_start);
             auto by = vec(byte);
             auto di = vec(dup_ids);
             size_t n = lo.size();
             if (hi.size() != n || tok.size() != n || by.size() != n || ds.size() != n + 1 || (n && ds[n] != static_cast<int32_t>(di.size())))
               throw std::invalid_argument("Trie: arrays of different lengths");
             return new Trie(lo, hi, by, tok, ds, di);
           }),
           py::arg("child_lo"), py::arg("child_hi"), py::arg("byte"), py::arg("token"), py::arg("dup_start"), py::arg("dup_ids"));

  m.def("walk_states", [](const Trie& trie, Arr<int64_t> nodes,
                          Arr<int64_t> states, int64_t dead, py::tuple tables, py::object refresh,
                          SubsetBuilder* builder, int64_t max_states, py::object mask) {
          if (nodes.size() != states.size()) throw std::invalid_argument("walk_states: nodes and states differ in length");
          int64_t num = static_cast<int64_t>(trie.size());
          auto nv = vec(nodes), sv = vec(states);
          for (int64_t n : nv)
            if (n < 0 || n >= num) throw std::out_of_range("walk_states: no such trie node");
          py::list keep;
          WalkTables t = walk_tables(tables, keep);
          for (int64_t s : sv)
            if (s != dead && (s < 0 || s >= t.rows)) throw std::out_of_range("walk_states: no such DFA state");
          Expander expand;
          expand.builder = builder;
          expand.max_states = max_states;
          expand.refresh = [&](int64_t s) {
            if (refresh.is_none()) throw std::logic_error("walk_states: an unexpanded state and no refresh");
            return walk_tables(refresh(s), keep);
          };
          bool* out = nullptr;
          int64_t size = 0;
          if (!mask.is_none()) {
            py::array m = mask;
            out = data_of<bool>(m, "mask", 0);
            size = m.size();
          }
          WalkResult r = walk_states(trie, nv, sv, dead, t, expand, out, size);
          return py::make_tuple(to_array(std::move(r.ids)), to_array(std::move(r.ends)));
        },
        py::arg("trie"), py::arg("nodes"), py::arg("states"), py::arg("dead"), py::arg("tables"), py::arg("refresh"),
        py::arg("builder") = nullptr, py::arg("max_states") = 0, py::arg("mask") = py::none(),
        "(token ids, sorted end nodes) of the walk below each node from its state (with `mask`, a bool "
        "array by token id: the tokens set there, no ids); states are expanded "
        "in place by `builder` (under the caller's lock) or by `refresh(s)` -> tables");

  m.def("plain_chain", [](int32_t state, int32_t lmax, int64_t dead, py::tuple tables, py::object refresh,
                          SubsetBuilder* builder, int64_t max_states) {
          return plain_states("plain_chain", state, tables, refresh, builder, max_states,
                              [&](WalkTables t, const Expander& e) { return plain_chain(state, lmax, dead, t, e); });
        },
        py::arg("state"), py::arg("lmax"), py::arg("dead"), py::arg("tables"), py::arg("refresh"),
        py::arg("builder") = nullptr, py::arg("max_states") = 0,
        "the states along plain bytes from `state` (see trie_walk.h), or None when one is not uniform");

  m.def("plain_closure", [](int32_t state, int64_t limit, int64_t dead, py::tuple tables, py::object refresh,
                            SubsetBuilder* builder, int64_t max_states) {
          bool safe = false;
          std::vector<int64_t> seen;
          py::object out = plain_states("plain_closure", state, tables, refresh, builder, max_states,
                                        [&](WalkTables t, const Expander& e) {
                                          safe = plain_closure(state, limit, dead, t, e, seen);
                                          return std::move(seen);
                                        });
          return py::make_tuple(safe, out);
        },
        py::arg("state"), py::arg("limit"), py::arg("dead"), py::arg("tables"), py::arg("refresh"),
        py::arg("builder") = nullptr, py::arg("max_states") = 0,
        "(plain-safe, the states searched) from `state` (see trie_walk.h)");

  m.def("build_nfa", [](Arr<int32_t> prog, int32_t root, int32_t src, int64_t num_states, int64_t max_states) {
          return run_build(prog.data(), prog.size(), root, src, num_states, max_states);
        },
        py::arg("prog"), py::arg("root"), py::arg("src"), py::arg("num_states"), py::arg("max_states"),
        "(end, num_states, dead_ends, new e_src, e_lo, e_hi, e_dst, p_src, p_dst as int32 arrays, None) of adding the "
        "program's node `root` from `src` (nfa_build.h), or None past `max_states`");

  m.def("ir_program", [](py::handle expr, py::tuple kinds) {
          std::vector<int32_t> prog;
          const int32_t root = ir_program(expr, ir_kinds(kinds), prog);
          return py::make_tuple(to_array(std::move(prog)), root);
        },
        py::arg("expr"), py::arg("kinds"), "(int32 program, root offset) of an IR expression (ir_program.h)");

  m.def("build_nfa_ir", [](py::handle expr, py::tuple kinds, int32_t src, int64_t num_states, int64_t max_states,
                           bool grouped) {
          std::vector<int32_t> prog;
          const int32_t root = ir_program(expr, ir_kinds(kinds), prog);
          return run_build(prog.data(), static_cast<int64_t>(prog.size()), root, src, num_states, max_states, grouped);
        },
        py::arg("expr"), py::arg("kinds"), py::arg("src"), py::arg("num_states"), py::arg("max_states"),
        py::arg("grouped") = false,
        "build_nfa over ir_program(expr, kinds), without the program's round trip through numpy; with `grouped` "
        "(only for an NFA without edges so far) also (e_start, lo, hi, dst, p_start, eps) grouped by source");
}
