// Subset construction over a flat byte NFA, one DFA state at a time: the native twin of
// `LazyDFA._expand` (grammar/regex/lazy_dfa.py), producing the same states in the same order.
#pragma once
#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace sglike_grammar {

using Set = std::vector<int32_t>;  // sorted NFA states

struct SetHash {
  size_t operator()(const Set& v) const noexcept;
};

// Where an expansion writes: the LazyDFA's numpy tables (capacity rows + the dead sink row).
struct TableRefs {
  int32_t* table;      // [cap + 1, 256]
  int32_t* flat;       // [(cap + 1) * 256], or null (not kept)
  bool* accepting;     // [cap + 1]
  bool* expanded;      // [cap + 1]
  int32_t* n_out;      // [cap + 1]
  int32_t* forced;     // [cap + 1]
  int64_t cap;
};

class SubsetBuilder {
 public:
  // The NFA grouped by source (ByteNfa.index), `live` per state (empty: all live), byte
  // classes [256], the final state.
  SubsetBuilder(std::vector<int32_t> e_start, std::vector<int32_t> lo, std::vector<int32_t> hi,
                std::vector<int32_t> dst, std::vector<int32_t> p_start, std::vector<int32_t> eps,
                std::vector<uint8_t> live, std::vector<int32_t> class_of, int32_t final_state);

  // Adds the start state (the closure of `start`); returns whether it is non-empty.
  bool add_start(int32_t start, const TableRefs& t);
  // Expands state `s` into the tables (nothing to do when it is expanded already). Returns the number of states after it, -1 when the
  // tables are too small for the new states (nothing written: grow and call again), -2 when
  // they would pass `max_states` (nothing written).
  int64_t expand(int32_t s, const TableRefs& t, int64_t max_states);
  int64_t num_states() const { return static_cast<int64_t>(sets_.size()); }
  int64_t num_expanded() const { return num_expanded_; }

 private:
  struct Seg {
    int32_t a, b, cid;  // classes [a, b) go to closure cid
  };
  int32_t closure(int32_t q);                  // id of the live important closure of q
  const std::vector<Seg>& segments(int32_t q);  // memoized byte edges of q
  int64_t add(const Set& subset, const TableRefs& t);

  std::vector<int32_t> e_start_, lo_, hi_, dst_, p_start_, eps_;
  std::vector<uint8_t> live_;
  std::vector<int32_t> class_of_;
  int32_t final_, n_classes_;
  int64_t num_expanded_ = 0;
  std::vector<int32_t> closure_of_;          // NFA state -> closure id (-1: not yet)
  std::vector<Set> closures_;                 // closure id -> states
  std::vector<std::vector<Seg>> segs_;
  std::vector<uint8_t> seg_done_;
  std::unordered_map<Set, int32_t, SetHash> index_;  // subset -> DFA state
  std::vector<const Set*> sets_;                        // DFA state -> its subset (keys of index_)
  std::vector<std::vector<int32_t>> by_class_;          // scratch: closure ids per class
  std::vector<uint32_t> stamp_;                         // scratch: closure walk marks
  uint32_t gen_ = 0;
};

}  // namespace sglike_grammar
