"""Schemathesis fuzzing of the API's OpenAPI schema: whatever the request, never a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from qa.api import create_app
from qa.config import ApiSettings, Settings
from qa.embeddings import MiniLMEmbeddings
from qa.engine import Engine

from .conftest import SEEDS

TOKEN = "fuzz-token-0123456789"


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory, embeddings: MiniLMEmbeddings) -> schemathesis.BaseSchema:
    engine = Engine(Settings(data_dir=tmp_path_factory.mktemp("fuzz"), api=ApiSettings(token=TOKEN)), embeddings)
    engine.ingest([SEEDS])
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(engine.settings, engine))


def test_no_request_gets_a_server_error(api_schema: schemathesis.BaseSchema) -> None:
    # schemathesis' own pytest plugin does not run under this pytest; its hypothesis strategies do.
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 12
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def no_server_error(case: schemathesis.Case) -> None:
            for headers in ({"Authorization": f"Bearer {TOKEN}"}, {}):
                response = case.call(headers=headers)
                assert response.status_code < 500, (case.method, case.path, response.text[:500])
                if not headers and case.path.startswith("/v1"):
                    assert response.status_code == 401, (case.path, case.path_parameters)

        no_server_error()
