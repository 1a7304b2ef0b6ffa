// Forward-scan trie walks over a preorder layout (see trie_walk.h).
#include "trie_walk.h"

#include <algorithm>
#include <cstring>
#include <unordered_set>
#include <utility>

namespace sglike_grammar {

bool is_plain(uint8_t b) { return b >= 0x20 && b < 0x7f && b != '"' && b != '\\'; }

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
  tok_start.assign(n + 1, 0);
  for (size_t i = 0; i < n; ++i) {
    int32_t v = bfs[i];
    byte[i] = i ? byte_bfs[v] : 0;  // the root has no edge (and counts as not plain)
    if (token_bfs[v] >= 0) toks.push_back(token_bfs[v]);
    for (int32_t k = dup_start_bfs[v]; k < dup_start_bfs[v + 1]; ++k) toks.push_back(static_cast<int32_t>(dup_ids_bfs[k]));
    tok_start[i + 1] = static_cast<int32_t>(toks.size());
  }
  toks.push_back(-1);  // read (not kept) past the last token by the branch-free emit
  parent.assign(n, 0);
  by_byte_start.assign(257, 0);
  for (size_t v = 0; v < n; ++v)
    for (int32_t k = child_lo[v]; k < child_hi[v]; ++k) parent[k] = static_cast<int32_t>(v);
  for (size_t v = 1; v < n; ++v) ++by_byte_start[byte_bfs[v] + 1];
  for (int b = 0; b < 256; ++b) by_byte_start[b + 1] += by_byte_start[b];
  by_byte.assign(n ? n - 1 : 0, 0);
  std::vector<int32_t> fill(by_byte_start.begin(), by_byte_start.end() - 1);
  for (size_t v = 1; v < n; ++v) by_byte[fill[byte_bfs[v]]++] = static_cast<int32_t>(v);
  plain_end.assign(n + 1, static_cast<int32_t>(n));
  for (size_t i = n; i-- > 0;) plain_end[i] = is_plain(byte[i]) ? plain_end[i + 1] : static_cast<int32_t>(i);
}

namespace {

constexpr int32_t LOOP_MIN = 16;  // subtrees above this size in a plain-loop state take the loop scan

// One walk's state: the DFA state and row at each depth of the current path (absolute trie
// depths), the token buffer and the end nodes.
template <bool Accept>
class Walker {
 public:
  Walker(const Trie& trie, int32_t dead, WalkTables& t, const Expander& expand, int32_t* ids,
         std::vector<int64_t>& ends)
      : trie_(trie), dead_(dead), t_(t), expand_(expand), ids_(ids), ends_(ends),
        st_(trie.max_depth + 2, 0), rows_(trie.max_depth + 2, nullptr) {}

  int64_t n_ids() const { return n_; }
  void clear_ids() { n_ = 0; }

  // Position i, reached in the live state x from its parent: its tokens, then below it.
  void step_into(int32_t i, int32_t x) {
    emit(i);
    if (trie_.skip[i] > i + 1) {
      end_node(i, x);
      if (t_.expanded != nullptr && !t_.expanded[x]) expand_(x, t_);
      subtree(i, x);
    }
  }

  // Tokens strictly below position i0 in state s (an expanded state).
  void subtree(int32_t i0, int32_t s) {
    base_ = trie_.depth[i0];
    st_[base_] = s;
    rows_[base_] = row(s);
    dispatch(i0, s);
  }

 private:
  const int32_t* row(int32_t s) const { return t_.table + static_cast<int64_t>(s) * 256; }

  void dispatch(int32_t i0, int32_t s) {
    if (trie_.skip[i0] - i0 > LOOP_MIN && plain_loop(s))
      loop_scan(i0, s);
    else
      scan(i0, s);
  }

  // Expand x (reached at depth d); when the tables move, re-read the rows of the path above.
  void ensure(int32_t x, int32_t d) {
    if (t_.expanded == nullptr || t_.expanded[x]) return;
    if (expand_(x, t_)) {
      ++moves_;
      for (int32_t e = base_; e < d; ++e) rows_[e] = row(st_[e]);
    }
  }

