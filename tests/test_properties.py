"""Property-based tests (hypothesis): loaders, chunker, questions and filters on whatever input comes.

Loaders turn any bytes into articles or one-line failures, never an exception; chunks tile the text with exact
offsets; any question within the limit gets an answer or a one-line error; any filter a clear result."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from qa.api import create_app
from qa.articles import SUPPORTED_SUFFIXES, parse_date, read_articles
from qa.chunking import chunk_article
from qa.cli import _date_option
from qa.config import Limits, Settings
from qa.controls import strip_controls
from qa.embeddings import MiniLMEmbeddings
from qa.engine import Engine
from qa.errors import ArticleError, InvalidQuestionError, QAError
from qa.models import Article
from qa.query import MAX_QUESTION_CHARS, parse_query

# Any Unicode the loaders may meet, control, zero-width and right-to-left marks included.
ANY_TEXT = st.text(
    st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(
            ["\u200b", "\u200d", "\u2060", "\ufeff", "\u202e", "\u202c", "\u05d0", "\u0627", "\x00", "\x1b"]
        ),
    ),
    max_size=3000,
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | ANY_TEXT,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(ANY_TEXT, children, max_size=5),
    max_leaves=30,
)
EXAMPLES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
LOADER_SETTINGS = Settings(data_dir=Path("/nonexistent"), max=Limits(file_mb=2, article_chars=200_000))


def assert_loaded(path: Path) -> list[Article]:
    """Reading never raises: each item is an article with text, or a failure with a one-line reason."""
    articles = []
    for item in read_articles(path, LOADER_SETTINGS):
        if isinstance(item, Article):
            assert item.text.strip() and item.title.strip() == item.title and "\n" not in item.title
            articles.append(item)
        else:
            assert item.reason and "\n" not in item.reason, item.reason
    return articles


@EXAMPLES
@given(data=st.binary(max_size=4000), suffix=st.sampled_from(sorted(SUPPORTED_SUFFIXES)))
def test_any_bytes_load_or_fail_in_one_line(tmp_path: Path, data: bytes, suffix: str):
    path = tmp_path / f"random{suffix}"
    path.write_bytes(data)
    assert_loaded(path)


@EXAMPLES
@given(text=ANY_TEXT, suffix=st.sampled_from(sorted(SUPPORTED_SUFFIXES)))
def test_any_unicode_text_loads_or_fails_in_one_line(tmp_path: Path, text: str, suffix: str):
    path = tmp_path / f"unicode{suffix}"
    path.write_text(text, encoding="utf-8")
    for article in assert_loaded(path):
        if suffix in {".txt", ".md", ".markdown"}:
            assert article.text in text.replace("\r\n", "\n").replace("\r", "\n")


@EXAMPLES
@given(records=st.lists(JSON_VALUES, max_size=5), as_lines=st.booleans())
def test_any_json_records_load_or_fail_in_one_line(tmp_path: Path, records: list[object], as_lines: bool):
    path = tmp_path / ("records.jsonl" if as_lines else "records.json")
    path.write_text("\n".join(json.dumps(r) for r in records) if as_lines else json.dumps(records))
    assert_loaded(path)


def test_pathological_files_fail_in_one_line_or_load(tmp_path: Path):
    nested = tmp_path / "nested.json"
    nested.write_text("[" * 100_000 + "]" * 100_000)
    huge = tmp_path / "huge.json"
    huge.write_text(json.dumps([{"title": "t", "text": "word " * 600_000}]))
    long_line = tmp_path / "long_line.txt"
    long_line.write_text("Headline\n\n" + "x" * 1_000_000)
    deep_record = tmp_path / "deep.jsonl"
    deep_record.write_text(json.dumps({"title": "t", "text": "ok"}) + "\n" + '{"text": ' + "[" * 50_000 + "\n")
    reasons = {
        path.name: [item.reason for item in read_articles(path, LOADER_SETTINGS) if not isinstance(item, Article)]
        for path in (nested, huge, deep_record)
    }
    assert reasons["nested.json"] == ["JSON nested too deeply"]
    assert reasons["huge.json"] == ["file too large (2.9 MB > 2 MB; raise QA_MAX_FILE_MB)"]
    assert reasons["deep.jsonl"] == ["JSON nested too deeply"]
    (article,) = read_articles(long_line, Settings(data_dir=tmp_path))
    chunks = chunk_article(article, chunk_words=120, overlap_words=30)
    assert "".join(chunk.text for chunk in chunks).count("x") >= 1_000_000


@EXAMPLES
@given(text=ANY_TEXT.filter(str.strip), words=st.integers(20, 180), overlap=st.integers(0, 60))
def test_chunks_cover_the_text_with_exact_in_bounds_monotonic_offsets(text: str, words: int, overlap: int):
    article = Article(id="a", title="t", text=text)
    chunks = chunk_article(article, chunk_words=words, overlap_words=overlap)
    assert [chunk.ordinal for chunk in chunks] == list(range(len(chunks)))
    covered = set()
    for before, chunk in zip([None, *chunks], chunks, strict=False):
        assert 0 <= chunk.start < chunk.end <= len(text)
        assert chunk.text == text[chunk.start : chunk.end]
        if before is not None:
            assert before.start < chunk.start and before.end < chunk.end
        covered.update(range(chunk.start, chunk.end))
    assert all(i in covered for i, char in enumerate(text) if not char.isspace())


@pytest.fixture(scope="module")
def seeded_engine(tmp_path_factory: pytest.TempPathFactory, embeddings) -> Engine:
    from .conftest import SEEDS

    engine = Engine(Settings(data_dir=tmp_path_factory.mktemp("properties") / "data"), embeddings)
    engine.ingest([SEEDS])
    return engine


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(question=st.text(st.characters(codec="utf-8"), max_size=MAX_QUESTION_CHARS + 50))
def test_any_question_gets_an_answer_with_exact_quotes_or_a_one_line_error(seeded_engine: Engine, question: str):
    try:
        answer = seeded_engine.ask(parse_query(question=question))
    except InvalidQuestionError as error:
        assert "\n" not in str(error)
        asked = strip_controls(question).strip()  # what every shell asks: the question without control characters
        assert not asked or len(asked) > MAX_QUESTION_CHARS
        return
    assert answer.refused or answer.citations
    for citation in answer.citations:
        assert seeded_engine.get_article(citation.article.id).text[citation.start : citation.end] == citation.quote


@EXAMPLES
@given(value=ANY_TEXT)
def test_any_date_text_parses_or_is_a_one_line_error(value: str):
    try:
        assert isinstance(parse_date(value), date)
    except ArticleError as error:
        assert "\n" not in str(error)
    try:
        _date_option("--since", value)
    except QAError as error:
        assert str(error).startswith("--since: not a date") and "\n" not in str(error)


# The same story from three publishers on six days, so that a filter can pass some, all or none of them.
DATED = [
    {
        "id": f"dated-{day}",
        "title": f"NATO expels Russian officials ({source})",
        "text": f"NATO expelled eight Russians accredited to the alliance, {source} reported on October {day}, "
        "saying they were intelligence agents.",
        "date": f"2021-10-{day:02d}",
        "source": source,
    }
    for day, source in zip(range(1, 7), ["Reuters", "AP", "RFE/RL"] * 2, strict=True)
]
FILTER_DAYS = st.none() | st.dates(min_value=date(2021, 9, 28), max_value=date(2021, 10, 9))
FILTER_SOURCES = st.none() | st.sampled_from(["Reuters", " reuters ", "AP", "RFE/RL", "", "   "]) | ANY_TEXT


@pytest.fixture(scope="module")
def dated_engine(tmp_path_factory: pytest.TempPathFactory, embeddings: MiniLMEmbeddings) -> Engine:
    engine = Engine(Settings(data_dir=tmp_path_factory.mktemp("dated") / "data"), embeddings)
    assert engine.ingest_records(DATED).failed == []
    return engine


def passes(record: dict, since: date | None, until: date | None, source: str | None) -> bool:
    published = date.fromisoformat(record["date"])
    wanted = (source or "").strip().lower()
    return (
        (since is None or since <= published)
        and (until is None or published <= until)
        and (not wanted or record["source"].lower() == wanted)
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(source=FILTER_SOURCES, since=FILTER_DAYS, until=FILTER_DAYS)
def test_any_filter_gives_an_answer_from_passing_articles_or_a_refusal(
    dated_engine: Engine, source: str | None, since: date | None, until: date | None
):
    try:
        query = parse_query(question="How many Russians did NATO expel?", since=since, until=until, source=source)
    except InvalidQuestionError as error:  # a window that ends before it starts, a publisher name over 200
        assert (since and until and since > until) or len(source or "") > 200, error
        return
    answer = dated_engine.ask(query)

    passing = {record["id"] for record in DATED if passes(record, since, until, source)}
    event("some articles pass" if passing else "no article passes")
    if not passing:
        assert answer.refused, answer
        return
    # Every article answers the question: an answer must come, and only from articles that pass.
    assert not answer.refused and answer.citations, (since, until, source, answer)
    assert {citation.article.id for citation in answer.citations} <= passing, (since, until, source, answer)


def test_bad_filters_over_http_are_a_422_naming_the_field(seeded_engine: Engine):
    client = TestClient(create_app(seeded_engine.settings, seeded_engine))
    response = client.post("/v1/ask", json={"question": "NATO?", "since": "yesterday-ish"})
    assert response.status_code == 422 and "since" in response.json()["error"]["message"]
    unknown = client.post("/v1/ask", json={"question": "How many Russians did NATO expel?", "source": "No Such Paper"})
    assert unknown.status_code == 200 and unknown.json()["refused"]
