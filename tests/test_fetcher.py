"""The fetcher against a real HTTP server on 127.0.0.1: what it refuses (schemes, addresses, sizes, types, robots.txt)
and how it fetches (redirects, conditional GET, its User-Agent, compressed bodies)."""

from __future__ import annotations

import gzip
import ipaddress
import time
import zlib
from typing import Any

import pytest

from qa.config import FetchSettings, Settings
from qa.errors import FetchError
from qa.fetcher import FEED_TYPES, PAGE_TYPES, USER_AGENT, Fetcher, check_url, refusal

from .news_site import NewsSite, Resource


def fetcher(**fetch: Any) -> Fetcher:
    """A fetcher that may reach the local server, with no delay between requests unless `fetch` sets one."""
    return Fetcher(Settings(fetch=FetchSettings(**{"private": True, "host_delay": 0, **fetch})))


def test_page_is_fetched_with_a_clear_user_agent(site: NewsSite) -> None:
    url = site.page("/a.html", "A title", "Some text of the page.")
    with fetcher() as web:
        fetched = web.page(url, robots=False)
    assert fetched.status == 200 and b"Some text of the page." in fetched.content
    assert fetched.content_type == "text/html"
    assert site.requests[-1][1]["User-Agent"] == USER_AGENT


def test_gzip_bodies_are_decoded(site: NewsSite) -> None:
    site.resources["/z.html"] = Resource(body=b"<html><body><p>compressed page</p></body></html>", gzip=True)
    with fetcher() as web:
        assert b"compressed page" in web.page(site.url + "/z.html", robots=False).content


def test_a_gzip_bomb_stops_at_the_cap(site: NewsSite) -> None:
    bomb = b"\0" * (60 * 1024 * 1024)
    site.resources["/bomb.html"] = Resource(body=bomb, gzip=True)
    assert len(gzip.compress(bomb)) < 1024 * 1024  # small on the wire: only decompressing shows its size
    with fetcher(max_mb=1) as web, pytest.raises(FetchError, match="larger than 1 MB"):
        web.page(site.url + "/bomb.html", robots=False)


def test_a_large_body_stops_at_the_cap(site: NewsSite) -> None:
    site.resources["/big.html"] = Resource(body=b"x" * (3 * 1024 * 1024))
    with fetcher(max_mb=1) as web, pytest.raises(FetchError, match="larger than 1 MB"):
        web.page(site.url + "/big.html", robots=False)


def test_redirects_are_followed_and_loops_refused(site: NewsSite) -> None:
    url = site.page("/final.html", "Final", "The final page.")
    site.resources["/old"] = Resource(status=301, location="/final.html")
    site.resources["/loop-a"] = Resource(status=302, location="/loop-b")
    site.resources["/loop-b"] = Resource(status=302, location="/loop-a")
    for hop in range(7):
        site.resources[f"/hop{hop}"] = Resource(status=302, location=f"/hop{hop + 1}")
    with fetcher() as web:
        assert web.page(site.url + "/old", robots=False).url == url
        with pytest.raises(FetchError, match="redirect loop"):
            web.page(site.url + "/loop-a", robots=False)
        with pytest.raises(FetchError, match="more than 5 redirects"):
            web.page(site.url + "/hop0", robots=False)


@pytest.mark.parametrize("status", [404, 500, 403])
def test_error_statuses_are_one_line(site: NewsSite, status: int) -> None:
    site.resources["/e"] = Resource(status=status, body=b"oops")
    with fetcher() as web, pytest.raises(FetchError, match=f"^HTTP {status} from ") as raised:
        web.page(site.url + "/e", robots=False)
    assert "\n" not in str(raised.value)


def test_a_stalled_server_times_out(site: NewsSite) -> None:
    site.resources["/slow"] = Resource(body=b"<p>late</p>", delay_s=3)
    with fetcher(timeout=0.5) as web, pytest.raises(FetchError, match="timed out"):
        web.page(site.url + "/slow", robots=False)


def test_a_page_that_is_not_html_is_refused(site: NewsSite) -> None:
    site.resources["/report.pdf"] = Resource(body=b"%PDF-1.7", content_type="application/pdf")
    with fetcher() as web, pytest.raises(FetchError, match="is application/pdf, not text/html"):
        web.page(site.url + "/report.pdf", robots=False)
    with fetcher() as web, pytest.raises(FetchError, match="not application/rss"):
        web.get(site.page("/p.html", "P", "A page, not a feed."), FEED_TYPES)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/a", "javascript:alert(1)", "http://"])
