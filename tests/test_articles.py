"""Reading files and records into articles, and every kind of bad input."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from qa.articles import LoadFailure, article_from_record, discover_files, parse_date, read_articles
from qa.config import Settings
from qa.errors import ArticleError
from qa.models import Article

from .conftest import ROOT, SEEDS

SETTINGS = Settings(data_dir=Path("/nonexistent"))


def read_one(path: Path) -> Article | LoadFailure:
    [result] = read_articles(path, SETTINGS)
    return result


def test_txt_title_is_first_line_and_id_is_stable():
    article = read_one(SEEDS / "000_133c750ab31475f0.txt")
    assert isinstance(article, Article)
    assert article.title == "Stoltenberg Condemns NATO’s Afghanistan Withdrawal as “Biggest Defeat”"
    assert article.source is None
    assert article.text.startswith(article.title)
    assert read_one(SEEDS / "000_133c750ab31475f0.txt").id == article.id
    assert len(article.content_hash) == 64


def test_txt_provenance_line_gives_source_and_is_not_the_title():
    article = read_one(SEEDS / "004_ea751519490200ce.txt")
    assert isinstance(article, Article)
    assert article.source == "Radio Free Europe/Radio Liberty"
    assert article.title.startswith("NATO Secretary-General Jens Stoltenberg")
    assert article.text == (SEEDS / "004_ea751519490200ce.txt").read_text().strip()


def test_markdown_title_drops_heading_marks(tmp_path: Path):
    path = tmp_path / "story.md"
    path.write_text("# Storm hits coast\n\nA storm hit the coast on Monday.\n")
    article = read_one(path)
    assert isinstance(article, Article)
    assert article.title == "Storm hits coast"


def test_html_main_text_and_metadata_come_from_trafilatura(tmp_path: Path):
    body = "<p>" + "The council approved the new budget after a long debate on Tuesday. " * 8 + "</p>"
    path = tmp_path / "page.html"
    path.write_text(
        "<html><head><title>Budget approved | Daily News</title>"
        "<meta name='author' content='Jane Doe'><meta property='og:site_name' content='Daily News'>"
        "<meta property='article:published_time' content='2023-01-05T10:00:00Z'></head>"
        f"<body><nav>Home | Sports | Weather</nav><article><h1>Budget approved</h1>{body}</article>"
        "<footer>Copyright Daily News</footer></body></html>"
    )
    article = read_one(path)
    assert isinstance(article, Article)
    assert article.title.startswith("Budget approved")
    assert article.author == "Jane Doe"
    assert article.source == "Daily News"
    assert article.published == date(2023, 1, 5)
    assert "council approved the new budget" in article.text
    assert "Home | Sports" not in article.text


def test_json_object_and_list(tmp_path: Path):
    record = {"title": "A", "body": "Body text here.", "url": "https://www.example.com/a", "date": "2023-02-01"}
    (tmp_path / "one.json").write_text(json.dumps(record))
    (tmp_path / "many.json").write_text(json.dumps([record, {"title": "B", "text": "More text.", "id": "b-1"}]))
    one = read_one(tmp_path / "one.json")
    assert isinstance(one, Article)
    assert (one.source, one.published, one.text) == ("example.com", date(2023, 2, 1), "Body text here.")
    many = read_articles(tmp_path / "many.json", SETTINGS)
    assert [a.id for a in many if isinstance(a, Article)] == [one.id, "b-1"]


def test_jsonl_bad_lines_are_reported_and_the_rest_read(tmp_path: Path):
    path = tmp_path / "feed.jsonl"
    path.write_text(
        '{"id": "1", "title": "Good", "text": "Good text.", "published": "2023-01-05"}\n'
        "{not json\n"
        '{"id": "3", "title": "No text"}\n'
        '{"id": "4", "text": "Bad date.", "date": "someday"}\n'
        "[1, 2]\n"
        '{"id": "6", "title": "Also good", "text": "More good text.", "week": "2023-01-13"}\n'
    )
    results = read_articles(path, SETTINGS)
    good = [r for r in results if isinstance(r, Article)]
    bad = {r.location: r.reason for r in results if isinstance(r, LoadFailure)}
    assert [a.id for a in good] == ["1", "6"]
    assert good[1].published == date(2023, 1, 13)
    assert bad == {
        f"{path}:2": bad[f"{path}:2"],
        f"{path}:3": "missing 'text' or 'body'",
        f"{path}:4": "invalid date 'someday'",
        f"{path}:5": "expected a JSON object, got list",
    }
    assert bad[f"{path}:2"].startswith("invalid JSON")


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.txt", b"", "empty file"),
        ("blank.md", b"  \n\n \t\n", "empty file"),
        ("binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary file, not text"),
        ("latin1.txt", "Caf\xe9 au lait".encode("latin-1"), "not UTF-8 text (invalid byte at offset 3)"),
        (
            "broken.json",
            b'{"title": "x", ',
            "invalid JSON at line 1: Expecting property name enclosed in double quotes",
        ),
        ("nothing.json", b"[]", "no records in the JSON list"),
        ("no_text.json", b'{"title": "Only a title"}', "missing 'text' or 'body'"),
        ("empty.html", b"<html><body><script>var x = 1;</script></body></html>", "no article text found in the HTML"),
    ],
)
def test_bad_files_fail_with_one_clear_reason(tmp_path: Path, name: str, content: bytes, reason: str):
    path = tmp_path / name
    path.write_bytes(content)
    assert read_one(path) == LoadFailure(location=str(path), reason=reason)


def test_file_over_the_size_limit_is_skipped_unread(tmp_path: Path):
    path = tmp_path / "huge.txt"
    with path.open("wb") as handle:  # sparse: 50 MB without writing 50 MB
        handle.truncate(50 * 1024 * 1024)
    failure = read_one(path)
    assert failure == LoadFailure(location=str(path), reason="file too large (50.0 MB > 40 MB; raise QA_MAX_FILE_MB)")


def test_discover_walks_folders_and_reports_what_yields_nothing(tmp_path: Path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "deep.txt").write_text("Deep\nText.")
    (tmp_path / "a" / "notes.pdf").write_bytes(b"%PDF")
    (tmp_path / "empty").mkdir()
    found = list(
        discover_files([tmp_path / "a", tmp_path / "empty", tmp_path / "missing.txt", tmp_path / "a/notes.pdf"])
    )
    assert found[0] == tmp_path / "a" / "b" / "deep.txt"
    assert [f.reason.split(" (")[0] for f in found[1:] if isinstance(f, LoadFailure)] == [
        "no article files found",
        "no such file or folder",
        "unsupported file type",
    ]


def test_dates_in_common_forms():
    assert parse_date("2023-01-05") == date(2023, 1, 5)
    assert parse_date("2023-01-05T23:10:00+02:00") == date(2023, 1, 5)
    assert parse_date("January 5, 2023") == date(2023, 1, 5)
    with pytest.raises(ArticleError, match="invalid date"):
        parse_date("not a date")


def test_record_without_id_or_url_gets_an_id_from_path_and_position(tmp_path: Path):
    first = article_from_record({"text": "x"}, path=tmp_path / "f.jsonl", index=1, settings=SETTINGS)
    second = article_from_record({"text": "x"}, path=tmp_path / "f.jsonl", index=2, settings=SETTINGS)
    assert first.id != second.id
    assert first.title == "x"


def test_the_benchmark_corpus_reads_as_it_is():
    path = ROOT.parent / "shared" / "benchmarks" / "realtimeqa-2023q1" / "articles.jsonl"
    results = read_articles(path, SETTINGS)
    articles = [r for r in results if isinstance(r, Article)]
    assert len(results) == len(articles) == 2388
    assert all(a.published is not None and a.title and a.source for a in articles)
    assert len({a.id for a in articles}) == 2388