  // Whether the (expanded) state sends every plain byte back to itself.
  bool plain_loop(int32_t s) {
    if (static_cast<size_t>(s) >= loop_.size()) loop_.resize(s + 64, -1);
    if (loop_[s] < 0) {
      const int32_t* r = row(s);
      bool all = true;
      for (int b = 0x20; b < 0x7f && all; ++b) all = !is_plain(static_cast<uint8_t>(b)) || r[b] == s;
      loop_[s] = all;
    }
    return loop_[s] != 0;
  }

  void emit(int32_t i) {
    const int32_t* toks = trie_.toks.data();
    int32_t a = trie_.tok_start[i], b = trie_.tok_start[i + 1];
    ids_[n_] = toks[a];
    n_ += b > a;
    for (++a; a < b; ++a) ids_[n_++] = toks[a];
  }

  void end_node(int32_t i, int32_t x) {
    if (Accept && t_.accept[x]) ends_.push_back(trie_.bfs[i]);
  }

  // The subtree of i0 (state s) position by position, skipping dead subtrees.
  void scan(int32_t i0, int32_t s) {
    const int32_t* depth = trie_.depth.data();
    const int32_t* skip = trie_.skip.data();
    const uint8_t* byte = trie_.byte.data();
    const int32_t end = skip[i0];
    st_[depth[i0]] = s;
    rows_[depth[i0]] = row(s);
    for (int32_t i = i0 + 1; i < end;) {
      const int32_t d = depth[i];
      const int32_t x = rows_[d - 1][byte[i]];
      const int32_t next = skip[i];
      if (x == dead_) {
        i = next;
        continue;
      }
      emit(i);
      const bool inner = next > i + 1;
      if (inner) end_node(i, x);
      st_[d] = x;  // also for a leaf: overwritten before anything reads it
      if (__builtin_expect(inner && t_.expanded != nullptr && !t_.expanded[x], 0)) ensure(x, d);
      rows_[d] = row(x);
      if (next - i > LOOP_MIN && plain_loop(x)) {
        uint64_t moves = moves_;
        loop_scan(i, x);
        if (moves != moves_)
          for (int32_t e = base_; e < d; ++e) rows_[e] = row(st_[e]);
        i = next;
        continue;
      }
      ++i;
    }
  }

  // The subtree of v in a plain-loop state x: every node reached from v by plain bytes only
  // is alive in state x, so runs of such positions are copied out whole; a node whose edge
  // byte is not plain steps from x and its subtree is scanned on its own.
  void loop_scan(int32_t v, int32_t x) {
    const int32_t* depth = trie_.depth.data();
    const int32_t* skip = trie_.skip.data();
    const int32_t* plain_end = trie_.plain_end.data();
    const int32_t* tok_start = trie_.tok_start.data();
    const uint8_t* byte = trie_.byte.data();
    const int32_t end = skip[v], dv = depth[v];
    const bool ends = Accept && t_.accept[x];
    for (int32_t i = v + 1; i < end;) {
      const int32_t r = std::min(plain_end[i], end);
      if (r > i) {  // a run of plain positions, all in the plain closure of v
        int32_t a = tok_start[i], b = tok_start[r];
        std::memcpy(ids_ + n_, trie_.toks.data() + a, static_cast<size_t>(b - a) * sizeof(int32_t));
        n_ += b - a;
        if (ends)
          for (int32_t j = i; j < r; ++j)
            if (skip[j] > j + 1) ends_.push_back(trie_.bfs[j]);
        i = r;
        continue;
      }
      const int32_t y = row(x)[byte[i]];  // the parent is in the plain closure: state x
      const int32_t next = skip[i];
      if (y == dead_) {
        i = next;
        continue;
      }
      emit(i);
      if (next > i + 1) {
        end_node(i, y);
        const int32_t d = depth[i];
        for (int32_t e = dv + 1; e < d; ++e) {  // the plain path down to i's parent
          st_[e] = x;
          rows_[e] = row(x);
        }
        st_[d] = y;
        ensure(y, d);
        rows_[d] = row(y);
        dispatch(i, y);
      }
      i = next;
    }
  }

