"""sglike: a DSL for multi-call LLM programs and the runtime that serves them."""
