"""The HTTP API: the engine behind FastAPI, an OpenAI-compatible chat endpoint, bearer-token auth, limits.

Run it with `qa serve`. The process keeps no state besides caches (the model, the BM25 catalogue, which follows
the store's revision), so several replicas can share one Chroma server (`QA_CHROMA_URL`); each polls the followed
feeds in the background, taking only those due (qa.poller).

Modules: app (create_app, logging), routes (health, metrics, questions, articles, feeds), openai (models, chat
completions), schemas, deps (tokens, engine), errors, middleware (request log, body and time limits, headers, rate
limit).
"""

from qa.api.app import check_exposure, create_app, log_config

__all__ = ["check_exposure", "create_app", "log_config"]
