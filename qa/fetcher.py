"""Fetching web pages and feeds, safely and politely: http(s) only, public addresses only (checked on every
connection, so on every redirect hop and after DNS), caps on redirects, time, bytes and content type; a clear
User-Agent, robots.txt, a delay between requests to one host, conditional GET."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import httpcore
import httpx

from qa.config import Settings
from qa.errors import FetchError

USER_AGENT = "qa-news/0.1 (question answering over news; respects robots.txt)"
# The name robots.txt rules are matched against.
ROBOTS_AGENT = "qa-news"
MAX_REDIRECTS = 5
ROBOTS_MAX_BYTES = 512 * 1024
PAGE_TYPES = ("text/html", "application/xhtml+xml")
FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/xml", "text/xml")
# Never reached, whatever QA_FETCH_PRIVATE says: instance metadata services hand out cloud credentials.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254")
)


@dataclass(frozen=True)
class Fetched:
    """A fetched resource: its final URL (after redirects), status, body and validators."""

    url: str
    status: int
    content: bytes
    content_type: str
    etag: str | None
    last_modified: str | None

    @property
    def not_modified(self) -> bool:
        """The server answered 304 to a conditional GET: nothing changed since the validators were taken."""
        return self.status == 304


def refusal(address: ipaddress.IPv4Address | ipaddress.IPv6Address, allow_private: bool) -> str | None:
    """Why an address may not be fetched from, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified or (address.is_reserved and not address.is_loopback):  # ::1 is in reserved ::/8
        return "a reserved address"
    if not allow_private and (address.is_loopback or not address.is_global):
        return "a loopback or private address (QA_FETCH_PRIVATE allows those)"
    return None


