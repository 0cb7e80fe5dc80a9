"""The one Chroma client a process keeps per index location, the file lock and write generation that order its
use between processes, and the names of an index's collections."""

from __future__ import annotations

import fcntl
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlparse

import chromadb
from chromadb.config import Settings as ChromaSettings

from qa.config import Settings
from qa.errors import StoreBusyError, StoreError


class Connection:
    """The one Chroma client a process keeps per index location, with the locks that order its use.

    Embedded Chroma keeps its vector index in memory, per process, and its SQLite file refuses a reader while
    another process writes ("database is locked"). A process that writes after another process wrote, without
    reopening, corrupts the index on disk (measured: three processes writing one directory in turns left reads
    failing with "Error getting embedding" and a segfault). So in embedded mode a write session holds
    `write.lock` exclusively and a read holds it shared (flock: the kernel releases it if the holder dies), and a
    process reopens its client whenever another process has written since it last looked: each write session
    stamps `write.generation` first, so even a writer killed half-way is noticed. A Chroma server orders its
    clients itself and needs none of this.
    """

    _open: ClassVar[dict[str, Connection]] = {}
    _open_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.embedded = settings.chroma_url is None
        # Guards the client within the process: a reopen must not pull it from under another thread's call.
        self.lock = threading.RLock()
        # One ingest or removal at a time per index in this process (their reads of what is stored must still hold
        # when they write); held around the index's own work only, never around a network fetch.
        self.ingest_lock = threading.RLock()
        self.epoch = 0
        self._depth = 0
        if self.embedded:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        with self._file_lock(exclusive=True):
            self._generation = self._read_generation()
            self.client = open_client(settings)

    @classmethod
    def to(cls, settings: Settings) -> Connection:
        """The connection to the index these settings name, opened on first use."""
        key = settings.chroma_url or str((settings.data_dir / "chroma").resolve())
        with cls._open_lock:
            if key not in cls._open:
                cls._open[key] = cls(settings)
            return cls._open[key]

    @contextmanager
    def reading(self) -> Iterator[Any]:
        """The client for reads: reopened first if another process wrote since this one last looked."""
        with self.lock:
            if self._depth:  # this thread holds a write session: it is the writer
                yield self.client
                return
            if self.embedded and self._read_generation() != self._generation:
                with self._file_lock(exclusive=True):
                    self._reopen()
            with self._file_lock(exclusive=False):
                yield self.client

    @contextmanager
    def writing(self) -> Iterator[Any]:
        """The client, held for writing: other writers and readers (threads, and processes) wait."""
        with self.lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self.client
                finally:
                    self._depth -= 1
                return
            with self._file_lock(exclusive=True):
                if self.embedded:
                    if self._read_generation() != self._generation:
                        self._reopen()
                    self._stamp_generation()
                self._depth += 1
                try:
                    yield self.client
                finally:
                    self._depth -= 1
                    if self.embedded:
                        self._owner_file.unlink(missing_ok=True)

    @contextmanager
    def _file_lock(self, *, exclusive: bool) -> Iterator[None]:
        """flock on <data_dir>/write.lock for up to QA_LOCK_TIMEOUT; nothing for a Chroma server."""
        if not self.embedded:
            yield
            return
        descriptor = os.open(self.settings.data_dir / "write.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            deadline = time.monotonic() + self.settings.lock_timeout
            while True:
                try:
                    fcntl.flock(descriptor, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise StoreBusyError(self._busy_message()) from None
                    time.sleep(0.02)
            yield
        finally:
            os.close(descriptor)  # releases the lock

    @property
    def _generation_file(self) -> Path:
        return self.settings.data_dir / "write.generation"

    @property
    def _owner_file(self) -> Path:
        return self.settings.data_dir / "write.owner"

    def _read_generation(self) -> str:
        try:
            return self._generation_file.read_text()
        except FileNotFoundError:
            return ""

    def _stamp_generation(self) -> None:
        self._generation = new_revision()
        _write_atomically(self._generation_file, self._generation)
        owner = {"pid": os.getpid(), "command": " ".join(sys.argv)[:200], "since": time.strftime("%H:%M:%S")}
        _write_atomically(self._owner_file, json.dumps(owner))

    def _reopen(self) -> None:
        self.client.close()
        self.client = open_client(self.settings)
        self._generation = self._read_generation()
        self.epoch += 1

    def _busy_message(self) -> str:
        try:
            owner = json.loads(self._owner_file.read_text())
            who = f" (pid {owner['pid']}: {owner['command']}, since {owner['since']})"
        except (OSError, ValueError, KeyError):
            who = ""
        return (
            f"another process is writing to {self.settings.data_dir}{who}; waited {self.settings.lock_timeout:g} s. "
            "Try again when it has finished, or raise QA_LOCK_TIMEOUT"
        )


def open_client(settings: Settings) -> Any:
    """A Chroma client for the settings' location: the embedded directory, or the server at QA_CHROMA_URL."""
    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    try:
        if settings.chroma_url is None:
            return chromadb.PersistentClient(path=str(settings.data_dir / "chroma"), settings=chroma_settings)
        url = urlparse(settings.chroma_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise StoreError(f"QA_CHROMA_URL must look like http://127.0.0.1:8000, got {settings.chroma_url!r}")
        return chromadb.HttpClient(
            host=url.hostname,
            port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https",
            settings=chroma_settings,
        )
    except StoreError:
        raise
    except Exception as error:
        raise StoreError(f"cannot open the Chroma index ({index_location(settings)}): {error}") from None


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    os.replace(partial, path)


def collection_names(prefix: str) -> tuple[str, str]:
    """The chunks and articles collections of an index."""
    return f"{prefix}-chunks", f"{prefix}-articles"


def journal_name(prefix: str) -> str:
    """The collection of an index's recent write sessions and the articles each changed (ArticleStore)."""
    return f"{prefix}-writes"


def index_exists(settings: Settings) -> bool:
    """Whether the settings' index was ever created (opening an ArticleStore creates it)."""
    with Connection.to(settings).reading() as client:
        names = {collection.name for collection in client.list_collections()}
    return all(name in names for name in collection_names(settings.collection))


def index_location(settings: Settings) -> str:
    """Where the index is, for messages: 'server URL' or 'directory DIR'."""
    return f"server {settings.chroma_url}" if settings.chroma_url else f"directory {settings.data_dir}"


def new_revision() -> str:
    """A fresh revision token."""
    return uuid.uuid4().hex
