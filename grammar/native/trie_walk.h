// Walks of the vocabulary's byte trie through a byte DFA: the native twin of
// `masks.token_trie.walk_states_py` (same tokens, same end nodes).
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "subsets.h"

namespace sglike_grammar {

// Bytes of JSON-string-like contents: printable ASCII but '"' and '\' (masks/plain_walk.py).
bool is_plain(uint8_t b);

// The trie of `masks.token_trie.TokenTrie` renumbered in depth-first preorder, so a walk is
// one forward scan that jumps over dead subtrees: per preorder position the depth, the edge
// byte, where its subtree ends (skip), the first position at or after it whose edge byte is
// not plain (plain_end), and its tokens (toks[tok_start[i] .. tok_start[i + 1]], several
// when tokens share their bytes); `pre` and `bfs` map the breadth-first node ids of the
// Python side to positions and back. By breadth-first id: each node's parent, and the nodes
// by edge byte (by_byte[by_byte_start[b] .. by_byte_start[b + 1]]), for frontiers of many
// nodes that only a few bytes can leave.
class Trie {
 public:
  // child ranges (breadth first: children of n are child_lo[n] .. child_hi[n] - 1), edge
  // bytes, tokens and duplicates (dup_ids of node n: dup_ids[dup_start[n] .. dup_start[n + 1]])
  Trie(const std::vector<int32_t>& child_lo, const std::vector<int32_t>& child_hi,
       const std::vector<uint8_t>& byte, const std::vector<int32_t>& token,
       const std::vector<int32_t>& dup_start, const std::vector<int64_t>& dup_ids);
  size_t size() const { return pre.size(); }

  std::vector<int32_t> pre, bfs, depth, skip, plain_end, tok_start, toks;
  std::vector<int32_t> parent, by_byte_start, by_byte;
  std::vector<uint8_t> byte;
  int32_t max_depth = 0;
};

// A walk table as the walk sees it: rows of next states (`dead` for none), which states are
// expanded (null: all) and which accept (null: no end nodes wanted); for a LazyDFA with a
// native SubsetBuilder also the tables it expands states into (refs.table null: none).
struct WalkTables {
  const int32_t* table = nullptr;
  const bool* expanded = nullptr;
  const bool* accept = nullptr;
  TableRefs refs{};
  int64_t rows = 0;  // rows of the table (states + the dead sink)
};

// How a walk expands a state it steps from: in place through the builder when it has one
// and the tables have room, else by `refresh(s)` (which expands s and returns the tables
// again: they may have moved).
struct Expander {
  SubsetBuilder* builder = nullptr;
  int64_t max_states = 0;
  std::function<WalkTables(int64_t)> refresh;
  // Expands s; returns whether the tables moved (rows read before must be read again).
  bool operator()(int32_t s, WalkTables& t) const {
    if (builder != nullptr && t.refs.table != nullptr && builder->expand(s, t.refs, max_states) >= 0) return false;
    t = refresh(s);
    return true;
  }
};

struct WalkResult {
  std::vector<int64_t> ids;   // tokens whose bytes keep the DFA alive (may repeat for nested starts)
  std::vector<int64_t> ends;  // sorted unique nodes (breadth-first ids) with children where the DFA accepts
};

// The states after 0, 1, 2, ... plain bytes from `state` while every state on the way sends
// all plain bytes to one state (at most lmax + 1 of them, ending before the dead state; a
// state that loops to itself fills the rest); empty when some state does not (the twin of
// masks/plain_walk.py's Python loop).
std::vector<int64_t> plain_chain(int32_t state, int32_t lmax, int64_t dead, WalkTables t, const Expander& expand);

// Whether `state` is plain-safe: the states reachable from it over plain bytes (listed in
// `seen`, `state` first) never send a plain byte to `dead` nor accept (where `t.accept` is
// set) and are at most `limit`; on false `seen` holds the states searched (the twin of
// masks/plain_closure.py's Python search).
bool plain_closure(int32_t state, int64_t limit, int64_t dead, WalkTables t, const Expander& expand,
                   std::vector<int64_t>& seen);
// Walks the tokens strictly below each node `nodes[i]` (breadth-first ids), from DFA state
// `states[i]`, expanding the states it steps from with `expand`. With `mask` (one flag per
// token id) the tokens are set there instead of listed in the result's ids.
WalkResult walk_states(const Trie& trie, const std::vector<int64_t>& nodes, const std::vector<int64_t>& states,
                       int64_t dead, WalkTables t, const Expander& expand, bool* mask = nullptr,
                       int64_t mask_size = 0);

}  // namespace sglike_grammar
