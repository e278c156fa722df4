"""`rag api`: the engine as an HTTP service (FastAPI), REST and OpenAI-compatible, many clients at once."""