def test_only_http_and_https_urls_are_fetched(url: str) -> None:
    with fetcher() as web, pytest.raises(FetchError):
        web.get(url, PAGE_TYPES)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_loopback_is_refused_unless_allowed(site: NewsSite, host: str) -> None:
    url = site.page("/local.html", "Local", "A page on the loopback.").replace("127.0.0.1", host)
    with (
        Fetcher(Settings(fetch=FetchSettings(host_delay=0))) as web,
        pytest.raises(FetchError, match="loopback or private") as refused,
    ):
        web.page(url, robots=False)
    assert site.hits["/local.html"] == 0  # refused before connecting
    if host == "localhost":  # the message may reach an API client: it names the host, never the address
        assert "127.0.0.1" not in str(refused.value) and "::1" not in str(refused.value)
    with Fetcher(Settings(fetch=FetchSettings(host_delay=0)), trusted=True) as web:  # the CLI's own user
        assert web.page(url, robots=False).status == 200


def test_metadata_addresses_are_refused_even_on_a_redirect_hop(site: NewsSite) -> None:
    site.resources["/to-metadata"] = Resource(status=302, location="http://169.254.169.254/latest/meta-data/")
    with fetcher() as web, pytest.raises(FetchError, match="cloud metadata"):
        web.page(site.url + "/to-metadata", robots=False)
    assert site.hits["/to-metadata"] == 1  # the first hop was fetched, the second refused


@pytest.mark.parametrize(
    ("address", "private_allowed", "refused"),
    [
        ("93.184.216.34", False, None),
        ("2606:4700::1111", False, None),
        ("10.1.2.3", False, "private"),
        ("192.168.0.10", False, "private"),
        ("172.16.5.4", False, "private"),
        ("100.64.0.1", False, "private"),
        ("::1", False, "loopback"),
        ("::ffff:127.0.0.1", False, "loopback"),
        ("fc00::1", False, "private"),
        ("10.1.2.3", True, None),
        ("169.254.169.254", True, "metadata"),
        ("fd00:ec2::254", True, "metadata"),
        ("169.254.1.1", True, "link-local"),
        ("fe80::1", True, "link-local"),
        ("224.0.0.251", True, "multicast"),
        ("0.0.0.0", True, "reserved"),
        # IPv6 addresses that carry an IPv4 one reach it: 6to4, NAT64 and Teredo are judged by the one they carry.
        ("2002:a00:5::1", False, "private"),
        ("2002:7f00:1::1", False, "loopback"),
        ("2002:a9fe:a9fe::1", True, "metadata"),
        ("2002:5db8:d822::1", False, None),
        ("64:ff9b::a9fe:a9fe", True, "metadata"),
        ("64:ff9b::a00:5", False, "private"),
        ("2001:0:4136:e378:8000:63bf:5601:5601", True, "metadata"),  # the client, bits inverted
    ],
)
def test_address_policy(address: str, private_allowed: bool, refused: str | None) -> None:
    reason = refusal(ipaddress.ip_address(address), private_allowed)
    assert (reason is None) if refused is None else (reason is not None and refused in reason)