def checked_address(host: str, port: int, allow_private: bool) -> str:
    """The address to connect to for `host`: every address the name resolves to must be allowed, so that a name
    with one public and one private address cannot be steered to the private one."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise FetchError(f"cannot resolve {host}: {error}") from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found]
    for address in addresses:
        reason = refusal(address, allow_private)
        if reason:
            raise FetchError(f"refused {host}: it resolves to {address}, {reason}")
    return str(addresses[0])


class _CheckedBackend(httpcore.SyncBackend):
    """Connects only to allowed addresses, and to exactly the address it checked (no second DNS lookup that a
    rebinding name could answer differently). TLS still verifies the name."""

    def __init__(self, allow_private: bool) -> None:
        self._allow_private = allow_private

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        address = checked_address(host, port, self._allow_private)
        return super().connect_tcp(address, port, timeout, local_address, socket_options)


class Fetcher:
    """Fetches pages, feeds and robots.txt files for one run (a poll, an ingest); remembers each host's robots.txt
    and when it was last asked."""

    def __init__(self, settings: Settings, *, trusted: bool = False) -> None:
        """`trusted`: the URLs come from the machine's own user (the CLI), who may reach their own network."""
        self.settings = settings
        self._allow_private = trusted or settings.fetch_private
        self._max_bytes = int(settings.fetch_max_mb * 1024 * 1024)
        transport = httpx.HTTPTransport()
        transport._pool._network_backend = _CheckedBackend(self._allow_private)
        # No proxies from the environment: a proxy would connect on our behalf to addresses never checked.
        self._client = httpx.Client(
            transport=transport,
            trust_env=False,
            timeout=settings.fetch_timeout,
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"},
        )
        self._robots: dict[str, RobotFileParser | None] = {}
        self._last_request: dict[str, float] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *_: object) -> None:
        self._client.close()

    def page(self, url: str, *, robots: bool) -> Fetched:
        """A web page (HTML); with `robots`, only where robots.txt permits (a feed's entries: crawling). A page a
        user asked for is fetched on their behalf, as a browser would."""
        return self.get(url, PAGE_TYPES, robots=robots)

    def feed(self, url: str, etag: str | None = None, last_modified: str | None = None) -> Fetched:
        """A feed (RSS or Atom), asked for only if changed since the validators, robots.txt permitting."""
        return self.get(url, FEED_TYPES, etag=etag, last_modified=last_modified)

    def get(
        self,
        url: str,
        types: tuple[str, ...],
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        robots: bool = True,
    ) -> Fetched:
        """Fetch `url`, following at most MAX_REDIRECTS redirects; the body must be one of `types` (any when
        empty). Raises FetchError with one line for every refusal and failure."""
        deadline = time.monotonic() + self.settings.fetch_timeout
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        seen = []
        current = check_url(url)
        while True:
            if robots and not self._robots_allow(current):
                raise FetchError(f"robots.txt of {urlsplit(current).netloc} disallows {current}")
            seen.append(current)
            self._wait_for_host(current)
            try:
                with self._client.stream("GET", current, headers=headers) as response:
                    if response.is_redirect and "location" in response.headers:
                        following = check_url(urljoin(current, response.headers["location"]))
                        if following in seen:
                            raise FetchError(f"redirect loop at {following}")
                        if len(seen) > MAX_REDIRECTS:
                            raise FetchError(f"more than {MAX_REDIRECTS} redirects from {url}")
                        current = following
                        continue
                    return self._read(response, current, types, deadline)
            except httpx.TimeoutException:
                raise FetchError(f"timed out fetching {current}") from None
            except httpx.HTTPError as error:
                raise FetchError(f"cannot fetch {current}: {error}") from None

    def _read(self, response: httpx.Response, url: str, types: tuple[str, ...], deadline: float) -> Fetched:
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        fetched = Fetched(
            url=url,
            status=response.status_code,
            content=b"",
            content_type=content_type,
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
        )
        if response.status_code == 304:
            return fetched
        if response.status_code != 200:
            raise FetchError(f"HTTP {response.status_code} from {url}", status=response.status_code)
        if types and content_type not in types:
            raise FetchError(f"{url} is {content_type or 'of no stated type'}, not {' or '.join(types)}")
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        body = b"".join(self._decoded(response.iter_raw(), encoding, url, deadline))
        return Fetched(**{**fetched.__dict__, "content": body})

    def _decoded(self, raw: Iterator[bytes], encoding: str, url: str, deadline: float) -> Iterator[bytes]:
        """The body decompressed as it arrives, stopped at the byte cap before and after decompression (a gzip bomb
        inflates a little at a time, never past the cap) and at the deadline."""
        if encoding in ("gzip", "x-gzip", "deflate"):
            inflater: Any = zlib.decompressobj(zlib.MAX_WBITS | 32 if encoding != "deflate" else zlib.MAX_WBITS)
        elif encoding in ("identity", ""):
            inflater = None
        else:
            raise FetchError(f"{url} came in an encoding not asked for ({encoding})")
        received = produced = 0
        too_large = f"{url} is larger than {self.settings.fetch_max_mb:g} MB (QA_FETCH_MAX_MB)"
        for piece in raw:
            received += len(piece)
            if received > self._max_bytes:
                raise FetchError(too_large)
            if time.monotonic() > deadline:
                raise FetchError(f"timed out fetching {url} ({self.settings.fetch_timeout:g} s, QA_FETCH_TIMEOUT)")
            pending = piece
            while pending:
                if inflater is None:
                    out, pending = pending, b""
                else:
                    try:
                        out = inflater.decompress(pending, self._max_bytes - produced + 1)
                    except zlib.error:
                        raise FetchError(f"{url} sent a broken {encoding} body") from None
                    pending = inflater.unconsumed_tail
                produced += len(out)
                if produced > self._max_bytes:
                    raise FetchError(too_large)
                yield out

    def _robots_allow(self, url: str) -> bool:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._robots:
            self._robots[origin] = self._read_robots(origin)
        rules = self._robots[origin]
        return rules is None or rules.can_fetch(ROBOTS_AGENT, url)

    def _read_robots(self, origin: str) -> RobotFileParser | None:
        """The origin's robots.txt rules; None (everything allowed) when it has none (any 4xx, RFC 9309)."""
        try:
            fetched = self.get(f"{origin}/robots.txt", (), robots=False)
        except FetchError as error:
            if error.status and 400 <= error.status < 500:
                return None
            # Unreachable or failing (5xx): crawl nothing there, as RFC 9309 asks.
            raise FetchError(f"robots.txt of {urlsplit(origin).netloc} could not be read: {error}") from None
        rules = RobotFileParser()
        rules.parse(fetched.content[:ROBOTS_MAX_BYTES].decode("utf-8", "replace").splitlines())
        return rules

    def _wait_for_host(self, url: str) -> None:
        host = urlsplit(url).netloc
        with self._lock:
            wait = self._last_request.get(host, -1e9) + self.settings.fetch_host_delay - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self._last_request[host] = time.monotonic()


def check_url(url: str) -> str:
    """The URL if it is one that may be fetched: http or https, with a host; FetchError otherwise."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        raise FetchError(f"only http and https URLs are fetched, not {url[:80]!r}")
    if not parts.hostname:
        raise FetchError(f"no host in the URL {url[:80]!r}")
    return parts.geturl()
