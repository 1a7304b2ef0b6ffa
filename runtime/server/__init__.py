"""HTTP server: FastAPI app (OpenAI + SGLang-native APIs) in front of an engine process."""
