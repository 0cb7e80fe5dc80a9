"""LangChain's own standard tests (langchain-tests) on HybridRetriever, which outside users take as a retriever."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_tests.integration_tests import RetrieversIntegrationTests

from qa.config import Settings
from qa.embeddings import MiniLMEmbeddings
from qa.engine import Engine
from qa.retrieval import HybridRetriever

from .conftest import SEEDS


@pytest.fixture(scope="module")
def seeded_store(tmp_path_factory: pytest.TempPathFactory, embeddings: MiniLMEmbeddings) -> Iterator[Engine]:
    engine = Engine(Settings(data_dir=tmp_path_factory.mktemp("standard") / "data"), embeddings)
    assert engine.ingest([SEEDS]).failed == []
    yield engine


class TestHybridRetrieverStandard(RetrieversIntegrationTests):
    @pytest.fixture(autouse=True)
    def _engine(self, seeded_store: Engine) -> None:
        self.engine = seeded_store

    @property
    def retriever_constructor(self) -> type[HybridRetriever]:
        return HybridRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"store": self.engine.store, "catalog": self.engine.retriever.catalog}

    @property
    def retriever_query_example(self) -> str:
        return "How many Russians did NATO expel?"
