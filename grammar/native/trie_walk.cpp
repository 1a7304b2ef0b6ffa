// Forward-scan trie walks over a preorder layout (see trie_walk.h).
#include "trie_walk.h"

#include <algorithm>
#include <utility>

namespace sglike_grammar {

Trie::Trie(const std::vector<int32_t>& child_lo, const std::vector<int32_t>& child_hi,
           const std::vector<uint8_t>& byte_bfs, const std::vector<int32_t>& token_bfs,
           const std::vector<int32_t>& dup_start_bfs, const std::vector<int64_t>& dup_ids_bfs) {
  const size_t n = child_lo.size();
  pre.assign(n, 0);
  bfs.reserve(n);
  depth.assign(n, 0);
  skip.assign(n, 0);
  std::vector<std::pair<int32_t, int32_t>> stack;  // (bfs node, depth)
  if (n) stack.emplace_back(0, 0);
  while (!stack.empty()) {
    auto [v, d] = stack.back();
    stack.pop_back();
    pre[v] = static_cast<int32_t>(bfs.size());
    depth[bfs.size()] = d;
    bfs.push_back(v);
    for (int32_t k = child_hi[v]; k-- > child_lo[v];) stack.emplace_back(k, d + 1);  // first child on top
  }
  // a subtree ends where the next position at its depth or above starts
  std::vector<int32_t> open;  // positions whose subtree is still open, by depth
  for (size_t i = 0; i < n; ++i) {
    while (!open.empty() && depth[open.back()] >= depth[i]) {
      skip[open.back()] = static_cast<int32_t>(i);
      open.pop_back();
    }
    open.push_back(static_cast<int32_t>(i));
  }
  for (int32_t i : open) skip[i] = static_cast<int32_t>(n);
  max_depth = n ? *std::max_element(depth.begin(), depth.end()) : 0;
  byte.resize(n);
  token.resize(n);
  dup_start.assign(n + 1, 0);
  for (size_t i = 0; i < n; ++i) {
    int32_t v = bfs[i];
    byte[i] = byte_bfs[v];
    token[i] = token_bfs[v];
    dup_start[i + 1] = dup_start[i] + (dup_start_bfs[v + 1] - dup_start_bfs[v]);
    dup_ids.insert(dup_ids.end(), dup_ids_bfs.begin() + dup_start_bfs[v], dup_ids_bfs.begin() + dup_start_bfs[v + 1]);
  }
}

namespace {

// One subtree scan from preorder position i0 in state s; appends to ids[n_ids...] (room for
// every token of the subtree) and ends. Branch-light: a node's state is stored for its depth
// whether or not children follow (a leaf's is overwritten before anything reads it); only
// dead bytes, unexpanded states and (with Accept) end nodes branch.
template <bool Accept>
int64_t scan(const Trie& trie, int32_t i0, int32_t s, int32_t dead, WalkTables& t,
             const Expander& expand, std::vector<int32_t>& state_at,
             std::vector<const int32_t*>& row_at, int32_t* ids, int64_t n_ids, std::vector<int64_t>& ends) {
  const int32_t* depth = trie.depth.data();
  const int32_t* skip = trie.skip.data();
  const uint8_t* byte = trie.byte.data();
  const int32_t* token = trie.token.data();
  const int32_t* dup = trie.dup_start.data();
  const int32_t base = depth[i0], end = skip[i0];
  int32_t* st = state_at.data();
  const int32_t** rows = row_at.data();
  const int32_t* table = t.table;
  const bool* expanded = t.expanded;
  st[0] = s;
  rows[0] = table + static_cast<int64_t>(s) * 256;
  for (int32_t i = i0 + 1; i < end;) {
    const int32_t d = depth[i] - base;
    const int32_t x = rows[d - 1][byte[i]];
    const int32_t next = skip[i];
    if (x == dead) {
      i = next;
      continue;
    }
    const int32_t tok = token[i];
    ids[n_ids] = tok;
    n_ids += tok >= 0;
    if (__builtin_expect(dup[i + 1] != dup[i], 0))
      for (int32_t k = dup[i]; k < dup[i + 1]; ++k) ids[n_ids++] = static_cast<int32_t>(trie.dup_ids[k]);
    const bool inner = next > i + 1;
    if (Accept && inner && t.accept[x]) ends.push_back(trie.bfs[i]);
    st[d] = x;
    if (__builtin_expect(inner && expanded != nullptr && !expanded[x], 0) && expand(x, t)) {
      table = t.table;  // the tables moved: re-read every row on the path
      expanded = t.expanded;
      for (int32_t e = 0; e < d; ++e) rows[e] = table + static_cast<int64_t>(st[e]) * 256;
    }
    rows[d] = table + static_cast<int64_t>(x) * 256;
    ++i;
  }
  return n_ids;
}

}  // namespace

WalkResult walk_states(const Trie& trie, const std::vector<int64_t>& nodes, const std::vector<int64_t>& states,
                       int64_t dead, WalkTables t, const Expander& expand) {
  WalkResult out;
  const int32_t d_ = static_cast<int32_t>(dead);
  std::vector<int32_t> state_at(trie.max_depth + 2);       // DFA state at each depth of the current path
  std::vector<const int32_t*> row_at(trie.max_depth + 2);  // its row
  thread_local std::vector<int32_t> scratch;               // room for every token of a subtree
  const size_t room = trie.size() + trie.dup_ids.size() + 1;
  if (scratch.size() < room) scratch.resize(room);
  for (size_t j = 0; j < nodes.size(); ++j) {
    int32_t s = static_cast<int32_t>(states[j]);
    if (s < 0 || s == d_) continue;  // the dead sink offers nothing
    if (t.expanded != nullptr && !t.expanded[s]) expand(s, t);
    const int32_t i0 = trie.pre[nodes[j]];
    int64_t n = t.accept != nullptr
                    ? scan<true>(trie, i0, s, d_, t, expand, state_at, row_at, scratch.data(), 0, out.ends)
                    : scan<false>(trie, i0, s, d_, t, expand, state_at, row_at, scratch.data(), 0, out.ends);
    out.ids.insert(out.ids.end(), scratch.begin(), scratch.begin() + n);
  }
  std::sort(out.ends.begin(), out.ends.end());
  out.ends.erase(std::unique(out.ends.begin(), out.ends.end()), out.ends.end());
  return out;
}

}  // namespace sglike_grammar
