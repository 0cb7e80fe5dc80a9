"""The ONNX embedding model run in worker processes, for large ingests: outside this process's GIL, which
Chroma's writes hold (embedding 300 texts in threads while Chroma wrote: 2.0 texts/s; in processes: 16.4).

A worker is `python -m qa.embedding_workers GRAPH`, fed pickled batches of token ids on stdin and answering each
with its vectors on stdout: started this way, not by multiprocessing, it never re-runs the parent's main script
(which a script without an `if __name__ == "__main__"` guard could not survive). It imports only numpy and ONNX
Runtime, so it starts in under a second."""

from __future__ import annotations

import pickle
import queue
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any

import numpy as np

from qa.errors import EmbeddingModelError


class WorkerProcesses:
    """`count` worker processes and a thread per worker that feeds it batches and waits for its vectors."""

    def __init__(self, graph: str, count: int) -> None:
        command = [sys.executable, "-m", __name__, graph]
        self._workers = [subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE) for _ in range(count)]
        self._idle: queue.Queue[subprocess.Popen[bytes]] = queue.Queue()
        for worker in self._workers:
            self._idle.put(worker)
        self._feeders = ThreadPoolExecutor(count, thread_name_prefix="qa-embed-process")

    def embed(self, batches: list[list[list[int]]]) -> np.ndarray:
        """The unit vectors of every batch of tokenised texts, in order, one row each."""
        return np.concatenate(list(self._feeders.map(self._embed_batch, batches)))

    def _embed_batch(self, token_ids: list[list[int]]) -> np.ndarray:
        worker = self._idle.get()
        try:
            assert worker.stdin is not None and worker.stdout is not None
            _send(worker.stdin, token_ids)
            vectors: np.ndarray = pickle.load(worker.stdout)
            return vectors
        except (EOFError, OSError, pickle.UnpicklingError) as error:
            raise EmbeddingModelError(f"an embedding worker process stopped (exit code {worker.poll()})") from error
        finally:
            self._idle.put(worker)

    def close(self) -> None:
        """Stop the workers: each ends when its stdin closes."""
        self._feeders.shutdown()
        for worker in self._workers:
            if worker.stdin:
                try:
                    worker.stdin.close()
                except OSError:  # it had stopped: what was left unsent goes nowhere
                    pass
        for worker in self._workers:
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()
            if worker.stdout:
                worker.stdout.close()


def embed_one(session: Any, token_ids: list[int]) -> np.ndarray:
    """The mean-pooled unit vector of one tokenised text, the text run alone at its own length."""
    tokens = np.array([token_ids], dtype=np.int64)
    ones = np.ones_like(tokens)
    hidden = session.run(None, {"input_ids": tokens, "attention_mask": ones, "token_type_ids": ones * 0})[0]
    pooled = hidden[0].mean(axis=0)
    return pooled / np.linalg.norm(pooled)


def _send(pipe: IO[bytes], message: Any) -> None:
    pickle.dump(message, pipe, protocol=pickle.HIGHEST_PROTOCOL)
    pipe.flush()


def _serve(graph: str) -> None:
    """A worker's loop: one ONNX session on one thread, a batch in, its vectors out, until stdin closes."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
    while True:
        try:
            token_ids = pickle.load(sys.stdin.buffer)
        except EOFError:
            return
        vectors = np.array([embed_one(session, ids) for ids in token_ids], dtype=np.float32)
        _send(sys.stdout.buffer, vectors.reshape(len(token_ids), -1))


if __name__ == "__main__":
    _serve(sys.argv[1])
