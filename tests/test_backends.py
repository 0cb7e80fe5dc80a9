"""The embedding backend chosen for the CPU: which are tried, the rule that picks one, the cache, forcing one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qa import backends
from qa.backends import BackendProbe, Machine, ProbeReport, candidates, choose, load_embeddings, this_machine
from qa.cli import app
from qa.config import Settings
from qa.embeddings import BACKENDS, OnnxFloat32MiniLM
from qa.errors import EmbeddingModelError


def machine(flags: list[str], torch: str | None = "2.13.0") -> Machine:
    return Machine(cpu="Some CPU", flags=flags, cores=2, onnxruntime="1.32.0", torch=torch, identity="x" * 16)


def test_bfloat16_is_tried_only_where_the_cpu_multiplies_in_it():
    onnx = ["onnx-int8", "onnx-fp32"]
    assert candidates(machine(["avx2", "avx512_vnni"])) == [*onnx, "sentence-transformers"]
    assert candidates(machine(["avx2", "amx_bf16"])) == [*onnx, "torch-bf16", "sentence-transformers"]
    assert candidates(machine(["avx512_bf16"])) == [*onnx, "torch-bf16", "sentence-transformers"]
    assert candidates(machine(["amx_bf16"], torch=None)) == [*onnx, "sentence-transformers"]
    assert set(candidates(machine(["amx_bf16"]))) == set(BACKENDS)


def test_the_fastest_backend_within_the_bound_is_chosen():
    def measured(backend: str, seconds: float, min_cosine: float, mean_cosine: float = 0.995) -> BackendProbe:
        return BackendProbe(backend=backend, seconds=seconds, min_cosine=min_cosine, mean_cosine=mean_cosine)

    probes = [
        measured("sentence-transformers", 4.0, 1.0, 1.0),
        measured("torch-bf16", 0.5, 0.96),  # fastest, but too far from the reference
        measured("onnx-int8", 0.8, 0.9893, 0.985),  # close in the worst case, not on average
        measured("onnx-fp32", 1.7, 0.9991),
    ]
    assert choose(probes) == "onnx-fp32"
    assert choose([BackendProbe(backend="onnx-fp32", error="cannot load"), probes[0]]) == "sentence-transformers"
    with pytest.raises(EmbeddingModelError, match="no embedding backend ran"):
        choose(probes[1:3])


def test_a_named_backend_is_loaded_without_probing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert not backends.probe_pending(Settings(embedding_backend="onnx-fp32"))
    assert isinstance(load_embeddings(Settings(embedding_backend="onnx-fp32")), OnnxFloat32MiniLM)
    assert backends.probe_pending(Settings())
    assert not backends.choice_file().exists()


def test_a_choice_holds_only_for_the_machine_it_was_measured_on(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    here = this_machine()
    report = ProbeReport(
        machine=here,
        probes=[BackendProbe(backend="onnx-fp32", seconds=1.0, min_cosine=0.999, mean_cosine=0.999)],
        chosen="onnx-fp32",
        measured_at="2026-12-02T00:00:00Z",
    )
    backends.choice_file().parent.mkdir(parents=True)
    backends.choice_file().write_text(json.dumps({here.identity: report.model_dump(mode="json")}))
    assert backends.cached_report(here) == report
    assert isinstance(load_embeddings(Settings()), OnnxFloat32MiniLM)
    # Another CPU, or other library versions, under the same home directory: measured anew.
    assert backends.cached_report(here.model_copy(update={"identity": "0" * 16})) is None
    backends.choice_file().write_text("{not json")
    assert backends.cached_report(here) is None


def test_a_probe_that_dies_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """A backend that crashes its process (an instruction the CPU lacks) takes down only the probe's child."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(backends.sys, "executable", "false")
    with pytest.raises(EmbeddingModelError, match=r"probe failed .* name a backend with QA_EMBEDDING_BACKEND"):
        load_embeddings(Settings())
    assert not backends.choice_file().exists()


def test_doctor_shows_the_machine_and_every_backend_measured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """The real probe, run as the first command on a new machine runs it, then read back from the cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    runner = CliRunner()
    first = runner.invoke(app, ["doctor", "--json"])
    assert first.exit_code == 0, first.output
    assert backends.PROBE_NOTICE in first.stderr
    shown = json.loads(first.stdout)
    here = this_machine()
    assert shown["machine"] == here.model_dump()
    report = ProbeReport.model_validate(shown["probe"])
    assert [probe.backend for probe in report.probes] == ["sentence-transformers", *candidates(here)[:-1]]
    assert report.chosen == shown["in_use"] == choose(report.probes)
    [reference] = [probe for probe in report.probes if probe.backend == "sentence-transformers"]
    assert reference.min_cosine == 1.0
    assert all(probe.within_bound for probe in report.probes)  # on this machine every backend keeps the bound

    again = runner.invoke(app, ["doctor"])
    assert again.exit_code == 0, again.output
    assert backends.PROBE_NOTICE not in again.stderr  # cached
    assert f"Embedding backend: {report.chosen} (the fastest within the quality bound here)" in again.stdout
    assert f"{report.chosen} (chosen)" in again.stdout
    assert here.cpu in again.stdout

    forced = runner.invoke(app, ["doctor"], env={"QA_EMBEDDING_BACKEND": "onnx-fp32"})
    assert "Embedding backend: onnx-fp32 (named by QA_EMBEDDING_BACKEND)" in forced.stdout
