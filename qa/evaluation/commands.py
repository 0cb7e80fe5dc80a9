"""The `qa eval` commands: run a benchmark (the default: `qa eval DIR…`), diff two reports, train the scorer."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, cast

import typer
from typer.core import TyperGroup

from qa.shell import (
    AnswererChoice,
    KOption,
    answerer_name,
    load_embeddings,
    out,
    progress_bar,
    progress_bars,
    show,
    show_error,
    user_errors,
)

# The time modes (qa/evaluation/datasets.py TimeMode), here without importing the evaluation before it runs.
TimeModeChoice = StrEnum("TimeModeChoice", {"AS_OF": "as-of", "WINDOW": "window"})


class _RunByDefault(TyperGroup):
    """`qa eval DIR…` is `qa eval run DIR…`: a first word that names no subcommand (nor asks for help) starts the
    arguments of `run`."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # typer's own click Context
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


eval_app = typer.Typer(
    cls=_RunByDefault,
    help="Score the engine on a benchmark (run, the default), compare two reports (diff), or retrain the answer "
    "scorer (train).",
    no_args_is_help=True,
)


DatasetDirs = Annotated[
    list[Path],
    typer.Argument(
        metavar="DATASET_DIR...",
        help="Folders with articles.jsonl and questions.jsonl (several: one corpus, a news stream replayed).",
    ),
]


@eval_app.command("run")
def evaluate(
    folders: DatasetDirs,
    answerer: Annotated[
        AnswererChoice | None, typer.Option("--engine", help="Who writes the answers (extractive if unset).")
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N questions.")] = None,
    k: KOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object (a stable contract).")] = False,
    report: Annotated[
        Path | None, typer.Option(help="Write report.md, plots and results.jsonl to this folder.")
    ] = None,
    time: Annotated[
        list[TimeModeChoice] | None,
        typer.Option(
            help="as-of (the default): each question asked as of its quiz day, nothing else given; window: in the "
            "benchmark's date window (the harness's help). Give both to see them side by side."
        ),
    ] = None,
) -> None:
    """Score retrieval, answers, citations and latency on a benchmark (`qa eval DIR...` is the same)."""
    from qa.config import get_settings
    from qa.evaluation import datasets, runner
    from qa.evaluation import report as reporting

    with user_errors():
        settings = get_settings()
        dataset = datasets.load_datasets(folders, settings.data_dir / "eval")
        modes = list(dict.fromkeys(mode.value for mode in time or [TimeModeChoice.AS_OF]))
        total = min(limit or len(dataset.questions), len(dataset.questions)) * len(modes)
        runs = {}
        with progress_bars(("Indexing", "chunks"), ("Asking", "questions")) as [indexed, asked]:
            for mode in modes:
                runs[mode] = done = runner.run(
                    dataset,
                    settings,
                    load_embeddings(),
                    answerer=answerer_name(answerer) or "extractive",
                    limit=limit,
                    k=k,
                    time=cast("datasets.TimeMode", mode),
                    on_index_progress=indexed,
                    on_question=lambda: asked(1, total),
                )
                if done.interrupted:
                    break
        summaries = {mode: run.summary for mode, run in runs.items()}
        if report:
            if len(runs) == 1:
                written = reporting.write_report(report, done.summary, done.results, dataset.baselines)
            else:
                by_mode = {mode: (run.summary, run.results) for mode, run in runs.items()}
                written = reporting.write_comparison(report, by_mode, dataset.baselines)
            show_error(f"report: {written[0]}")
    if done.interrupted:
        show_error(f"interrupted: metrics over the first {len(done.results)} of {done.asked} questions")
    if as_json:
        out.print_json(json.dumps(done.summary if len(runs) == 1 else {"time_modes": summaries}))
    elif len(runs) == 1:
        show(reporting.summary_table(done.summary, dataset.baselines))
    else:
        show(reporting.modes_table(summaries))
    if done.interrupted:
        raise typer.Exit(130)


@eval_app.command("diff")
def evaluate_diff(
    report_a: Annotated[Path, typer.Argument(help="A --report folder.")],
    report_b: Annotated[Path, typer.Argument(help="Another, compared with the first.")],
) -> None:
    """Compare two reports: metric changes, questions gained and lost, answers whose text changed."""
    from qa.evaluation import report as reporting

    with user_errors():
        show(reporting.diff_runs(report_a, report_b))


@eval_app.command("train")
def evaluate_train(
    folders: DatasetDirs,
    model: Annotated[Path | None, typer.Option(help="Write the scorer here (the shipped one if unset).")] = None,
    held_out: Annotated[
        Path | None, typer.Option(help="Also write each leave-one-year-out scorer here (without-<year>).")
    ] = None,
    ablation: Annotated[
        list[str] | None, typer.Option(help="Also measure this feature group left out (repeatable; 'all': each).")
    ] = None,
    cross_validate: Annotated[
        list[str] | None,
        typer.Option(help="Score this dataset (its name) by cross-validation, not left out whole (repeatable)."),
    ] = None,
) -> None:
    """Retrain the answer scorer on benchmark years, each year's figures from a scorer fit on the others."""
    from qa.answer.scorer import SHIPPED as SHIPPED_SCORER
    from qa.config import get_settings
    from qa.evaluation import datasets, examples, training

    with user_errors():
        groups = list(training.ABLATIONS) if ablation == ["all"] else ablation or []
        if unknown := [group for group in groups if group not in training.ABLATIONS]:
            raise typer.BadParameter(
                f"no group {unknown[0]!r} (groups: {', '.join(training.ABLATIONS)}, all)", None, None, "--ablation"
            )
        loaded = [datasets.load_dataset(folder) for folder in folders]
        if missing := [name for name in cross_validate or [] if name not in {d.name for d in loaded}]:
            raise typer.BadParameter(f"{missing[0]!r} is no dataset given", None, None, "--cross-validate")
        settings, embeddings = get_settings(), load_embeddings()
        read = {}
        for dataset in loaded:
            with progress_bar(f"Reading {dataset.name}", "questions") as advance:
                read[dataset.name] = examples.read_dataset(dataset, settings, embeddings, advance)
        figures = training.train(read, model or SHIPPED_SCORER, held_out, groups, cross_validate or [])
        show(training.figures_table(figures))
        show_error(f"scorer: {model or SHIPPED_SCORER}")
