"""Attention kernels in plain torch, each fast path beside its reference twin.

| fast path                          | reference twin                          |
|------------------------------------|-----------------------------------------|
| ``cascade.cascade_decode``         | ``decode.decode_attention``             |
| ``cascade_extend.grouped_extend``  | ``extend.extend_attention``             |
| ``causal.causal_attention``        | ``causal.causal_attention_reference``   |
| ``partial.partial_attention``      | ``partial.partial_attention_reference`` |

``cascade.plan_cascade`` and ``cascade_extend.plan_extend`` build the shared-prefix plans
(pure tensor/list code) the fast paths take.
"""
