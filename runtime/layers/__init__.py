"""Model building blocks: norms, rotary embeddings, fused linears."""
