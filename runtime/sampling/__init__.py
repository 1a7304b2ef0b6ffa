"""Batched sampling: penalties, masks, temperature/top-k/top-p/min-p, seeds, logprobs."""
