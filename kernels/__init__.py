"""sglike.kernels: attention kernels and their plain reference twins (imports only torch).

``sglike.kernels.attention`` holds the tensor math; the runtime's attention backends
(``sglike.runtime.attention``) adapt it to the KV pool and forward batches.
"""
