"""The real CLI on a real pseudo-terminal: escape sequences and control characters from article text, titles and
file names are printed inert, while the stored text, quotes and offsets keep them exactly."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from qa.controls import strip_controls

QA = str(Path(sys.executable).parent / "qa")
# Colour, clear screen + cursor home, window title, an OSC 8 hyperlink, a DCS string, an 8-bit CSI.
ARTICLE = (
    "Harbour pilots \x1b[1;31mstrike\x1b[0m in Port Evan\n\n"
    "The harbour pilots of Port Evan will strike for \x1b[31mfive days\x1b[0m from Monday, "
    "\x1b]8;;http://evil.example/\x07their union\x1b]8;;\x07 said.\x1b[2J\x1b[H The port expects ships to wait "
    "offshore \x1b]0;pwned\x07 during the strike, as the \x1bPq#0;evil\x1b\\ \x9b31mnotice\x9b0m at the gate says."
)
QUESTION = "How many days will the harbour pilots of Port Evan strike?"
# Rich's own sequences are the only ones allowed on the terminal: colours and styles, and for the progress bar
# hiding the cursor, erasing the line and moving up one. Never a clear screen, a cursor jump, a title or a link.
SGR = re.compile(r"\x1b\[(?:[0-9;]*m|\?25[lh]|2K|1A)")


def in_terminal(args: list[str], env: dict[str, str], typed: str | None = None) -> tuple[int, str]:
    """Run a command with stdout and stderr on a pseudo-terminal (as a person's shell has); return its output."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        args,
        stdin=subprocess.PIPE if typed is not None else subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
        env={**env, "TERM": "xterm-256color", "COLUMNS": "200"},
    )
    os.close(terminal)
    chunks: list[bytes] = []

    def read() -> None:
        while True:
            try:
                data = os.read(controller, 65536)
            except OSError:  # the terminal closed: every process holding it has exited
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=read)
    reader.start()
    if typed is not None:
        assert process.stdin is not None
        process.stdin.write(typed.encode())
        process.stdin.close()
    code = process.wait(timeout=300)
    reader.join(timeout=30)
    os.close(controller)
    return code, b"".join(chunks).decode("utf-8", "replace")


def assert_inert(output: str) -> None:
    """Nothing but rich's colours acts on the terminal: no title, no hyperlink, no clearing, no control byte."""
    rest = SGR.sub("", output)
    acting = [c for c in rest if (ord(c) < 32 and c not in "\n\r\t") or 0x7F <= ord(c) <= 0x9F]
    assert acting == [], repr(rest)
    assert "pwned" not in rest and "evil" not in rest, rest


@pytest.fixture(scope="module")
def hostile_terminal(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Path]:
    """An index holding the article, and a folder with it and an empty file whose name sets the window title."""
    folder = tmp_path_factory.mktemp("terminal")
    articles = folder / "articles"
    articles.mkdir()
    (articles / "pilots.txt").write_text(ARTICLE)
    (articles / "empty\x1b]0;pwned\x07.txt").write_text("")
    env = {**os.environ, "QA_DATA_DIR": str(folder / "data"), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.pop("QA_CHROMA_URL", None)
    subprocess.run([QA, "ingest", str(articles / "pilots.txt")], env=env, check=True, capture_output=True)
    return env, articles


def test_ingest_names_a_hostile_file_inertly(hostile_terminal: tuple[dict[str, str], Path]) -> None:
    env, articles = hostile_terminal
    code, output = in_terminal([QA, "ingest", str(articles)], env)
    assert code == 1, output  # the empty file failed; the article was there already
    assert_inert(output)
    assert f"skipped {articles}/empty]0;.txt: empty file" not in output  # no parameter of the sequence is left
    assert f"skipped {articles}/empty.txt: empty file" in SGR.sub("", output), output
    assert "1 skipped, 1 failed" in output


def test_ask_chat_and_list_print_article_text_inertly(hostile_terminal: tuple[dict[str, str], Path]) -> None:
    env, _ = hostile_terminal
    code, listed = in_terminal([QA, "list"], env)
    assert code == 0 and "Harbour pilots strike in Port Evan" in SGR.sub("", listed), listed
    assert_inert(listed)

    code, asked = in_terminal([QA, "ask", QUESTION], env)
    assert code == 0, asked
    assert_inert(asked)
    shown = SGR.sub("", asked)
    assert "five days from Monday, their union said." in shown and "as the  notice at the gate" in shown, shown

    code, chatted = in_terminal([QA, "chat"], env, typed=QUESTION + "\n\n")
    assert code == 0, chatted
    assert_inert(chatted)
    assert "five days" in SGR.sub("", chatted)


def test_the_stored_quote_keeps_the_text_exactly_and_no_sequence_is_an_answer(
    hostile_terminal: tuple[dict[str, str], Path],
) -> None:
    env, _ = hostile_terminal
    result = subprocess.run([QA, "ask", QUESTION, "--json"], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    citation = answer["citations"][0]
    assert ARTICLE[citation["start"] : citation["end"]] == citation["quote"]  # offsets into the stored text
    assert "\x1b[31m" in citation["quote"]  # stored and quoted as written; only what is printed is made inert
    short = answer["short_answer"]
    assert short is not None and strip_controls(short) == short and "8" not in short, answer
    assert "five" in short, answer