  const Trie& trie_;
  const int32_t dead_;
  WalkTables& t_;
  const Expander& expand_;
  int32_t* ids_;
  int64_t n_ = 0;
  std::vector<int64_t>& ends_;
  std::vector<int32_t> st_;
  std::vector<const int32_t*> rows_;
  std::vector<int8_t> loop_;
  int32_t base_ = 0;
  uint64_t moves_ = 0;
};

// The walk's tokens into the result's ids, or set in the mask.
struct Sink {
  WalkResult& out;
  bool* mask;
  int64_t size;
  void take(const int32_t* ids, int64_t n) {
    if (mask == nullptr) {
      out.ids.insert(out.ids.end(), ids, ids + n);
      return;
    }
    for (int64_t k = 0; k < n; ++k)
      if (ids[k] < size) mask[ids[k]] = true;
  }
};

constexpr size_t INDEX_MIN = 64;  // frontiers of at least this many nodes may step by the byte index

// A frontier of many nodes in one state s that only a few bytes leave: the children with
// those bytes are found in the byte index (their parent marked in the frontier) instead of
// scanning every node's children. Returns false (nothing done) where that would not pay.
template <bool Accept>
bool walk_by_byte(const Trie& trie, const std::vector<int64_t>& nodes, int32_t s, WalkTables& t,
                  int32_t dead, Walker<Accept>& w, Sink& sink, int32_t* scratch) {
  int32_t row[256];
  std::copy(t.table + static_cast<int64_t>(s) * 256, t.table + static_cast<int64_t>(s) * 256 + 256, row);
  size_t work = 0;
  for (int b = 0; b < 256; ++b)
    if (row[b] != dead) work += trie.by_byte_start[b + 1] - trie.by_byte_start[b];
  if (work > 2 * nodes.size()) return false;
  thread_local std::vector<uint8_t> mark;
  if (mark.size() < trie.size()) mark.assign(trie.size(), 0);
  for (int64_t v : nodes) mark[v] = 1;
  for (int b = 0; b < 256; ++b) {
    if (row[b] == dead) continue;
    for (int32_t k = trie.by_byte_start[b]; k < trie.by_byte_start[b + 1]; ++k) {
      int32_t c = trie.by_byte[k];
      if (!mark[trie.parent[c]]) continue;
      w.step_into(trie.pre[c], row[b]);
      if (w.n_ids() > static_cast<int64_t>(trie.toks.size())) {  // keep room for one more whole trie
        sink.take(scratch, w.n_ids());
        w.clear_ids();
      }
    }
  }
  for (int64_t v : nodes) mark[v] = 0;
  return true;
}

template <bool Accept>
void walk_all(const Trie& trie, const std::vector<int64_t>& nodes, const std::vector<int64_t>& states, int32_t dead,
              WalkTables& t, const Expander& expand, int32_t* scratch, WalkResult& out, Sink& sink) {
  Walker<Accept> w(trie, dead, t, expand, scratch, out.ends);
  if (nodes.size() >= INDEX_MIN && std::all_of(states.begin(), states.end(), [&](int64_t x) { return x == states[0]; })) {
    int32_t s = static_cast<int32_t>(states[0]);
    if (s < 0 || s == dead) return;
    if (t.expanded != nullptr && !t.expanded[s]) expand(s, t);
    if (walk_by_byte(trie, nodes, s, t, dead, w, sink, scratch)) {
      sink.take(scratch, w.n_ids());
      return;
    }
  }
  for (size_t j = 0; j < nodes.size(); ++j) {
    int32_t s = static_cast<int32_t>(states[j]);
    if (s < 0 || s == dead) continue;  // the dead sink offers nothing
    if (t.expanded != nullptr && !t.expanded[s]) expand(s, t);
    w.subtree(trie.pre[nodes[j]], s);
    if (w.n_ids() > static_cast<int64_t>(trie.toks.size())) {  // keep room for one more whole trie
      sink.take(scratch, w.n_ids());
      w.clear_ids();
    }
  }
  sink.take(scratch, w.n_ids());
}

}  // namespace

