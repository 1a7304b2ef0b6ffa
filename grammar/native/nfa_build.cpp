// Thompson NFA construction from a serialized regular IR (see nfa_build.h). Mirrors the plain
// path of ByteNfa (every repeat copy built, no replay), which gives the same NFA edge for edge.
#include "nfa_build.h"

#include <string>
#include <unordered_map>

namespace sglike_grammar {
namespace {

class Builder {
 public:
  Builder(const int32_t* prog, int64_t size, int64_t max_states, NfaEdges& out)
      : prog_(prog), size_(size), max_states_(max_states), out_(out) {}

  int32_t add(int32_t node, int32_t src) {
    switch (at(node)) {
      case kLit: {
        const int32_t n = at(node + 1);
        for (int32_t i = 0; i < n; ++i) {
          const int32_t b = at(node + 2 + i), dst = fresh();
          edge(src, b, b, dst);
          src = dst;
        }
        return src;
      }
      case kCls:
        return ranges(node, src);
      case kSeq: {
        const int32_t n = at(node + 1);
        for (int32_t i = 0; i < n; ++i) src = add(child(node + 2 + i, node), src);
        return src;
      }
      case kAlt: {
        const int32_t n = at(node + 1);
        out_.dead_ends |= n == 0;
        const int32_t end = fresh();
        for (int32_t i = 0; i < n; ++i) {
          const int32_t start = fresh();
          eps(src, start);
          eps(add(child(node + 2 + i, node), start), end);
        }
        return end;
      }
      case kRep: {
        const int32_t lo = at(node + 1), hi = at(node + 2), item = child(node + 3, node);
        if (lo < 0 || hi < -1 || (hi >= 0 && hi < lo)) throw std::out_of_range("nfa program: bad repeat bounds");
        src = copies(item, src, lo, -1);
        if (hi < 0) {
          const int32_t loop = fresh();
          eps(src, loop);
          eps(add(item, loop), loop);
          return loop;
        }
        const int32_t end = fresh();
        src = copies(item, src, hi - lo, end);
        eps(src, end);
        return end;
      }
      default:
        throw std::out_of_range("nfa program: unknown node kind at " + std::to_string(node));
    }
  }

 private:
  int32_t at(int64_t i) const {
    if (i < 0 || i >= size_) throw std::out_of_range("nfa program: read past its end");
    return prog_[i];
  }
  // a child's offset: before its parent (the program is written children first)
  int32_t child(int64_t i, int32_t parent) const {
    const int32_t c = at(i);
    if (c < 0 || c >= parent) throw std::out_of_range("nfa program: a child must precede its parent");
    return c;
  }
  int32_t fresh() {
    if (out_.num_states >= max_states_) throw NfaTooLarge();
    return static_cast<int32_t>(out_.num_states++);
  }
  void room() {
    if (static_cast<int64_t>(out_.e_src.size() + out_.p_src.size()) >= 8 * max_states_) throw NfaTooLarge();
  }
  void edge(int32_t q, int32_t lo, int32_t hi, int32_t t) {
    room();
    out_.e_src.push_back(q), out_.e_lo.push_back(lo), out_.e_hi.push_back(hi), out_.e_dst.push_back(t);
  }
  void eps(int32_t q, int32_t t) {
    room();
    out_.p_src.push_back(q), out_.p_dst.push_back(t);
  }

  int32_t copies(int32_t item, int32_t src, int32_t count, int32_t skip) {
    for (int32_t i = 0; i < count; ++i) {
      if (skip >= 0) eps(src, skip);
      src = add(item, src);
    }
    return src;
  }

  // One character: each UTF-8 byte-range sequence from `src`; sequences with equal tails
  // share the tail's states (keyed by the tail's ranges: at most 3 pairs after the first).
  int32_t ranges(int32_t node, int32_t src) {
    const int32_t nseq = at(node + 1);
    out_.dead_ends |= nseq == 0;
    const int32_t end = fresh();
    tails_.clear();
    int64_t p = node + 2;
    for (int32_t s = 0; s < nseq; ++s) {
      const int32_t len = at(p);
      if (len < 1 || len > 4) throw std::out_of_range("nfa program: a UTF-8 sequence has 1..4 ranges");
      const int32_t t = tail(p + 3, len - 1, end);
      edge(src, at(p + 1), at(p + 2), t);
      p += 1 + 2 * len;
    }
    return end;
  }

  int32_t tail(int64_t p, int32_t len, int32_t end) {
    if (len == 0) return end;
    uint64_t key = static_cast<uint64_t>(len);
    for (int32_t i = 0; i < 2 * len; ++i) key = key << 8 | static_cast<uint8_t>(at(p + i));
    auto it = tails_.find(key);
    if (it != tails_.end()) return it->second;
    const int32_t node = fresh();
    const int32_t t = tail(p + 2, len - 1, end);
    edge(node, at(p), at(p + 1), t);
    tails_[key] = node;
    return node;
  }

  const int32_t* prog_;
  int64_t size_, max_states_;
  NfaEdges& out_;
  std::unordered_map<uint64_t, int32_t> tails_;
};

}  // namespace

namespace {

// a stable counting sort of `src` (states < n): start offsets [n + 1] and the edges' order
std::vector<int32_t> group(int64_t n, const std::vector<int32_t>& src, std::vector<int32_t>& start) {
  start.assign(n + 1, 0);
  for (int32_t q : src) ++start[q + 1];
  for (int64_t q = 0; q < n; ++q) start[q + 1] += start[q];
  std::vector<int32_t> next(start.begin(), start.end() - 1), order(src.size());
  for (size_t i = 0; i < src.size(); ++i) order[next[src[i]]++] = static_cast<int32_t>(i);
  return order;
}

}  // namespace

NfaIndex index_edges(const NfaEdges& e) {
  NfaIndex x;
  const std::vector<int32_t> eo = group(e.num_states, e.e_src, x.e_start), po = group(e.num_states, e.p_src, x.p_start);
  x.lo.reserve(eo.size()), x.hi.reserve(eo.size()), x.dst.reserve(eo.size()), x.eps.reserve(po.size());
  for (int32_t i : eo) x.lo.push_back(e.e_lo[i]), x.hi.push_back(e.e_hi[i]), x.dst.push_back(e.e_dst[i]);
  for (int32_t i : po) x.eps.push_back(e.p_dst[i]);
  return x;
}

int32_t build_nfa(const int32_t* prog, int64_t size, int32_t root, int32_t src, int64_t num_states,
                  int64_t max_states, NfaEdges& out) {
  if (src < 0 || src >= num_states) throw std::out_of_range("build_nfa: no such source state");
  out.num_states = num_states;
  Builder b(prog, size, max_states, out);
  return b.add(root, src);
}

}  // namespace sglike_grammar
