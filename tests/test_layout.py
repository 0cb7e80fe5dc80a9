"""The package's seams: a client of the HTTP API loads none of the engine's machinery, the answerers are one
table that every shell reads, and no module imports one that imports it back."""

from __future__ import annotations

import ast
import subprocess
import sys
from typing import get_args

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from qa import cli
from qa.answerers import ANSWERERS, AnswererName, by_model_id
from qa.api import create_app
from qa.config import LLMSettings, Settings
from qa.engine import Engine

from .conftest import ROOT


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
    settings = Settings(data_dir=engine.settings.data_dir, llm=LLMSettings(base_url="http://127.0.0.1:9/v1", model="m"))
    with TestClient(create_app(settings, engine)) as client:
        models = [model["id"] for model in client.get("/v1/models").json()["data"]]
    assert models[:2] == ["qa-extractive", "qa-llm"]  # qa-local only where the offline model is installed


def qa_imports() -> dict[str, set[str]]:
    """Each module of the package and the package modules it imports: at the top, lazily, or for type checking
    alike (any of them is a cycle to read through); importing a submodule imports its package too."""
    modules = {}
    for path in (ROOT / "qa").rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        modules[name] = path
    imports: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "qa":
                found |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                          for a in node.names}  # fmt: skip
            elif isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "qa"}
        packages = {".".join(m.split(".")[:i]) for m in found for i in range(2, m.count(".") + 1)}
        imports[name] = {m for m in found | packages if m in modules and m != name and not name.startswith(m + ".")}
    return imports


def test_no_module_imports_one_that_imports_it_back():
    imports = qa_imports()
    assert "qa.config" in imports["qa.chat_models"]  # the graph is read, lazy and typing-only imports included

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            module = todo.pop()
            if module == goal:
                return True
            if module not in seen:
                seen.add(module)
                todo += imports.get(module, set())
        return False

    cycles = sorted(f"{a} -> {b}" for a in imports for b in imports[a] if reaches(b, a))
    assert cycles == []
