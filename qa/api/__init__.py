"""The HTTP API: the engine behind FastAPI, an OpenAI-compatible chat endpoint, bearer-token auth, limits.

Run it with `qa serve`. The process keeps no state besides caches (the model, the BM25 catalogue, which follows
the store's revision), so several replicas can share one Chroma server (`QA_CHROMA_URL`).

Modules: app (create_app), routes (health, questions, articles), openai (models, chat completions), schemas,
deps (token, engine), errors, middleware (body and time limits, headers, rate limit).
"""

from qa.api.app import check_exposure, create_app

__all__ = ["check_exposure", "create_app"]
