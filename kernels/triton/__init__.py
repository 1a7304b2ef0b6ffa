"""Triton attention kernels over the token-level KV pool (the ``triton`` backend, CUDA).

Every kernel reads the pool through the request->slot table (``req_to_token[row, pos]`` is
the slot of position ``pos`` of the request in ``row``), so no K/V is gathered or copied.
Each has a torch kernel of ``sglike.kernels.attention`` as its reference twin, checked in
tests/kernels (on CPU under ``TRITON_INTERPRET=1``):

| kernel                          | what                                              | reference twin                       |
|---------------------------------|---------------------------------------------------|--------------------------------------|
| ``decode.decode_attention``     | split-KV decode (flash-decoding, LSE merge)       | ``attention.decode.decode_attention`` |
| ``cascade.cascade_decode``      | shared prefix attended once per group + suffixes  | ``attention.decode.decode_attention`` |
| ``extend.extend_attention``     | cached prefix from the pool + causal new tokens   | ``attention.extend.extend_attention`` |
| ``kv_store.store_kv``           | new tokens' K/V written to their slots            | ``KVPool.write`` (``index_copy_``)   |

``support.why_unavailable`` says why these kernels cannot run on a device (or None);
importing this package does not import triton.
"""
