// Thompson NFA construction over bytes from a serialized regular IR: the native twin of
// `ByteNfa.add` (grammar/regex/byte_nfa.py), producing the same states and edges in the same
// order. The program format is written by grammar/regex/nfa_program.py.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace sglike_grammar {

// A node of the program sits at an offset; children are referenced by their offsets:
//   LIT [0, n, byte...]                 CLS [1, nseq, (len, lo, hi, ... len pairs)...]
//   SEQ [2, n, child...]  ALT [3, n, child...]  REP [4, lo, hi (-1: unbounded), child]
enum NodeKind : int32_t { kLit = 0, kCls = 1, kSeq = 2, kAlt = 3, kRep = 4 };

struct NfaTooLarge : std::runtime_error {
  NfaTooLarge() : std::runtime_error("NFA over its state limit") {}
};

struct NfaEdges {
  std::vector<int32_t> e_src, e_lo, e_hi, e_dst, p_src, p_dst;
  int64_t num_states = 0;
  bool dead_ends = false;  // an empty class or alternation was added
};

// The edges grouped by source, insertion order kept within a source (ByteNfa.index_arrays):
// state q's byte edges are lo/hi/dst[e_start[q]:e_start[q + 1]], its epsilon targets
// eps[p_start[q]:p_start[q + 1]].
struct NfaIndex {
  std::vector<int32_t> e_start, lo, hi, dst, p_start, eps;
};

NfaIndex index_edges(const NfaEdges& e);

// Add the program's node `root` from state `src` to an NFA of `num_states` states: the new
// edges, the new state count, and the end state. Throws NfaTooLarge past `max_states`
// states (or 8x as many edges), std::out_of_range on a malformed program.
int32_t build_nfa(const int32_t* prog, int64_t size, int32_t root, int32_t src, int64_t num_states,
                  int64_t max_states, NfaEdges& out);

}  // namespace sglike_grammar
