"""KV memory: slot allocator, per-layer KV buffers, request->slot table, prefix caches."""
