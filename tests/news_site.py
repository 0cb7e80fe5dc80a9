"""A real HTTP server on 127.0.0.1 standing where news sites and their feeds would: pages, feeds, robots.txt,
redirects, errors, stalls and bombs, set per path by the test; it counts what each path was asked for.

The second test double of the suite, at the outside boundary like the chat server; `pages` and `rss` make the
news it serves.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RSS = "application/rss+xml"


@dataclass
class Resource:
    """What one path answers: a body of a type, or a redirect, an error status or a stall; an ETag to answer 304."""

    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    location: str | None = None
    etag: str | None = None
    delay_s: float = 0.0
    drip_s: float = 0.0  # the status line and headers sent a byte at a time, this long apart
    gzip: bool = False
    headers: dict[str, str] = field(default_factory=dict)


class NewsSite:
    """Serves `resources` by path; `hits` counts requests per path, `requests` keeps each one's headers."""

    def __init__(self) -> None:
        self.resources: dict[str, Resource] = {}
        self.hits: Counter[str] = Counter()
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with site._lock:
                    site.hits[self.path] += 1
                    site.requests.append((self.path, dict(self.headers)))
                resource = site.resources.get(self.path) or site.resources.get(self.path.split("?")[0])
                if resource is None:
                    self._send(404, b"not found", "text/plain")
                    return
                time.sleep(resource.delay_s)
                if resource.drip_s:
                    self._drip(resource)
                    return
                if resource.location:
                    self.send_response(resource.status)
                    self.send_header("Location", resource.location)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if resource.etag and self.headers.get("If-None-Match") == resource.etag:
                    self.send_response(304)
                    self.send_header("ETag", resource.etag)
                    self.end_headers()
                    return
                body = gzip.compress(resource.body) if resource.gzip else resource.body
                headers = dict(resource.headers)
                if resource.gzip:
                    headers["Content-Encoding"] = "gzip"
                if resource.etag:
                    headers["ETag"] = resource.etag
                    headers["Last-Modified"] = formatdate(usegmt=True)
                self._send(resource.status, body, resource.content_type, headers)

            def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):  # the client stopped reading at its cap
                    pass

            def _drip(self, resource: Resource) -> None:
                head = f"HTTP/1.1 200 OK\r\nContent-Type: {resource.content_type}\r\n" + "".join(
                    f"X-Padding-{n}: {'x' * 40}\r\n" for n in range(50)
                )
                try:
                    for byte in head.encode():
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(resource.drip_s)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up: what the test wants
                    pass
                self.close_connection = True

            def log_message(self, *_: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> NewsSite:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def page(self, path: str, title: str, body: str, *, date: str | None = None, author: str | None = None) -> str:
        """Serve a news page at `path` (its canonical URL is itself); return its URL."""
        meta = f'<meta name="date" content="{date}">' if date else ""
        meta += f'<meta name="author" content="{author}">' if author else ""
        paragraphs = "".join(f"<p>{paragraph}</p>" for paragraph in body.split("\n\n"))
        html = (
            f'<html><head><title>{title}</title>{meta}<link rel="canonical" href="{self.url}{path}">'
            f'<meta property="og:site_name" content="Local News"></head><body><nav>Home | World</nav>'
            f"<article><h1>{title}</h1>{paragraphs}</article><footer>Copyright</footer></body></html>"
        )
        self.resources[path] = Resource(body=html.encode())
        return self.url + path


STORY = "{title} opened on Monday in Geneva, where delegates of twelve nations met to talk about {topic}.\n\n" \
    "The talks ended with an agreement on {topic}, officials said, and a second round is due in March."  # fmt: skip


def pages(site: NewsSite, count: int, prefix: str = "story") -> list[str]:
    """`count` news pages on the site, dated 1, 2, ... Nov 2026."""
    return [
        site.page(
            f"/{prefix}/{n}.html",
            f"Summit number {n}",
            STORY.format(title=f"Summit number {n}", topic=f"river {n}"),
            date=f"2026-11-{n:02d}",
        )
        for n in range(1, count + 1)
    ]


def rss(links: list[str], *, title: str = "Local Wire", dates: bool = True) -> bytes:
    """An RSS 2.0 feed of these links, each with a summary, dated 1, 2, ... Nov 2026 (or with a date none can read)."""
    items = "".join(
        f"<item><title>Entry {n}</title><link>{link}</link><guid>{link}</guid>"
        + (f"<pubDate>Mon, {n:02d} Nov 2026 09:00:00 GMT</pubDate>" if dates else "<pubDate>yesterday-ish</pubDate>")
        + f"<description>Summary of entry {n}: the council met about river {n} and voted for it.</description></item>"
        for n, link in enumerate(links, start=1)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>{items}</channel></rss>'.encode()
