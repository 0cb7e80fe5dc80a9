"""The feed poller: polls the followed feeds on a schedule until stopped, in `qa serve`'s background (a thread of
its own) or in `qa feeds watch`'s foreground; it yields to the requests a server is answering."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from qa.errors import QAError, one_line
from qa.models import FeedPoll

if TYPE_CHECKING:
    from qa.engine import Engine

log = logging.getLogger("qa.feeds")

# The poller looks for due feeds at least this often, so a feed added (or back from back-off) waits no longer.
TICK_MAX_S = 30.0
# Between two entries a poll waits while requests are being answered, at most this long: requests come first, and a
# steady stream of them still lets the poll go on, an entry at a time.
YIELD_MAX_S = 1.0
# The background poller's nice value: the scheduler gives its thread less CPU than the requests' (measured in
# benchmarks/load.py).
POLLER_NICE = 10


class FeedPoller:
    """Polls the followed feeds every `every` seconds (each feed when due: replicas share the work) until stopped.

    `engine_of` gives the engine once loaded (a server loads it in the background); `busy` says whether requests
    are being answered, so that a poll waits between entries while they are.
    """

    def __init__(
        self,
        engine_of: Callable[[], Engine | None],
        every: float,
        *,
        busy: Callable[[], bool] = lambda: False,
        on_poll: Callable[[FeedPoll], None] | None = None,
    ) -> None:
        self.engine_of, self.every, self.busy, self.on_poll = engine_of, every, busy, on_poll
        self.tick = min(every, TICK_MAX_S)
        self.next_tick: datetime | None = None
        self._stopping = threading.Event()
        self._woken = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Poll on a daemon thread of its own, at a lower CPU priority than the requests."""
        self._thread = threading.Thread(target=self._run_niced, daemon=True, name="qa-feed-poller")
        self._thread.start()

    def _run_niced(self) -> None:
        # Linux keeps a nice value per thread, and the threads this one starts (ingest's embedding) inherit it.
        with suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), POLLER_NICE)
        self.run()

    def stop(self, timeout: float) -> bool:
        """Ask the poller to stop (between entries) and wait up to `timeout` s; whether it has stopped."""
        self._stopping.set()
        self._woken.set()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def stopping(self) -> bool:
        """Whether it was asked to stop."""
        return self._stopping.is_set()

    def wake(self) -> None:
        """Look for due feeds now (a feed was just added)."""
        self._woken.set()

    def run(self) -> None:
        """Poll the due feeds, wait a tick (or until woken), again, until stopped. A failed round is logged on one
        line and the next tick tries again: the store or the network may be back by then."""
        while not self._stopping.is_set():
            started = time.monotonic()
            engine = self.engine_of()
            if engine is not None:
                try:
                    engine.poll_feeds(every=self.every, stop=self._between_entries, on_poll=self.on_poll)
                except Exception as error:
                    reason = one_line(error) if isinstance(error, QAError) else type(error).__name__
                    log.warning("a feed poll failed: %s", reason)
                    log.debug("traceback", exc_info=error)
            wait = max(0.0, started + (self.tick if engine is not None else 0.5) - time.monotonic())
            self.next_tick = datetime.now(UTC) + timedelta(seconds=wait)
            self._woken.wait(wait)
            self._woken.clear()

    def _between_entries(self) -> bool:
        """Whether to stop; first, while requests are being answered, wait for them (at most YIELD_MAX_S)."""
        deadline = time.monotonic() + YIELD_MAX_S
        while self.busy() and not self._stopping.is_set() and time.monotonic() < deadline:
            time.sleep(0.01)
        return self._stopping.is_set()