std::vector<int64_t> plain_chain(int32_t state, int32_t lmax, int64_t dead, WalkTables t, const Expander& expand) {
  std::vector<int64_t> f{state};
  int32_t s = state;
  while (f.size() <= static_cast<size_t>(lmax)) {
    if (t.expanded != nullptr && !t.expanded[s]) expand(s, t);
    const int32_t* r = t.table + static_cast<int64_t>(s) * 256;
    const int32_t v = r[0x20];
    for (int b = 0x21; b < 0x7f; ++b)
      if (is_plain(static_cast<uint8_t>(b)) && r[b] != v) return {};
    if (v == dead) break;
    if (v == s) {  // a loop: the same state all the way down
      f.resize(lmax + 1, s);
      break;
    }
    f.push_back(v);
    s = v;
  }
  return f;
}

bool plain_closure(int32_t state, int64_t limit, int64_t dead, WalkTables t, const Expander& expand,
                   std::vector<int64_t>& seen) {
  seen.assign(1, state);  // also the queue: seen[next..] are still to search
  std::unordered_set<int32_t> known{state};
  for (size_t next = 0; next < seen.size(); ++next) {
    const int32_t s = static_cast<int32_t>(seen[next]);
    if (t.expanded != nullptr && !t.expanded[s]) expand(s, t);
    if (t.accept != nullptr && t.accept[s]) return false;
    const int32_t* r = t.table + static_cast<int64_t>(s) * 256;
    int32_t last = s;  // runs of bytes to one state are common: look each run up once
    for (int b = 0x20; b < 0x7f; ++b) {
      const int32_t v = r[b];
      if (v == last || !is_plain(static_cast<uint8_t>(b))) continue;
      if (v == dead) return false;
      last = v;
      if (!known.insert(v).second) continue;
      if (static_cast<int64_t>(seen.size()) >= limit) return false;
      seen.push_back(v);
    }
  }
  return true;
}

namespace {

// Sorted unique node ids below n: by sorting when few, by marking when many (a walk's end
// nodes come in preorder; tens of thousands of them sorted cost ~1 ms, marked ~0.1 ms).
void sort_unique(std::vector<int64_t>& v, size_t n) {
  if (v.size() <= 1024) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    return;
  }
  std::vector<uint8_t> mark(n, 0);
  for (int64_t x : v) mark[x] = 1;
  v.clear();
  for (size_t x = 0; x < n; ++x)
    if (mark[x]) v.push_back(static_cast<int64_t>(x));
}

}  // namespace

WalkResult walk_states(const Trie& trie, const std::vector<int64_t>& nodes, const std::vector<int64_t>& states,
                       int64_t dead, WalkTables t, const Expander& expand, bool* mask, int64_t mask_size) {
  WalkResult out;
  Sink sink{out, mask, mask_size};
  thread_local std::vector<int32_t> scratch;  // room for the tokens of two whole tries
  if (scratch.size() < 2 * trie.toks.size() + 2) scratch.resize(2 * trie.toks.size() + 2);
  if (t.accept != nullptr)
    walk_all<true>(trie, nodes, states, static_cast<int32_t>(dead), t, expand, scratch.data(), out, sink);
  else
    walk_all<false>(trie, nodes, states, static_cast<int32_t>(dead), t, expand, scratch.data(), out, sink);
  sort_unique(out.ends, trie.size());
  return out;
}

}  // namespace sglike_grammar
