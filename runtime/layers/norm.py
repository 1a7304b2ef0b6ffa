"""RMSNorm computed in float32, like the reference implementation, optionally fused with the
residual add of a pre-norm decoder (``norm(x, residual)`` -> ``(norm(x + residual), x + residual)``).

float32 on CPU runs sglike's C++ kernel (one pass, no temporaries); ``rms_norm_reference``
is its plain twin and the path for other dtypes and devices.
"""
from __future__ import annotations

import torch

from sglike.kernels import cpu as cpu_ext


def rms_norm_reference(x: torch.Tensor, weight: torch.Tensor, eps: float, residual: torch.Tensor | None = None):
    if residual is not None:
        x = x + residual
    xf = x.float()
    xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)
    out = weight * xf.to(x.dtype)
    return out if residual is None else (out, x)


def _fused_ok(x: torch.Tensor, weight: torch.Tensor) -> bool:
    return cpu_ext.available() and x.dtype == torch.float32 and weight.dtype == torch.float32 and x.device.type == "cpu" and x.dim() == 2


class RMSNorm(torch.nn.Module):
    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor, residual: torch.Tensor | None = None):
        """norm(x); with ``residual``: (norm(x + residual), x + residual) — the sum may be
        written into ``residual``'s storage."""
        if not _fused_ok(x, self.weight):
            return rms_norm_reference(x, self.weight, self.eps, residual)
        if residual is None:
            return cpu_ext.rms_norm(x, self.weight, self.eps)
        if residual.dtype != torch.float32 or residual.stride(-1) != 1:
            return rms_norm_reference(x, self.weight, self.eps, residual)
        return cpu_ext.rms_norm(x, self.weight, self.eps, residual), residual
