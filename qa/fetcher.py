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
import idna

from qa import metrics
from qa.config import Settings
from qa.errors import FetchError, one_line

USER_AGENT = "qa-news/0.1 (question answering over news; respects robots.txt)"
# The name robots.txt rules are matched against.
ROBOTS_AGENT = "qa-news"
MAX_REDIRECTS = 5
# RFC 9309: a crawler parses at least the first 500 KiB of a robots.txt; the rest is never read.
ROBOTS_MAX_BYTES = 512 * 1024
PAGE_TYPES = ("text/html", "application/xhtml+xml")
# Feeds come under many names: the registered ones, their x- forms, and plain XML or text from simple servers.
FEED_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/rdf+xml",
    "application/x-rss+xml",
    "application/x-atom+xml",
    "application/xml",
    "text/xml",
    "text/plain",
)
# Never reached, whatever QA_FETCH_PRIVATE says: instance metadata services hand out cloud credentials.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254")
)
# IPv6 addresses that translate to an IPv4 one (RFC 6052): the IPv4 one is what they reach.
NAT64 = ipaddress.ip_network("64:ff9b::/96")


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
    if isinstance(address, ipaddress.IPv6Address):
        # An IPv6 address that carries an IPv4 one (mapped, 6to4, Teredo, NAT64) reaches that one: judge it.
        for embedded in _embedded_ipv4(address):
            if reason := refusal(embedded, allow_private):
                return reason
        if address.ipv4_mapped:
            return None
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


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    embedded = [address.ipv4_mapped, address.sixtofour, *(address.teredo or ())]
    if address in NAT64:
        embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return [found for found in embedded if found is not None]


def checked_address(host: str, port: int, allow_private: bool) -> str:
    """The address to connect to for `host`: every address the name resolves to must be allowed, so that a name
    with one public and one private address cannot be steered to the private one."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise FetchError(f"cannot resolve {host}: {error}", "network") from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found]
    for address in addresses:
        reason = refusal(address, allow_private)
        if reason:  # the address itself is not named: the message may reach an API client
            raise FetchError(f"refused {host}: it resolves to {reason}", "address")
    return str(addresses[0])


class _Fetch(threading.local):
    """What the fetch under way on this thread allows: when it must be done by, and the one host the user's own
    trust reaches (the host of the URL they typed; never where a remote server redirects them)."""

    deadline: float = float("inf")
    trusted_host: str | None = None

    def bounded(self, timeout: float | None) -> float:
        """The time one network operation may take: its own limit, cut to what is left of the whole fetch."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise httpcore.ReadTimeout("the fetch's deadline passed")
        return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write ends by the fetch's deadline: a server dripping its headers or body
    a byte at a time cannot stretch a fetch past QA_FETCH_TIMEOUT."""

    def __init__(self, stream: httpcore.NetworkStream, fetch: _Fetch) -> None:
        self._stream, self._fetch = stream, fetch

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, self._fetch.bounded(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, self._fetch.bounded(timeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        tls = self._stream.start_tls(ssl_context, server_hostname, self._fetch.bounded(timeout))
        return _DeadlineStream(tls, self._fetch)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _CheckedBackend(httpcore.SyncBackend):
    """Connects only to allowed addresses, and to exactly the address it checked (no second DNS lookup that a
    rebinding name could answer differently), within the fetch's deadline. TLS still verifies the name."""

    def __init__(self, allow_private: bool, fetch: _Fetch) -> None:
        self._allow_private = allow_private
        self._fetch = fetch

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        allow_private = self._allow_private or host == self._fetch.trusted_host
        address = checked_address(host, port, allow_private)
        stream = super().connect_tcp(address, port, self._fetch.bounded(timeout), local_address, socket_options)
        return _DeadlineStream(stream, self._fetch)


