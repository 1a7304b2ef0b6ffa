"""Tensor parallelism over torch.distributed (issue #16).

``comm`` (the rank's place and the model's collectives), ``sharding`` (which slice of each
weight a rank holds, valid sizes), ``group`` (process-group setup: gloo on CPU, NCCL on
CUDA, plus a gloo group for the batch), ``batch_sync`` (rank 0 broadcasts each forward's
batch), ``launch`` (rank processes started with torch.multiprocessing), ``worker`` (the
loop of ranks > 0, and ``run_node`` for the ranks of a node > 0).

This ``__init__`` imports nothing: ``layers/`` imports ``comm`` while ``worker`` imports
the model runner, so a package-level import would close a circle.
"""
