// Tensors backed by transparent huge pages (2 MiB). Decode streams the whole model's weights
// and, at large batches, reads KV rows scattered over the pool: with 4 KiB pages the first
// misses the TLB and restarts the hardware prefetcher every page, the second misses the TLB
// on nearly every row. Where the kernel allows THP only on request (``madvise``), the memory
// is allocated 2 MiB-aligned and advised before it is first touched.
#include <ATen/ATen.h>
#include "ops.h"
#include <sys/mman.h>
#include <cstdint>

namespace {
constexpr size_t kHuge = size_t(2) << 20;
}

// zeroed uint8 [nbytes] tensor in a fresh anonymous mapping: zero by definition, and its pages
// are only backed when first touched, so a large KV pool costs no memory or start-up time for
// the tokens it never holds. ``huge``: advised onto huge pages (where the kernel grants them).
at::Tensor mapped_zeros(int64_t nbytes, bool huge) {
  TORCH_CHECK(nbytes >= 0, "nbytes must be >= 0");
  if (nbytes == 0) return at::empty({0}, at::TensorOptions().dtype(at::kByte));
  const size_t size = (size_t(nbytes) + kHuge - 1) / kHuge * kHuge, len = size + kHuge;  // room to align
  void* base = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  TORCH_CHECK(base != MAP_FAILED, "out of memory mapping ", nbytes, " bytes");
  void* ptr = reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(base) + kHuge - 1) & ~(uintptr_t(kHuge) - 1));
#ifdef MADV_HUGEPAGE
  if (huge) madvise(ptr, size, MADV_HUGEPAGE);  // advisory: a refusal leaves ordinary pages
#endif
  return at::from_blob(ptr, {nbytes}, [base, len](void*) { munmap(base, len); }, at::TensorOptions().dtype(at::kByte));
}
