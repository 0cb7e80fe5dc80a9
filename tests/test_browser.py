"""End to end in a real headless Chromium (Debian's, driven by playwright): the chat as a reader meets it."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from .conftest import DATA, ROOT, SEEDS, free_port
from .news_site import RSS, NewsSite, Resource, rss

# Where the screenshots are left for people to look at (benchmarks/chat_latency.py measures the timings).
ARTIFACTS = ROOT / "build" / "browser"
# The hostile corpus but its NATO injection (tests/test_hostile_articles.py), which would join the seed answers.
HOSTILE = ["markup.txt", "fake_citations.txt", "script.html"]
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def chat_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`streamlit run ui/app.py` on a free port over the seeds and hostile articles, ingested by the real CLI."""
    data = tmp_path_factory.mktemp("browser") / "data"
    env = {**os.environ, "QA_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env |= {"QA_FETCH_PRIVATE": "true", "QA_FETCH_HOST_DELAY": "0"}  # feeds and pages from a site on loopback
    env.pop("QA_CHROMA_URL", None)
    bin_dir = Path(sys.executable).parent
    hostile = [DATA / "hostile" / name for name in HOSTILE]
    story = DATA / "story" / "articles.jsonl"  # a strike over five days (tests/test_timeline.py)
    subprocess.run([bin_dir / "qa", "ingest", SEEDS, *hostile, story], env=env, check=True, capture_output=True)
    port = free_port()
    log_path = data.parent / "streamlit.log"
    server = subprocess.Popen(
        [bin_dir / "streamlit", "run", "ui/app.py", "--server.port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            raise RuntimeError(f"streamlit did not start: {log_path.read_text()[-2000:]}")
        time.sleep(0.3)
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=20)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium")
    if chromium is None:
        raise RuntimeError("Debian's chromium is not installed: run `make browser` (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, chat_url: str) -> Iterator[Page]:
    """The chat in a fresh browser context; after the test, every request the page made went to the app alone."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    page = context.new_page()
    page.goto(chat_url)
    page.get_by_test_id("stChatInputTextArea").wait_for(timeout=90_000)
    yield page
    page.wait_for_timeout(500)  # icons and fonts load after the reply
    context.close()
    app = urlsplit(chat_url).netloc
    assert requested and any("/_stcore/" in url for url in requested)
    elsewhere = [
        url for url in requested if urlsplit(url).scheme not in ("data", "blob") and urlsplit(url).netloc != app
    ]
    assert elsewhere == [], elsewhere  # the chat runs offline: nothing from anywhere but its own server


def ask(page: Page, question: str) -> Locator:
    """Type the question, press Enter, wait for the whole reply (its feedback thumbs come last); return the reply."""
    replies = page.get_by_test_id("stChatMessage").filter(has=page.get_by_test_id("stChatMessageAvatarAssistant"))
    count = replies.count()
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(question)
    box.press("Enter")
    reply = replies.nth(count)
    reply.get_by_test_id("stFeedback").wait_for(timeout=60_000)
    return reply


def test_question_answer_citation_and_export(page: Page) -> None:
    first = ask(page, "Which country established diplomatic ties with the Taliban government?")
    expect(first).to_contain_text("Russia")
    answer = ask(page, "How many Russians did NATO expel?")
    expect(answer).to_contain_text("NATO expelled eight Russians accredited to the alliance")
    expect(answer).to_contain_text("[1]")
    answer.get_by_test_id("stExpander").filter(has_text="[1]").click()
    highlighted = answer.locator(".stMarkdownColoredBackground")  # the passage's quoted sentences, merged
    expect(highlighted).to_contain_text(
        "Earlier this month, NATO expelled eight Russians accredited to the alliance, "
        "saying they were intelligence agents."
    )
    expect(answer).to_contain_text("NATO also halved the number of accredited positions for Russia to 10.")
    expect(page.get_by_test_id("stChatMessage")).to_have_count(4)  # the conversation so far, both turns
    status = answer.get_by_test_id("stExpander").filter(has_text="Searched").first
    status.click()
    expect(status).to_contain_text("Searched for: How many Russians did NATO expel?")
    expect(status).to_contain_text("Timings: retrieve")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(500)  # let the expander finish opening before the picture
    page.screenshot(path=ARTIFACTS / "chat.png", full_page=True)

    with page.expect_download() as download:
        page.get_by_test_id("stDownloadButton").get_by_role("button").click()
    exported = Path(download.value.path()).read_text()
    assert "## How many Russians did NATO expel?" in exported
    quoted = exported[exported.index("## How many Russians did NATO expel?") :].split("   > ", 1)[1]
    assert "NATO expelled eight Russians accredited to the alliance" in quoted.split("(characters")[0]


def test_a_story_question_gets_dated_entries_and_a_chart_of_its_days(page: Page) -> None:
    timeline = ask(page, "What happened with the port strike?")
    expect(timeline).to_contain_text("3 Mar 2025")
    expect(timeline).to_contain_text("Updated: 1,200 members → 1,500 members.")
    expect(timeline).to_contain_text("Outlets differ: Harbor Times: 40 ships · Coastal Wire: 55 ships.")
    expect(timeline.get_by_test_id("stVegaLiteChart")).to_be_visible()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / "timeline.png", full_page=True)
    page.get_by_test_id("stSidebar").get_by_text("Sentences", exact=True).click()
    sentences = ask(page, "What happened with the port strike?")
    expect(sentences).not_to_contain_text("Updated:")
    expect(sentences.get_by_test_id("stVegaLiteChart")).to_have_count(0)


def test_hostile_article_text_cannot_inject_markup(page: Page) -> None:
    answer = ask(page, "How many passengers will the night ferry carry?")
    expect(answer).to_contain_text("140 passengers")
    source = answer.get_by_test_id("stExpander").filter(has_text="Harbor Council")
    source.click()
    expect(answer.locator(".stMarkdownColoredBackground")).to_contain_text("140 passengers")
    # Shown as the text it is: tags, Markdown images and links, directives and math all come out literally.
    for literal in ["<img src=x onerror=", "![tracker](http:", "[click here](", ":red[urgent]", "$x^2$"]:
        expect(answer).to_contain_text(literal)
    expect(source).to_contain_text("<img src=x onerror=")
    time.sleep(1)  # give any injected handler the chance to run
    assert page.evaluate("window.pwned") is None
    assert page.evaluate("document.querySelectorAll('main img, main script').length") == 0
    hrefs = page.evaluate("Array.from(document.querySelectorAll('a')).map(a => a.href)")
    assert not [href for href in hrefs if "evil" in href or href.startswith("javascript")]
    page.screenshot(path=ARTIFACTS / "hostile.png", full_page=True)


def test_markers_and_scripts_inside_articles_stay_text(page: Page) -> None:
    answer = ask(page, "What shifts will the lighthouse keepers work?")
    expect(answer).to_contain_text("four-week shifts (2)")
    shown = answer.get_by_test_id("stMarkdownContainer").filter(has_text="four-week shifts").first.inner_text()
    numbers = set(re.findall(r"\[(\d+)\]", shown))
    sources = answer.get_by_test_id("stExpander").filter(has_text=re.compile(r"\[\d+\] \w"))
    assert numbers and sources.count() == len(numbers), answer.inner_text()
    # A title's own "[1]" is text in the source's heading too.
    expect(sources.first).to_contain_text("Lighthouse keepers return to Skerry Point (1)")
    tram = ask(page, "How many new stops will the Marlow tram line add?")
    expect(tram).to_contain_text("12 new stops")
    time.sleep(1)
    assert page.evaluate("window.pwned") is None
    assert page.evaluate("document.querySelectorAll('main script, main iframe, main svg[onload]').length") == 0


def test_a_feed_and_a_web_page_added_in_the_sidebar_are_counted_and_answered(page: Page, site: NewsSite) -> None:
    wire = [
        site.page("/wire/library.html", "Library milestone", "The Tartu library lent its two millionth book."),
        site.page("/wire/tram.html", "Trams ordered", "The Ostrava tram depot ordered fourteen new trams."),
    ]
    site.resources["/wire.xml"] = Resource(body=rss(wire, title="Baltic Wire"), content_type=RSS)
    aquarium = site.page("/aquarium.html", "A rare visitor", "The Lisbon aquarium welcomed a sunfish named Mola.")
    sidebar = page.get_by_test_id("stSidebar")
    counted = sidebar.get_by_text(re.compile(r"^Articles \([\d,]+\)$"))
    before = int(re.sub(r"\D", "", counted.inner_text()))

    sidebar.get_by_text(re.compile(r"^Feeds \(0\)$")).click()
    sidebar.get_by_label("Feed URL (RSS or Atom)").fill(site.url + "/wire.xml")
    sidebar.get_by_role("button", name="Follow feed").click()
    sidebar.get_by_text("Feeds (1)").click(timeout=30_000)  # a new label: the panel is drawn closed again
    sidebar.get_by_role("button", name="Poll feeds now").click()
    expect(sidebar.get_by_text(f"Articles ({before + 2})")).to_be_visible(timeout=60_000)
    sidebar.get_by_text("Feeds (1)").click()
    expect(sidebar).to_contain_text("Baltic Wire · ok")

    sidebar.get_by_label("Web page").fill(aquarium)
    sidebar.get_by_role("button", name="Add page").click()
    expect(sidebar.get_by_text(f"Articles ({before + 3})")).to_be_visible(timeout=60_000)
    assert [site.hits[path] for path in ("/wire/library.html", "/wire/tram.html", "/aquarium.html")] == [1, 1, 1]

    library = ask(page, "Which library lent its two millionth book?")
    expect(library).to_contain_text("Tartu")
    expect(library.get_by_test_id("stExpander").filter(has_text="Library milestone")).to_be_visible()
    sunfish = ask(page, "What is the name of the sunfish at the Lisbon aquarium?")
    expect(sunfish).to_contain_text("Mola")
    page.screenshot(path=ARTIFACTS / "feeds.png", full_page=True)
