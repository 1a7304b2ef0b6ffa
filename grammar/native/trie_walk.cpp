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

WalkResult walk_states(const Trie& trie, const std::vector<int64_t>& nodes, const std::vector<int64_t>& states,
                       int64_t dead, WalkTables t, const std::function<WalkTables(int64_t)>& refresh) {
  WalkResult out;
  out.ids.reserve(1024);
  const int32_t* depth = trie.depth.data();
  const int32_t* skip = trie.skip.data();
  const uint8_t* byte = trie.byte.data();
  const int32_t* token = trie.token.data();
  const int32_t* dup = trie.dup_start.data();
  const int32_t d_ = static_cast<int32_t>(dead);
  const int32_t max_span = trie.max_depth + 1;
  std::vector<int32_t> state_at(max_span);       // DFA state at each depth of the current path
  std::vector<const int32_t*> row_at(max_span);  // its row
  for (size_t j = 0; j < nodes.size(); ++j) {
    int32_t s = static_cast<int32_t>(states[j]);
    if (s < 0 || s == d_) continue;  // the dead sink offers nothing
    const int32_t i0 = trie.pre[nodes[j]], base = depth[i0], end = skip[i0];
    if (t.expanded != nullptr && !t.expanded[s]) t = refresh(s);
    state_at[0] = s;
    row_at[0] = t.table + static_cast<int64_t>(s) * 256;
    const bool* accept = t.accept;
    const bool* expanded = t.expanded;
    for (int32_t i = i0 + 1; i < end;) {
      const int32_t d = depth[i] - base;
      const int32_t x = row_at[d - 1][byte[i]];
      if (x == d_) {
        i = skip[i];
        continue;
      }
      const int32_t tok = token[i];
      if (tok >= 0) out.ids.push_back(tok);
      if (__builtin_expect(dup[i + 1] != dup[i], 0))
        for (int32_t k = dup[i]; k < dup[i + 1]; ++k) out.ids.push_back(trie.dup_ids[k]);
      if (skip[i] > i + 1) {  // children follow
        if (accept != nullptr && accept[x]) out.ends.push_back(trie.bfs[i]);
        state_at[d] = x;
        if (__builtin_expect(expanded != nullptr && !expanded[x], 0)) {
          t = refresh(x);  // the tables may have moved: re-read every row on the path
          accept = t.accept;
          expanded = t.expanded;
          for (int32_t e = 0; e < d; ++e) row_at[e] = t.table + static_cast<int64_t>(state_at[e]) * 256;
        }
        row_at[d] = t.table + static_cast<int64_t>(x) * 256;
      }
      ++i;
    }
  }
  std::sort(out.ends.begin(), out.ends.end());
  out.ends.erase(std::unique(out.ends.begin(), out.ends.end()), out.ends.end());
  return out;
}

}  // namespace sglike_grammar
