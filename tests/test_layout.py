"""The package's seams: a client of the HTTP API loads none of the engine's machinery, and the answerers are one
table that every shell reads."""

from __future__ import annotations

import subprocess
import sys
from typing import get_args

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from qa import cli
from qa.answerers import ANSWERERS, AnswererName, by_model_id
from qa.api import create_app
from qa.config import Settings
from qa.engine import Engine


def test_the_http_client_imports_without_the_engine_machinery():
    heavy = ("chromadb", "langchain_core", "numpy", "onnxruntime", "torch")
    probe = f"import sys, qa.client; print(' '.join(m for m in {heavy!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == []


def test_every_shell_lists_the_answerers_of_the_one_table(engine: Engine):
    assert tuple(ANSWERERS) == get_args(AnswererName)
    refused = CliRunner().invoke(cli.app, ["ask", "Who?", "--engine", "nope"])
    flat = " ".join(refused.output.replace("│", " ").split())  # rich draws the error in a box
    assert refused.exit_code == 2 and "'nope' is not one of 'extractive', 'llm', 'local'" in flat
    assert [by_model_id(spec.model_id) for spec in ANSWERERS.values()] == list(ANSWERERS)
    settings = Settings(data_dir=engine.settings.data_dir, llm_base_url="http://127.0.0.1:9/v1", llm_model="m")
    with TestClient(create_app(settings, engine)) as client:
        models = [model["id"] for model in client.get("/v1/models").json()["data"]]
    assert models[:2] == ["qa-extractive", "qa-llm"]  # qa-local only where the offline model is installed