class Fetcher:
    """Fetches pages, feeds and robots.txt files for one run (a poll, an ingest); remembers each host's robots.txt
    and when it was last asked."""

    def __init__(self, settings: Settings, *, trusted: bool = False) -> None:
        """`trusted`: the URLs come from the machine's own user (the CLI), who may reach their own network: the
        host of each URL they give, not the hosts its redirects lead to."""
        self.settings = settings
        self._trusted = trusted
        self._max_bytes = int(settings.fetch.max_mb * 1024 * 1024)
        self._fetch = _Fetch()
        transport = httpx.HTTPTransport()
        transport._pool._network_backend = _CheckedBackend(settings.fetch.private, self._fetch)
        # No proxies from the environment: a proxy would connect on our behalf to addresses never checked.
        self._client = httpx.Client(
            transport=transport,
            trust_env=False,
            timeout=settings.fetch.timeout,
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"},
        )
        self._robots: dict[str, RobotFileParser | None] = {}
        self._next_request: dict[str, float] = {}
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
        keep_bytes: int | None = None,
    ) -> Fetched:
        """Fetch `url`, following at most MAX_REDIRECTS redirects; the body must be one of `types` (any when
        empty); with `keep_bytes`, it is cut there instead of refused when larger. QA_FETCH_TIMEOUT bounds it all:
        robots.txt (fetched within the page's fetch), every hop, headers and body. Raises FetchError with one line
        for every refusal and failure."""
        outermost = self._fetch.deadline == float("inf")
        try:
            url = check_url(url)
            if outermost:
                self._fetch.deadline = time.monotonic() + self.settings.fetch.timeout
                self._fetch.trusted_host = urlsplit(url).hostname if self._trusted else None
            return self._follow(url, types, etag, last_modified, robots, keep_bytes)
        except FetchError as error:
            if outermost:  # once per fetch, by the reason it ended
                metrics.refused(error)
            raise
        finally:
            if outermost:
                self._fetch.deadline, self._fetch.trusted_host = float("inf"), None

    def _follow(
        self,
        url: str,
        types: tuple[str, ...],
        etag: str | None,
        last_modified: str | None,
        robots: bool,
        keep_bytes: int | None,
    ) -> Fetched:
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        seen = []
        current = url
        while True:
            if robots and not self._robots_allow(current):
                raise FetchError(f"robots.txt of {urlsplit(current).netloc} disallows {current}", "robots")
            seen.append(current)
            self._wait_for_host(current)
            try:
                with self._client.stream("GET", current, headers=headers) as response:
                    if response.is_redirect and "location" in response.headers:
                        following = check_url(urljoin(current, response.headers["location"]))
                        if following in seen:
                            raise FetchError(f"redirect loop at {following}", "redirects")
                        if len(seen) > MAX_REDIRECTS:
                            raise FetchError(f"more than {MAX_REDIRECTS} redirects from {url}", "redirects")
                        current = following
                        continue
                    return self._read(response, current, types, keep_bytes)
            except httpx.TimeoutException:
                raise FetchError(
                    f"timed out fetching {current} ({self.settings.fetch.timeout:g} s in all, QA_FETCH_TIMEOUT)",
                    "timeout",
                ) from None
            except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as error:
                raise FetchError(
                    f"cannot fetch {current}: {one_line(error) or type(error).__name__}", "network"
                ) from None

    def _read(self, response: httpx.Response, url: str, types: tuple[str, ...], keep_bytes: int | None) -> Fetched:
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
            raise FetchError(f"HTTP {response.status_code} from {url}", "http", status=response.status_code)
        if types and content_type not in types:
            raise FetchError(f"{url} is {content_type or 'of no stated type'}, not {' or '.join(types)}", "type")
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        body = bytearray()
        for piece in self._decoded(response.iter_raw(), encoding, url):
            body += piece
            if keep_bytes is not None and len(body) >= keep_bytes:
                del body[keep_bytes:]
                break
        return Fetched(**{**fetched.__dict__, "content": bytes(body)})

    def _decoded(self, raw: Iterator[bytes], encoding: str, url: str) -> Iterator[bytes]:
        """The body decompressed as it arrives, stopped at the byte cap before and after decompression (a gzip bomb
        inflates a little at a time, never past the cap)."""
        if encoding not in ("gzip", "x-gzip", "deflate", "identity", ""):
            raise FetchError(f"{url} came in an encoding not asked for ({encoding})", "encoding")
        inflater: Any = None
        received = produced = 0
        too_large = f"{url} is larger than {self.settings.fetch.max_mb:g} MB (QA_FETCH_MAX_MB)"
        for piece in raw:
            received += len(piece)
            if received > self._max_bytes:
                raise FetchError(too_large, "size")
            pending = piece
            if inflater is None and encoding not in ("identity", ""):
                inflater = zlib.decompressobj(_window_bits(encoding, piece))
            while pending:
                if inflater is None:
                    out, pending = pending, b""
                else:
                    try:
                        out = inflater.decompress(pending, self._max_bytes - produced + 1)
                    except zlib.error:
                        raise FetchError(f"{url} sent a broken {encoding} body", "encoding") from None
                    pending = inflater.unconsumed_tail
                produced += len(out)
                if produced > self._max_bytes:
                    raise FetchError(too_large, "size")
                yield out

    def _robots_allow(self, url: str) -> bool:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._robots:
            self._robots[origin] = self._read_robots(origin)
        rules = self._robots[origin]
        return rules is None or rules.can_fetch(ROBOTS_AGENT, url)

    def _read_robots(self, origin: str) -> RobotFileParser | None:
        """The origin's robots.txt rules, from its first ROBOTS_MAX_BYTES; None (everything allowed) when it has
        none (any 4xx, RFC 9309)."""
        try:
            fetched = self.get(f"{origin}/robots.txt", (), robots=False, keep_bytes=ROBOTS_MAX_BYTES)
        except FetchError as error:
            if error.status and 400 <= error.status < 500:
                return None
            # Unreachable or failing (5xx): crawl nothing there, as RFC 9309 asks.
            raise FetchError(
                f"robots.txt of {urlsplit(origin).netloc} could not be read: {error}", error.reason
            ) from None
        rules = RobotFileParser()
        rules.parse(fetched.content.decode("utf-8", "replace").splitlines())
        return rules

    def _wait_for_host(self, url: str) -> None:
        """Keep QA_FETCH_HOST_DELAY between requests to one host: the slot is taken under the lock, the wait is
        outside it, so one thread's wait holds no other thread up."""
        host = urlsplit(url).netloc
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next_request.get(host, now))
            self._next_request[host] = slot + self.settings.fetch.host_delay
        if slot > now:
            time.sleep(slot - now)


