"""sglike.kernels: attention kernels and their plain reference twins (imports only torch,
triton and the standard library).

``sglike.kernels.attention`` holds the torch tensor math; ``sglike.kernels.triton`` the
Triton kernels over the KV pool (CUDA, or CPU under ``TRITON_INTERPRET=1``). The runtime's
attention backends (``sglike.runtime.attention``) adapt them to the KV pool and forward
batches.
"""
