// The regular IR's Python objects -> a flat int program (see ir_program.h and nfa_build.h).
#include "ir_program.h"

#include <limits>
#include <unordered_map>

#include "nfa_build.h"

namespace py = pybind11;

namespace sglike_grammar {
namespace {

int32_t bound(py::handle v) {
  const int64_t x = v.cast<int64_t>();
  if (x < 0 || x > std::numeric_limits<int32_t>::max()) throw py::value_error("grammar too large (a repeat bound beyond 2**31)");
  return static_cast<int32_t>(x);
}

class Emitter {
 public:
  Emitter(const IrKinds& k, std::vector<int32_t>& prog) : k_(k), prog_(prog) {}

  int32_t emit(py::handle e) {
    auto hit = at_.find(e.ptr());
    if (hit != at_.end()) return hit->second;
    const py::handle type = py::handle(reinterpret_cast<PyObject*>(Py_TYPE(e.ptr())));
    int32_t off;
    if (type.is(k_.regex)) {
      py::object parsed = k_.parse(e.attr("pattern"));
      keep_.append(parsed);  // its nodes stay alive (and their addresses unique) while we run
      off = emit(parsed);
    } else if (type.is(k_.seq) || type.is(k_.alt)) {
      py::tuple items = e.attr("items");
      std::vector<int32_t> kids;
      kids.reserve(items.size());
      for (py::handle item : items) kids.push_back(emit(item));
      off = here();
      prog_.push_back(type.is(k_.seq) ? kSeq : kAlt);
      prog_.push_back(static_cast<int32_t>(kids.size()));
      prog_.insert(prog_.end(), kids.begin(), kids.end());
    } else if (type.is(k_.rep)) {
      const int32_t kid = emit(e.attr("item"));
      const int32_t lo = bound(e.attr("lo"));
      py::object hi = e.attr("hi");
      off = here();
      prog_.insert(prog_.end(), {kRep, lo, hi.is_none() ? -1 : bound(hi), kid});
    } else if (type.is(k_.lit)) {
      py::bytes data = e.attr("data");
      char* buf;
      Py_ssize_t n;
      if (PyBytes_AsStringAndSize(data.ptr(), &buf, &n) != 0) throw py::error_already_set();
      off = here();
      prog_.push_back(kLit);
      prog_.push_back(static_cast<int32_t>(n));
      for (Py_ssize_t i = 0; i < n; ++i) prog_.push_back(static_cast<uint8_t>(buf[i]));
    } else if (type.is(k_.cls)) {
      py::tuple code = k_.class_code(e.attr("ranges"));
      off = here();
      for (py::handle v : code) prog_.push_back(v.cast<int32_t>());
    } else {
      throw py::type_error("not a regular expression: " + py::repr(e).cast<std::string>().substr(0, 200));
    }
    at_[e.ptr()] = off;
    return off;
  }

 private:
  int32_t here() const { return static_cast<int32_t>(prog_.size()); }

  const IrKinds& k_;
  std::vector<int32_t>& prog_;
  std::unordered_map<PyObject*, int32_t> at_;
  py::list keep_;
};

}  // namespace

int32_t ir_program(py::handle expr, const IrKinds& kinds, std::vector<int32_t>& prog) {
  Emitter em(kinds, prog);
  return em.emit(expr);
}

}  // namespace sglike_grammar
