// Subset construction one DFA state at a time (see subsets.h).
#include "subsets.h"

#include <algorithm>

namespace sglike_grammar {

size_t SetHash::operator()(const Set& v) const noexcept {
  uint64_t h = 1469598103934665603ull ^ v.size();
  for (int32_t x : v) {
    h ^= static_cast<uint32_t>(x);
    h *= 1099511628211ull;
  }
  return static_cast<size_t>(h ^ (h >> 29));
}

SubsetBuilder::SubsetBuilder(std::vector<int32_t> e_start, std::vector<int32_t> lo, std::vector<int32_t> hi,
                             std::vector<int32_t> dst, std::vector<int32_t> p_start, std::vector<int32_t> eps,
                             std::vector<uint8_t> live, std::vector<int32_t> class_of, int32_t final_state)
    : e_start_(std::move(e_start)), lo_(std::move(lo)), hi_(std::move(hi)), dst_(std::move(dst)),
      p_start_(std::move(p_start)), eps_(std::move(eps)), live_(std::move(live)),
      class_of_(std::move(class_of)), final_(final_state) {
  n_classes_ = class_of_.empty() ? 0 : class_of_.back() + 1;
  size_t n = e_start_.empty() ? 0 : e_start_.size() - 1;
  closure_of_.assign(n, -1);
  stamp_.assign(n, 0u);
  segs_.resize(n);
  seg_done_.assign(n, 0);
  by_class_.resize(n_classes_);
}

int32_t SubsetBuilder::closure(int32_t s) {
  if (closure_of_[s] >= 0) return closure_of_[s];
  // epsilon closure keeping the "important" states (byte edges, or the final), live only
  if (++gen_ == 0) {  // stamps wrapped: clear them
    std::fill(stamp_.begin(), stamp_.end(), 0u);
    gen_ = 1;
  }
  std::vector<int32_t> todo{s}, out;
  stamp_[s] = gen_;
  while (!todo.empty()) {
    int32_t q = todo.back();
    todo.pop_back();
    if ((e_start_[q + 1] > e_start_[q] || q == final_) && (live_.empty() || live_[q])) out.push_back(q);
    for (int32_t i = p_start_[q]; i < p_start_[q + 1]; ++i) {
      int32_t t = eps_[i];
      if (stamp_[t] != gen_) {
        stamp_[t] = gen_;
        todo.push_back(t);
      }
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  closures_.push_back(std::move(out));
  return closure_of_[s] = static_cast<int32_t>(closures_.size() - 1);
}

const std::vector<SubsetBuilder::Seg>& SubsetBuilder::segments(int32_t q) {
  if (!seg_done_[q]) {
    std::vector<Seg> segs;
    for (int32_t e = e_start_[q]; e < e_start_[q + 1]; ++e) {
      int32_t cid = closure(dst_[e]);
      if (!closures_[cid].empty()) segs.push_back({class_of_[lo_[e]], class_of_[hi_[e]] + 1, cid});
    }
    segs_[q] = std::move(segs);
    seg_done_[q] = 1;
  }
  return segs_[q];
}

int64_t SubsetBuilder::add(const Set& subset, const TableRefs& t) {
  int64_t n = num_states();
  auto it = index_.emplace(subset, static_cast<int32_t>(n)).first;
  sets_.push_back(&it->first);  // keys of an unordered_map keep their address
  t.accepting[n] = std::binary_search(subset.begin(), subset.end(), final_);
  return n;
}

bool SubsetBuilder::add_start(int32_t start, const TableRefs& t) {
  const Set& init = closures_[closure(start)];
  add(init, t);
  return !init.empty();
}

int64_t SubsetBuilder::expand(int32_t s, const TableRefs& t, int64_t max_states) {
  if (t.expanded[s]) return num_states();
  for (auto& v : by_class_) v.clear();
  for (int32_t q : *sets_[s])
    for (const Seg& g : segments(q))
      for (int32_t c = g.a; c < g.b; ++c) by_class_[c].push_back(g.cid);
  // per class: the union of its covering closures; runs of classes with equal covers share it
  std::vector<Set> targets;          // distinct non-empty targets, in class order
  std::vector<int32_t> target_of(n_classes_, -1);
  Set merged;
  for (int32_t c = 0; c < n_classes_; ++c) {
    auto& ids = by_class_[c];
    if (ids.empty()) continue;
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    if (c > 0 && target_of[c - 1] >= 0 && ids == by_class_[c - 1]) {
      target_of[c] = target_of[c - 1];
      continue;
    }
    if (ids.size() == 1) {
      merged = closures_[ids[0]];
    } else {
      merged.clear();
      for (int32_t id : ids) merged.insert(merged.end(), closures_[id].begin(), closures_[id].end());
      std::sort(merged.begin(), merged.end());
      merged.erase(std::unique(merged.begin(), merged.end()), merged.end());
    }
    auto f = std::find(targets.begin(), targets.end(), merged);
    if (f == targets.end()) {
      targets.push_back(merged);
      target_of[c] = static_cast<int32_t>(targets.size() - 1);
    } else {
      target_of[c] = static_cast<int32_t>(f - targets.begin());
    }
  }
  // DFA ids of the targets: new subsets numbered in class order (as the Python sweep does)
  int64_t n = num_states(), fresh = 0;
  for (const Set& x : targets) fresh += index_.find(x) == index_.end();
  if (n + fresh > max_states) return -2;
  if (n + fresh > t.cap) return -1;
  std::vector<int32_t> id_of(targets.size());
  for (size_t i = 0; i < targets.size(); ++i) {
    auto f = index_.find(targets[i]);
    id_of[i] = f == index_.end() ? static_cast<int32_t>(add(targets[i], t)) : f->second;
  }
  int32_t* row = t.table + static_cast<int64_t>(s) * 256;
  int32_t* flat = t.flat == nullptr ? nullptr : t.flat + static_cast<int64_t>(s) * 256;
  int32_t live = 0, forced = -1;
  for (int b = 0; b < 256; ++b) {
    int32_t k = target_of[class_of_[b]];
    int32_t v = k < 0 ? -1 : id_of[k];
    row[b] = v;
    if (flat != nullptr) flat[b] = v * 256;
    if (v >= 0) {
      ++live;
      forced = b;
    }
  }
  t.n_out[s] = live;
  t.forced[s] = live == 1 ? forced : -1;
  t.expanded[s] = true;
  ++num_expanded_;
  return num_states();
}

}  // namespace sglike_grammar