def check_url(url: str) -> str:
    """The URL if it is one that may be fetched: http or https, with a host the HTTP client can reach, no user name
    or password; FetchError with one line otherwise (a user's URL, a feed's link or a server's redirect alike)."""
    text = url.strip()
    shown = repr(text[:80])
    try:
        parts = urlsplit(text)
        _ = parts.port  # a port that is not a number raises here
        # Parsed as the client will send it: hosts it refuses ("0177.0.0.1", control characters) fail here, and
        # punycode labels that decode to nothing ("xn--") too.
        for label in httpx.URL(text).host.split("."):
            if label.startswith("xn--"):
                idna.decode(label)
    except (ValueError, httpx.InvalidURL) as error:  # IDNA's errors are ValueErrors too
        raise FetchError(f"not a valid URL {shown}: {one_line(error) or type(error).__name__}", "url") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise FetchError(f"only http and https URLs are fetched, not {shown}", "url")
    if not parts.hostname:
        raise FetchError(f"no host in the URL {shown}", "url")
    if parts.username is not None or parts.password is not None:
        # It would be sent to the site and stored in the article's URL, for every reader to see.
        raise FetchError(f"URLs with a user name or password are not fetched: {parts.hostname}", "url")
    return parts.geturl()


def _window_bits(encoding: str, first: bytes) -> int:
    """zlib's window bits for a body: gzip's header, or deflate as zlib data (RFC 9110) or, as some servers send
    it, raw deflate with no header."""
    if encoding != "deflate":
        return zlib.MAX_WBITS | 32
    zlib_header = len(first) >= 2 and first[0] & 0x0F == 8 and (first[0] << 8 | first[1]) % 31 == 0
    return zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS
