"""Which embedding backend runs on this CPU: the backends it can run, a probe that times each on a fixed sample
and holds its vectors to the reference's, the choice cached with the machine's identity, and loading it.

The same int8 graph is 4.3x plain sentence-transformers on an AMD EPYC and 2.0x on an Intel Xeon with AMX,
where bfloat16 PyTorch is faster: no one backend is fastest everywhere, so each machine measures its own, once
(`qa doctor` shows the figures; QA_EMBEDDING_BACKEND names one and skips the probe).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field, ValidationError

from qa.config import Settings
from qa.embeddings import BACKENDS, MiniLMEmbeddings, ReferenceMiniLM, cache_dir, written_whole
from qa.errors import EmbeddingModelError

# Bumped when the probe, its sample or its rule change: every machine then measures again.
PROBE_VERSION = 1
PROBE_SAMPLE = Path(__file__).with_name("embedding_probe.json")
# The bound every backend's vectors keep to the reference's (tests/test_embeddings.py holds each choosable
# backend to it, with the neighbours a search finds, on 2,900 texts).
MIN_COSINE = 0.975
MEAN_COSINE = 0.99
# Sentences an answer embeds in one call (qa.answer.reading.MAX_EMBEDDED).
SENTENCES_PER_CALL = 12
# Timed runs of the sample per backend; the fastest counts (the first pays for warm caches, others for noise).
RUNS = 2
# The CPU features the backends' speed depends on (int8: VNNI, AMX-INT8; bf16: AMX-BF16 or AVX-512 BF16).
CPU_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8")
BF16_FLAGS = ("amx_bf16", "avx512_bf16")
PROBE_NOTICE = "Measuring the embedding backends on this CPU, once (about 20 s; `qa doctor` shows the figures)…"


class Machine(BaseModel):
    """What a choice was measured on; a choice holds only for the same identity."""

    cpu: str = Field(description="The CPU's model name.")
    flags: list[str] = Field(description="Those of CPU_FLAGS the CPU has.")
    cores: int = Field(description="Cores this process may run on.")
    onnxruntime: str = Field(description="ONNX Runtime's version.")
    torch: str | None = Field(description="PyTorch's version, if installed.")
    identity: str = Field(description="A digest of the CPU's model, all its flags, the cores and both versions.")


class BackendProbe(BaseModel):
    """One backend's figures on the probe's sample."""

    backend: str
    seconds: float | None = Field(default=None, description="Fastest run of the whole sample.")
    chunks_per_s: float | None = Field(default=None, description="The sample's chunks, embedded as ingest does.")
    short_text_ms: float | None = Field(
        default=None, description=f"Per short text, in calls of {SENTENCES_PER_CALL} as an answer embeds them."
    )
    min_cosine: float | None = Field(default=None, description="Lowest cosine to the reference's vectors.")
    mean_cosine: float | None = None
    error: str | None = Field(default=None, description="Why the backend could not run here.")

    @property
    def within_bound(self) -> bool:
        """Whether it ran and its vectors keep the bound to the reference's."""
        return (
            self.error is None
            and self.min_cosine is not None
            and self.mean_cosine is not None
            and self.min_cosine >= MIN_COSINE
            and self.mean_cosine >= MEAN_COSINE
        )


class ProbeReport(BaseModel):
    """The probe's outcome on one machine: every candidate's figures and the one chosen."""

    machine: Machine
    probes: list[BackendProbe]
    chosen: str
    measured_at: datetime
    version: int = PROBE_VERSION


def this_machine() -> Machine:
    """The CPU this process runs on (from /proc/cpuinfo where there is one) and the libraries that run the model."""
    model, flags = "", set[str]()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and not model:
                model = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    cpu = model or platform.processor() or platform.machine() or "unknown"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    versions = {name: _version(name) for name in ("onnxruntime", "torch")}
    identity = json.dumps([cpu, sorted(flags), cores, versions, PROBE_VERSION])
    return Machine(
        cpu=cpu,
        flags=[flag for flag in CPU_FLAGS if flag in flags],
        cores=cores,
        onnxruntime=versions["onnxruntime"] or "not installed",
        torch=versions["torch"],
        identity=hashlib.sha256(identity.encode()).hexdigest()[:16],
    )


def candidates(machine: Machine) -> list[str]:
    """The backends worth timing here: the ONNX graphs everywhere, bfloat16 where the CPU multiplies in it (it is
    emulated, and slower than float32, elsewhere), and the reference, which any other must beat."""
    names = ["onnx-int8", "onnx-fp32"]
    if machine.torch and any(flag in machine.flags for flag in BF16_FLAGS):
        names.append("torch-bf16")
    return [*names, ReferenceMiniLM.backend]


def choose(probes: list[BackendProbe]) -> str:
    """The fastest backend on the whole sample of those within the bound (the reference always is)."""
    fit = [probe for probe in probes if probe.within_bound and probe.seconds is not None]
    if not fit:
        raise EmbeddingModelError("no embedding backend ran on this machine: see `qa doctor --probe`")
    return min(fit, key=lambda probe: probe.seconds or 0.0).backend


def run_probe(machine: Machine) -> ProbeReport:
    """Time every candidate on the fixed sample and compare its vectors with the reference's (in this process)."""
    sample = json.loads(PROBE_SAMPLE.read_text())
    chunks, short = sample["chunks"], sample["short"]
    calls = [short[i : i + SENTENCES_PER_CALL] for i in range(0, len(short), SENTENCES_PER_CALL)]
    reference_vectors: np.ndarray | None = None
    probes = []
    # The reference first: everything is compared with its vectors.
    for name in [ReferenceMiniLM.backend, *candidates(machine)[:-1]]:
        try:
            embeddings = BACKENDS[name]()
            embeddings.encode(chunks[:2])  # loads the model, makes its graph once: not timed
            runs = []
            for _ in range(RUNS):
                began = time.perf_counter()
                chunk_vectors = embeddings.encode(chunks)
                chunks_done = time.perf_counter()
                short_vectors = np.concatenate([embeddings.encode(call) for call in calls])
                runs.append((time.perf_counter() - began, chunks_done - began, time.perf_counter() - chunks_done))
        except (EmbeddingModelError, ImportError, RuntimeError, OSError) as error:
            probes.append(BackendProbe(backend=name, error=str(error).splitlines()[0][:200]))
            continue
        vectors = np.concatenate([chunk_vectors, short_vectors])
        if reference_vectors is None:
            reference_vectors = vectors
        cosines = (vectors * reference_vectors).sum(axis=1)
        total, chunk_s, short_s = min(runs)
        probes.append(
            BackendProbe(
                backend=name,
                seconds=round(total, 3),
                chunks_per_s=round(len(chunks) / chunk_s, 1),
                short_text_ms=round(short_s / len(short) * 1000, 2),
                min_cosine=round(float(cosines.min()), 4),
                mean_cosine=round(float(cosines.mean()), 4),
            )
        )
    return ProbeReport(machine=machine, probes=probes, chosen=choose(probes), measured_at=datetime.now(UTC))


def probe(machine: Machine) -> ProbeReport:
    """Run the probe in a child process (it loads every backend, PyTorch included, which this process need not
    keep; a backend that crashes takes down only the child) and cache its report for this machine."""
    done = subprocess.run([sys.executable, "-m", "qa.backends"], capture_output=True, text=True, check=False)
    if done.returncode:
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise EmbeddingModelError(
            f"the embedding backend probe failed ({last}); name a backend with QA_EMBEDDING_BACKEND to skip it"
        )
    report = ProbeReport.model_validate_json(done.stdout.strip().splitlines()[-1])
    saved = _saved_reports()
    saved[machine.identity] = report
    with written_whole(choice_file()) as partial:
        partial.write_text(json.dumps({key: value.model_dump(mode="json") for key, value in saved.items()}, indent=1))
    return report


def cached_report(machine: Machine) -> ProbeReport | None:
    """The probe's report for this machine, if it was measured (on another, or other versions, it is not)."""
    return _saved_reports().get(machine.identity)


def chosen_backend(settings: Settings) -> str:
    """The backend QA_EMBEDDING_BACKEND names; for "auto", this machine's measured choice, probed first if new."""
    if settings.embedding_backend != "auto":
        return settings.embedding_backend
    machine = this_machine()
    report = cached_report(machine) or probe(machine)
    return report.chosen


def probe_pending(settings: Settings) -> bool:
    """Whether loading the embeddings will first run the probe (~20 s, once per machine)."""
    return settings.embedding_backend == "auto" and cached_report(this_machine()) is None


def load_embeddings(settings: Settings) -> MiniLMEmbeddings:
    """The backend for these settings on this machine (the model itself loads on first use)."""
    backend = BACKENDS[chosen_backend(settings)]
    if issubclass(backend, ReferenceMiniLM):
        return backend(batch_size=settings.embedding_batch_size)
    return backend()


def choice_file() -> Path:
    """The cache of each machine's probe report."""
    return cache_dir() / "embedding-backend.json"


def _saved_reports() -> dict[str, ProbeReport]:
    """Every machine's report in the cache file (a home directory may be shared); an unreadable file counts as
    none (it is only a cache: the probe runs again)."""
    try:
        saved = json.loads(choice_file().read_text())
        return {key: ProbeReport.model_validate(value) for key, value in saved.items()}
    except (OSError, ValueError, ValidationError, AttributeError):
        return {}


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


if __name__ == "__main__":
    print(run_probe(this_machine()).model_dump_json())