def test_robots_txt_is_respected_for_crawling_only(site: NewsSite) -> None:
    site.resources["/robots.txt"] = Resource(body=b"User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    url = site.page("/private/a.html", "Private", "Not for crawlers.")
    with fetcher() as web:
        with pytest.raises(FetchError, match=r"robots\.txt"):
            web.page(url, robots=True)
        assert web.page(url, robots=False).status == 200  # a page a user asked for
        assert web.page(site.page("/public.html", "Public", "For all."), robots=True).status == 200
    assert site.hits["/robots.txt"] == 1  # read once per host


def test_robots_txt_failing_with_5xx_means_crawl_nothing(site: NewsSite) -> None:
    site.resources["/robots.txt"] = Resource(status=503)
    with fetcher() as web, pytest.raises(FetchError, match=r"robots\.txt .* could not be read"):
        web.page(site.page("/a.html", "A", "Text."), robots=True)


def test_conditional_get_gives_not_modified(site: NewsSite) -> None:
    site.resources["/feed.xml"] = Resource(body=b"<rss/>", content_type="application/rss+xml", etag='"v7"')
    with fetcher() as web:
        first = web.feed(site.url + "/feed.xml")
        second = web.feed(site.url + "/feed.xml", etag=first.etag, last_modified=first.last_modified)
    assert first.etag == '"v7"' and not first.not_modified
    assert second.not_modified and second.content == b""
    assert site.requests[-1][1]["If-None-Match"] == '"v7"'


def test_requests_to_one_host_are_spaced(site: NewsSite) -> None:
    import time

    url = site.page("/a.html", "A", "Text.")
    with fetcher(host_delay=0.4) as web:
        started = time.monotonic()
        for _ in range(3):
            web.page(url, robots=False)
        assert time.monotonic() - started >= 0.8


@pytest.mark.parametrize(
    "url",
    [
        "http://0177.0.0.1/",
        "http://[::1",
        "http://[::1]:abc/",
        "http://xn--/",
        "http://exa\x01mple.com/",
        "http://user:secret@example.com/a",
        "http://:secret@example.com/a",
        "javascript:alert(1)",
    ],
)
def test_a_malformed_url_is_a_one_line_refusal(url: str) -> None:
    with pytest.raises(FetchError) as refused:
        check_url(url)
    with fetcher() as web, pytest.raises(FetchError):
        web.page(url, robots=False)
    message = str(refused.value)
    assert "\n" not in message and "\x01" not in message and "secret" not in message


@pytest.mark.parametrize(
    "location", ["http:\\\\x\\", "data:text/html,<p>hi</p>", "http://[::1/x", "file:///etc/passwd"]
)
def test_a_malformed_or_foreign_redirect_is_a_one_line_refusal(site: NewsSite, location: str) -> None:
    site.resources["/moved"] = Resource(status=302, location=location)
    with fetcher() as web, pytest.raises(FetchError) as refused:
        web.page(site.url + "/moved", robots=False)
    assert "\n" not in str(refused.value)


def test_one_deadline_covers_headers_dripped_a_byte_at_a_time(site: NewsSite) -> None:
    site.resources["/drip.html"] = Resource(drip_s=0.05)  # ~2,500 bytes of headers: two minutes at this rate
    started = time.monotonic()
    with fetcher(timeout=1) as web, pytest.raises(FetchError, match="timed out"):
        web.page(site.url + "/drip.html", robots=False)
    assert time.monotonic() - started < 10  # the deadline, not the headers' end, stopped it


def test_one_deadline_covers_every_redirect_hop(site: NewsSite) -> None:
    site.page("/end.html", "End", "The end of the chain.")
    for hop in range(4):
        site.resources[f"/slow{hop}"] = Resource(status=302, location=f"/slow{hop + 1}", delay_s=1.2)
    site.resources["/slow4"] = Resource(status=302, location="/end.html", delay_s=1.2)
    started = time.monotonic()
    with fetcher(timeout=1.5) as web, pytest.raises(FetchError, match="timed out"):
        web.page(site.url + "/slow0", robots=False)  # each hop within the limit, all of them far past it
    assert time.monotonic() - started < 4


def test_one_deadline_covers_robots_txt(site: NewsSite) -> None:
    site.resources["/robots.txt"] = Resource(content_type="text/plain", drip_s=0.05)
    started = time.monotonic()
    with fetcher(timeout=1) as web, pytest.raises(FetchError, match=r"robots\.txt .* timed out"):
        web.page(site.page("/a.html", "A", "Text."), robots=True)
    assert time.monotonic() - started < 10


def test_a_huge_robots_txt_is_read_up_to_its_first_500_kib(site: NewsSite) -> None:
    rules = b"User-agent: *\nDisallow: /private/\n"
    site.resources["/robots.txt"] = Resource(body=rules + b"# padding\n" * 1_200_000, content_type="text/plain")
    with fetcher() as web:
        assert web.page(site.page("/open.html", "Open", "For all."), robots=True).status == 200
        with pytest.raises(FetchError, match="disallows"):
            web.page(site.page("/private/a.html", "Private", "Not for crawlers."), robots=True)


def test_feeds_under_common_unregistered_types_are_fetched(site: NewsSite) -> None:
    for kind in ("application/x-rss+xml", "text/plain"):
        site.resources["/feed"] = Resource(body=b"<rss/>", content_type=kind)
        with fetcher() as web:
            assert web.feed(site.url + "/feed").content == b"<rss/>"


def test_deflate_bodies_are_decoded_with_or_without_zlib_header(site: NewsSite) -> None:
    page = b"<html><body><p>deflated page</p></body></html>"
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    for name, body in (("zlib", zlib.compress(page)), ("raw", raw.compress(page) + raw.flush())):
        site.resources[f"/{name}.html"] = Resource(body=body, headers={"Content-Encoding": "deflate"})
        with fetcher() as web:
            assert web.page(f"{site.url}/{name}.html", robots=False).content == page


def test_a_users_trust_does_not_follow_a_redirect_to_another_host(site: NewsSite) -> None:
    page = site.page("/target.html", "Target", "A page on the loopback.")
    typed = site.url.replace("127.0.0.1", "localhost")
    site.resources["/elsewhere"] = Resource(status=302, location=page)  # to 127.0.0.1: another host
    site.resources["/same-host"] = Resource(status=302, location="/target.html")
    with Fetcher(Settings(fetch=FetchSettings(host_delay=0)), trusted=True) as web:
        assert web.page(typed + "/same-host", robots=False).status == 200
        with pytest.raises(FetchError, match="loopback or private"):
            web.page(typed + "/elsewhere", robots=False)
    assert site.hits["/target.html"] == 1
