// Tensors backed by transparent huge pages (2 MiB). Decode streams the whole model's weights
// and, at large batches, reads KV rows scattered over the pool: with 4 KiB pages the first
// misses the TLB and restarts the hardware prefetcher every page, the second misses the TLB
// on nearly every row. Where the kernel allows THP only on request (``madvise``), the memory
// is allocated 2 MiB-aligned and advised before it is first touched.
#include <ATen/ATen.h>
#include "ops.h"
#include <sys/mman.h>
#include <cstdlib>
#include <cstring>

namespace {
constexpr size_t kHuge = size_t(2) << 20;
}

// zeroed uint8 [nbytes] tensor; huge pages where the kernel grants them (else plain pages)
at::Tensor huge_page_zeros(int64_t nbytes) {
  TORCH_CHECK(nbytes >= 0, "nbytes must be >= 0");
  const size_t size = (size_t(nbytes) + kHuge - 1) / kHuge * kHuge;
  void* ptr = size ? std::aligned_alloc(kHuge, size) : nullptr;
  TORCH_CHECK(size == 0 || ptr != nullptr, "out of memory allocating ", nbytes, " bytes");
#ifdef MADV_HUGEPAGE
  if (ptr) madvise(ptr, size, MADV_HUGEPAGE);  // advisory: a refusal leaves ordinary pages
#endif
  if (ptr) std::memset(ptr, 0, size);  // first touch, after the advice
  return at::from_blob(ptr, {nbytes}, [](void* p) { std::free(p); }, at::TensorOptions().dtype(at::kByte));
}
