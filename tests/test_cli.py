"""The `qa` command line: the JSON contract, summaries, and one-line errors with non-zero exit codes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qa import cli, ingest
from qa.answer.scorer import read_manifest
from qa.embeddings import MiniLMEmbeddings
from qa.engine import Engine

from .chat_server import Reply, marker
from .conftest import ANSWER_KEYS, SEEDS

CITATION_KEYS = {
    "n", "article_id", "title", "source", "url", "path", "published", "quote", "start", "end", "score", "also_in",
    "dates",
}  # fmt: skip


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, embeddings: MiniLMEmbeddings):
    """Invoke the CLI against a fresh data directory, sharing the loaded model between commands."""
    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("QA_CHROMA_URL", raising=False)
    monkeypatch.setattr(cli, "open_engine", lambda: Engine(embeddings=embeddings))
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(cli.app, list(args))

    return invoke


def test_ingest_ask_json_stats_remove(run):
    ingested = run("ingest", str(SEEDS))
    assert ingested.exit_code == 0, ingested.output
    assert ingested.stdout.startswith("2 added, 0 updated, 0 skipped, 0 failed; ")

    asked = run("ask", "How many Russians did NATO expel?", "--json")
    assert asked.exit_code == 0, asked.output
    answer = json.loads(asked.stdout)
    assert set(answer) == ANSWER_KEYS
    assert set(answer["timings_ms"]) == {"retrieve", "answer", "total"}
    assert answer["refused"] is False and "eight" in answer["answer"]
    assert answer["short_answer"] == "eight" and "eight" in answer["citations"][0]["quote"]
    for citation in answer["citations"]:
        assert set(citation) == CITATION_KEYS
        text = Path(citation["path"]).read_text().strip()
        assert text[citation["start"] : citation["end"]] == citation["quote"]

    stats = run("stats", "--json")
    assert json.loads(stats.stdout)["articles"] == 2

    removed = run("remove", str(SEEDS / "000_133c750ab31475f0.txt"))
    assert removed.exit_code == 0 and removed.stdout.startswith("removed 1 article(s)")
    assert json.loads(run("stats", "--json").stdout)["articles"] == 1


def test_human_answer_shows_quotes(run):
    run("ingest", str(SEEDS))
    asked = run("ask", "How many Russians did NATO expel?")
    assert asked.exit_code == 0
    shown = re.match(r"(Possibly )?eight \[1\] · confidence (0\.\d\d)", asked.stdout)
    assert shown is not None
    assert (shown.group(1) is None) == (float(shown.group(2)) >= read_manifest().shown_threshold)
    quote = asked.stdout.split("\n\n[1] ", 1)[1].split("\n\n[2] ")[0]  # citation [1] and its quote
    assert "Earlier this month, NATO expelled eight Russians accredited to the alliance" in quote


def test_failed_files_are_listed_and_exit_non_zero(run, tmp_path: Path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "ok.txt").write_text("Title\nSome news text.")
    (folder / "empty.txt").write_text("")
    result = run("ingest", str(folder))
    assert result.exit_code == 1
    assert f"skipped {folder / 'empty.txt'}: empty file" in result.stderr
    assert result.stdout.startswith("1 added, 0 updated, 0 skipped, 1 failed; ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask", "   "], "Error: the question is empty"),
        (["ask", "x" * 4001], "Error: the question is too long (4,001 characters > 4,000)"),
        (["ask", "Who?", "--since", "yesterday-ish"], "Error: --since: not a date: 'yesterday-ish' (use YYYY-MM-DD)"),
        (["remove", "no-such-article"], "Error: no stored article has the id or path 'no-such-article' (see qa list)"),
    ],
)
def test_user_mistakes_are_one_line(run, args: list[str], message: str):
    result = run(*args)
    assert result.exit_code == 1
    assert result.stderr.strip() == message


def test_chat_answers_until_an_empty_line(run):
    run("ingest", str(SEEDS))
    result = CliRunner().invoke(cli.app, ["chat"], input="How many Russians did NATO expel?\n   \n")
    assert result.exit_code == 0, result.output
    assert "NATO expelled eight Russians" in result.stdout
    assert result.stdout.count("> ") == 2


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "QA_K",
            "many",
            "Error: invalid setting QA_K: Input should be a valid integer, unable to parse string as an integer",
        ),
        (
            "QA_CHROMA_URL",
            "localhost:8000",
            "Error: QA_CHROMA_URL must look like http://127.0.0.1:8000, got 'localhost:8000'",
        ),
        ("QA_CHROMA_URL", "http://127.0.0.1:9", "Error: cannot open the Chroma index (server http://127.0.0.1:9): "),
    ],
)
def test_bad_configuration_is_one_line(run, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str):
    monkeypatch.setenv(variable, value)
    result = run("stats")
    assert result.exit_code == 1
    assert result.stderr.startswith(message)
    assert result.stderr.count("\n") == 1


def test_chat_with_the_llm_streams_and_carries_the_subject(run, monkeypatch: pytest.MonkeyPatch, chat_server):
    monkeypatch.setenv("QA_LLM_BASE_URL", chat_server.url)
    monkeypatch.setenv("QA_LLM_MODEL", "scripted")
    run("ingest", str(SEEDS))
    chat_server.script(
        Reply(lambda r: f"Jens Stoltenberg is a former NATO Secretary General {marker(r, 'Former NATO Secretary')}."),
        Reply("What did Jens Stoltenberg say about Afghanistan?"),
        Reply(lambda r: f"He called it the biggest defeat of NATO {marker(r, 'biggest defeat')}."),
    )
    questions = "Who is Jens Stoltenberg?\nWhat did he say about Afghanistan?\n\n"
    result = CliRunner().invoke(cli.app, ["chat", "--engine", "llm"], input=questions)
    assert result.exit_code == 0, result.output
    # The streamed draft, then the checked answer with its [1] and the quoted source.
    assert "He called it the biggest defeat of NATO. [1]" in result.stdout
    assert "(searched for: What did Jens Stoltenberg say about Afghanistan?)" in result.stdout
    assert "“This is the biggest defeat of NATO." in result.stdout
    assert "Who is Jens Stoltenberg?" in chat_server.requests[1]["messages"][-1]["content"]


def test_an_llm_engine_without_an_endpoint_is_one_line(run):
    result = run("ask", "Who is Jens Stoltenberg?", "--engine", "llm")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: the llm engine needs QA_LLM_BASE_URL")
    assert result.stderr.count("\n") == 1


def test_a_file_that_vanishes_or_cannot_be_read_is_one_line_and_the_rest_is_ingested(
    run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.txt", "b.txt", "c.txt"):
        (folder / name).write_text(f"Title {name}\nNews from the harbour about {name}.")
    (folder / "gone.txt").symlink_to(tmp_path / "nowhere.txt")
    listed = ingest.discover_files

    def listing_then_removing(paths):  # another process deletes b.txt after the folder was listed
        found = list(listed(paths))
        (folder / "b.txt").unlink()
        return iter(found)

    monkeypatch.setattr(ingest, "discover_files", listing_then_removing)
    result = run("ingest", str(folder))
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines() == [
        f"skipped {folder / 'b.txt'}: no longer there (removed while the ingest ran)",
        f"skipped {folder / 'gone.txt'}: broken link (to {tmp_path / 'nowhere.txt'})",
    ]
    assert result.stdout.startswith("2 added, 0 updated, 0 skipped, 2 failed; ")
    assert json.loads(run("stats", "--json").stdout)["articles"] == 2


def test_a_question_with_control_characters_is_answered_as_the_question_without_them(run):
    assert run("ingest", str(SEEDS)).exit_code == 0
    clean = json.loads(run("ask", "How many Russians did NATO expel?", "--json").stdout)
    dirty = run("ask", "How many\x1b[2J Russians\x07 did NATO expel?", "--json")
    assert dirty.exit_code == 0, dirty.output
    answer = json.loads(dirty.stdout)
    assert answer["question"] == clean["question"] and answer["citations"] == clean["citations"]
    only_controls = run("ask", "\x1b[2J\x07")
    assert only_controls.exit_code == 1 and only_controls.stderr.strip() == "Error: the question is empty"
