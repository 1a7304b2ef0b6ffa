"""The AVX512-VNNI GEMM's weight layout (``vnni_gemm.cpp``): 16 output rows interleaved per
32-weight block, scales (and int4 mins, int8 row sums) inside each block's record.

``pack`` builds it from canonical weights (int4 ``q`` in 0..15 with ``scale``/``min``, or
int8 ``q`` with ``scale``, one scale per 32 weights); ``unpack`` is its inverse. The scales
must be exact in fp16, as GGUF stores them (Q4_0/Q4_1/Q8_0), so the kernel computes exactly
the file's weights.
"""
from __future__ import annotations

import torch

BLOCK, ROWS = 32, 16
RECORD = {True: 320, False: 576}  # bytes per (16 rows, 32 weights): int4, int8


def fp16_exact(t: torch.Tensor) -> bool:
    return bool(torch.equal(t.float().half().float(), t.float()))


def packable(q: torch.Tensor, scale: torch.Tensor, mn: torch.Tensor | None = None) -> bool:
    """Whether ``pack`` keeps these weights exactly (32-blocks, fp16-exact scales and mins)."""
    n, k = q.shape
    return k % BLOCK == 0 and scale.shape == (n, k // BLOCK) and fp16_exact(scale) and (mn is None or fp16_exact(mn))


def _pad_rows(t: torch.Tensor, groups: int) -> torch.Tensor:
    pad = groups * ROWS - t.shape[0]
    return torch.cat([t, t.new_zeros(pad, *t.shape[1:])]) if pad else t


def _halves(t: torch.Tensor, groups: int, nb: int) -> torch.Tensor:
    """[N, nb] float -> [G, nb, 32] uint8: the fp16 values of a block's 16 rows."""
    h = _pad_rows(t.float(), groups).half().reshape(groups, ROWS, nb).permute(0, 2, 1).contiguous()
    return h.view(torch.uint8)


def pack(q: torch.Tensor, scale: torch.Tensor, mn: torch.Tensor | None) -> torch.Tensor:
    """int4 (``mn`` given; q uint8 0..15) or int8 (``mn`` None; q int8) -> uint8 [G, K/32, REC]."""
    if not packable(q, scale, mn):
        raise ValueError("the VNNI layout takes 32-weight blocks with fp16-exact scales and mins")
    n, k = q.shape
    groups, nb = (n + ROWS - 1) // ROWS, k // BLOCK
    if mn is not None:
        u = _pad_rows(q.to(torch.uint8), groups).reshape(groups, ROWS, nb, 4, 2, 4)  # [G, r, b, c, half, t]
        w = (u[..., 0, :] | (u[..., 1, :] << 4)).permute(0, 2, 3, 1, 4).reshape(groups, nb, 256)
        tail = [_halves(scale, groups, nb), _halves(mn, groups, nb)]
    else:
        qp = _pad_rows(q.to(torch.int8), groups).reshape(groups, ROWS, nb, 8, 4)  # [G, r, b, j, t]
        w = qp.permute(0, 2, 3, 1, 4).reshape(groups, nb, 512).view(torch.uint8)
        sums = qp.sum((3, 4), dtype=torch.int16).permute(0, 2, 1).contiguous().view(torch.uint8)  # [G, nb, 16] int16 -> 32 bytes
        tail = [_halves(scale, groups, nb), sums]
    return torch.cat([w, *tail], dim=-1).contiguous()


def unpack(packed: torch.Tensor, n: int, q4: bool) -> tuple[torch.Tensor, ...]:
    """Inverse of ``pack``: (q, scale, min) for int4, (q, scale) for int8."""
    groups, nb, _ = packed.shape

    def rows(t: torch.Tensor) -> torch.Tensor:  # [G, nb, 32] uint8 -> [N, nb] float
        return t.contiguous().view(torch.float16).permute(0, 2, 1).reshape(groups * ROWS, nb)[:n].float()

    if q4:
        w = packed[..., :256].reshape(groups, nb, 4, ROWS, 4)  # [G, b, c, r, t]
        q = torch.stack([w & 0x0F, w >> 4], dim=3)  # [G, b, c, half, r, t]
        q = q.permute(0, 4, 1, 2, 3, 5).reshape(groups * ROWS, nb * BLOCK)[:n]
        return q.contiguous(), rows(packed[..., 256:288]), rows(packed[..., 288:320])
    w = packed[..., :512].contiguous().view(torch.int8).reshape(groups, nb, 8, ROWS, 4).permute(0, 3, 1, 2, 4)
    return w.reshape(groups * ROWS, nb * BLOCK)[:n].contiguous(), rows(packed[..., 512:544])
