"""What every command of the `qa` command line shares: the consoles and inert printing, one-line user errors,
progress bars, answers and reports as printed, the option types two command groups take, and the models a command
loads (imported on use: --help should not pay for them)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from qa.answer.citations import citation_heading
from qa.answer.phrases import (
    dates_in_quote,
    entry_change,
    searched_window,
    short_answer_frame,
)
from qa.answerers import ANSWERERS, AnswererName
from qa.controls import strip_controls
from qa.dates import day_text
from qa.errors import QAError
from qa.models import Answer, IngestReport, IngestStatus, Timeline

if TYPE_CHECKING:
    from qa.embeddings import MiniLMEmbeddings
    from qa.engine import Engine
    from qa.maintenance import CheckReport, Maintenance
    from qa.models import AnswerEvent

out = Console(highlight=False, emoji=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, emoji=False, soft_wrap=True)

KOption = Annotated[int | None, typer.Option("--k", min=1, max=50, help="Passages to retrieve.")]
# --engine's choices, from the one table of answerers.
AnswererChoice = StrEnum("AnswererChoice", {name.upper(): name for name in ANSWERERS})  # type: ignore[misc]


def show(text: str, *, style: str | None = None, end: str = "\n", console: Console = out) -> None:
    """Print text that may hold article text, names or an LLM's tokens, inert: no escape sequence, control
    character, rich markup or emoji code in it acts on the terminal."""
    console.print(strip_controls(text), markup=False, emoji=False, highlight=False, style=style, end=end)


def show_error(text: str) -> None:
    """`show` on stderr."""
    show(text, console=err)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the library's user-facing errors into one line and exit status 1."""
    try:
        yield
    except QAError as error:
        show_error(f"Error: {error}")
        raise typer.Exit(1) from None


def load_embeddings() -> MiniLMEmbeddings:
    """The embedding backend for the settings on this machine (imported here: --help should not pay for it); the
    first command on a new machine says why it waits while the backends are measured."""
    from qa import backends
    from qa.config import get_settings

    settings = get_settings()
    if backends.probe_pending(settings):
        show(backends.PROBE_NOTICE, style="dim", console=err)
    return backends.load_embeddings(settings)


def open_engine() -> Engine:
    """Build the engine from settings."""
    from qa import engine

    return engine.Engine(embeddings=load_embeddings())


def open_maintenance() -> Maintenance:
    """The index's maintenance commands alone (qa check, stories, export, import, reindex)."""
    from qa.config import get_settings
    from qa.maintenance import Maintenance

    return Maintenance(get_settings(), load_embeddings())


def print_ingest_report(report: IngestReport) -> None:
    """Each failure on stderr, then the summary line; exit 1 when anything failed."""
    for item in report.failed:
        show_error(f"skipped {item.location}: {item.reason}")
    show(report.summary())
    if report.count(IngestStatus.FAILED):
        raise typer.Exit(1)


def print_check_report(report: CheckReport, label: str) -> None:
    """One line per problem, then a summary line."""
    for problem in report.problems:
        show(f"{problem.kind}  {problem.article_id or '-'}  {problem.detail}")
    verdict = "no problems" if report.ok else f"{len(report.problems)} problem(s); `qa check --repair` fixes them"
    show(f"{label}: {report.articles} articles, {report.chunks} chunks: {verdict}")


@contextmanager
def progress_bar(verb: str, unit: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr with the rate in `unit`/s, gone when done; yields advance(done, total)."""
    with progress_bars((verb, unit)) as [advance]:
        yield advance


@contextmanager
def progress_bars(*phases: tuple[str, str]) -> Iterator[list[Callable[[int, int], None]]]:
    """One bar per (verb, unit) phase in one display (rich shows one at a time); yields their advance()s."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[unit]} · {task.fields[rate]}"),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,  # no bar in logs and pipes, where errors must stay one line
    ) as progress:

        def advancer(verb: str, unit: str) -> Callable[[int, int], None]:
            task = progress.add_task(verb, total=None, rate="", unit=unit)

            def advance(done: int, total: int) -> None:
                progress.update(task, advance=done, total=total)
                speed = progress.tasks[task].speed
                progress.update(task, rate=f"{speed:.1f} {unit}/s" if speed else "")

            return advance

        yield [advancer(verb, unit) for verb, unit in phases]


def print_stream(events: Iterator[AnswerEvent], quiet: bool = False) -> Answer:
    """Print an LLM's text as it arrives (dimmed: not yet checked), then the verified answer; return it."""
    streamed = False
    for event in events:
        if event.delta and not quiet:
            show(event.delta, end="", style="dim")
            streamed = True
        if event.answer is not None:
            if streamed:
                show("\n")
            if not quiet:
                print_answer(event.answer)
            return event.answer
    raise QAError("the engine ended without an answer")


def print_answer(answer: Answer) -> None:
    """What the search used, the short answer if any, the answer, notices, then each citation with its quote."""
    if answer.standalone_question:
        show(f"(searched for: {answer.standalone_question})", style="dim")
    if answer.time_window:
        show(f"({searched_window(answer.time_window)}; --no-time-words searches every date)", style="dim")
    if answer.short_answer:
        before, after, bold = short_answer_frame(answer)
        show(f"{before}{answer.short_answer}{after}\n", style="bold" if bold else None)
    if answer.timeline and not answer.refused:
        print_timeline(answer.timeline)
    else:
        show(answer.answer)
    for notice in answer.notices:
        show(f"Note: {notice}", style="yellow")
    for citation in answer.citations:
        where = citation.article.url or citation.article.path or citation.article.id
        show(f"\n{citation_heading(citation)}", style="bold")
        show(f"    “{citation.quote}”")
        if citation.dates:
            show(f"    {dates_in_quote(citation.dates)}", style="dim")
        show(f"    {where} (characters {citation.start}–{citation.end})", style="dim")


def print_timeline(timeline: Timeline) -> None:
    """A timeline as a dated list: the day, then what changed, the sentence with its [n], and the outlets."""
    for entry in timeline.entries:
        lead, after = entry_change(entry)
        show(f"{day_text(entry.day):>11}  ", style="bold", end="")
        if lead:
            show(lead + " ", style="cyan" if entry.kind == "update" else "yellow", end="")
        show(f"{entry.text} [{entry.citation}]" + (f" {after}" if after else ""), end="")
        show(f" — {', '.join(entry.outlets)}" if entry.outlets else "", style="dim")


def answerer_name(choice: AnswererChoice | None) -> AnswererName | None:
    """The answerer --engine names (None: the configured one)."""
    return None if choice is None else next(name for name in ANSWERERS if name == choice.value)
