"""The report of a run: report.md, summary.json, results.jsonl and PNG plots; and the diff of two runs."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from qa.evaluation import metrics
from qa.evaluation.datasets import Baseline, DatasetError
from qa.evaluation.runner import FUNNEL, QuestionResult

WORST = 10
METRIC_ROWS = [
    ("retrieval", "recall@1"),
    ("retrieval", "recall@5"),
    ("retrieval", "recall@10"),
    ("retrieval", "mrr"),
    ("answer", "em"),
    ("answer", "f1"),
    ("answer", "em_strict"),
    ("answer", "f1_strict"),
    ("answer", "contains"),
    ("answer", "mc_accuracy"),
    ("citations", "verbatim"),
    ("citations", "precision"),
    ("citations", "with_citation"),
    ("refusal", "rate"),
    ("refusal", "rate_answerable"),
    ("refusal", "rate_unanswerable"),
    ("latency_ms", "p50"),
    ("latency_ms", "p95"),
]


def write_report(
    directory: Path, summary: dict[str, Any], results: Sequence[QuestionResult], baselines: Sequence[Baseline]
) -> list[Path]:
    """Write every file of the report into `directory`; return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    with (directory / "results.jsonl").open("w") as handle:
        for result in results:
            handle.write(result.model_dump_json() + "\n")
    plots = _plots(directory, results)
    (directory / "report.md").write_text(_markdown(summary, results, baselines, plots))
    return [directory / "report.md", directory / "summary.json", directory / "results.jsonl", *plots]


def summary_table(summary: dict[str, Any], baselines: Sequence[Baseline]) -> str:
    """The metrics as aligned text for a terminal, then the published baselines of the same metrics."""
    lines = [f"{summary['dataset']} · {summary['engine']} · {summary['questions']} questions "
             f"({summary['answerable']} with gold articles)"]  # fmt: skip
    lines += [f"  {group + ' ' + name:28s} {_cell(summary[group][name])}" for group, name in METRIC_ROWS]
    ingest = summary["ingest"]
    lines.append(f"  {'ingest chunks':28s} {ingest['chunks']:,} ({_cell(ingest['chunks_per_s'], 1)} chunks/s)")
    if baselines:
        lines.append("published baselines:")
        lines += [f"  {b.system + ' ' + b.metric:28s} {b.value:.3f}" for b in baselines]
    return "\n".join(lines)


def write_comparison(directory: Path, runs: Mapping[str, tuple[dict[str, Any], Sequence[QuestionResult]]],
                     baselines: Sequence[Baseline]) -> list[Path]:  # fmt: skip
    """The runs of one benchmark in several time modes: each mode's report in `directory`/<mode>/, and
    `directory`/report.md with the modes side by side; return report.md's path, then each mode's files."""
    written = [path for mode, (summary, results) in runs.items()
               for path in write_report(directory / mode, summary, results, baselines)]  # fmt: skip
    summaries = {mode: summary for mode, (summary, _) in runs.items()}
    first = next(iter(summaries.values()))
    lines = [f"# Evaluation: {first['dataset']} ({first['engine']} engine), time modes side by side", "",
             f"{first['questions']} questions, {first['answerable']} with gold articles. Each mode's own report: "
             + ", ".join(f"[{mode}]({mode}/report.md)" for mode in summaries) + ".", "",
             "| metric | " + " | ".join(summaries) + " |", "| --- |" + " --- |" * len(summaries)]  # fmt: skip
    lines += [f"| {group} {name} | " + " | ".join(_cell(s[group][name]) for s in summaries.values()) + " |"
              for group, name in METRIC_ROWS]  # fmt: skip
    (directory / "report.md").write_text("\n".join(lines) + "\n")
    return [directory / "report.md", *written]


def modes_table(summaries: dict[str, dict[str, Any]]) -> str:
    """The metrics of one benchmark in several time modes, one column each, as aligned text for a terminal."""
    first = next(iter(summaries.values()))
    lines = [f"{first['dataset']} · {first['engine']} · {first['questions']} questions "
             f"({first['answerable']} with gold articles)",
             f"  {'time':28s} " + " ".join(f"{mode:>8s}" for mode in summaries)]  # fmt: skip
    lines += [f"  {group + ' ' + name:28s} " + " ".join(f"{_cell(s[group][name]):>8s}" for s in summaries.values())
              for group, name in METRIC_ROWS]  # fmt: skip
    return "\n".join(lines)


def worst_misses(results: Sequence[QuestionResult], count: int = WORST) -> list[QuestionResult]:
    """Answerable questions whose answer lacks the gold answer: gold article not retrieved first, then by rank."""
    missed = [r for r in results if r.answerable and r.gold_answer and not r.contains]
    return sorted(missed, key=lambda r: (r.rank is not None, -(r.rank or 0), r.f1 or 0.0))[:count]


def by_source(results: Sequence[QuestionResult]) -> dict[str, dict[str, float | int | None]]:
    """Per question source: questions, recall@5, contains, multiple-choice accuracy, refusal rate."""
    groups: dict[str, list[QuestionResult]] = defaultdict(list)
    for result in results:
        groups[result.source or "unknown"].append(result)
    return {
        source: {
            "questions": len(group),
            "recall@5": metrics.mean([metrics.recall_at(r.rank, 5) for r in group if r.answerable]),
            "contains": metrics.mean([r.contains for r in group if r.contains is not None]),
            "mc_accuracy": metrics.mean([r.mc_correct for r in group if r.mc_correct is not None]),
            "refusal": metrics.mean([float(r.refused) for r in group]),
        }
        for source, group in sorted(groups.items())
    }


def stage_latency(results: Sequence[QuestionResult]) -> dict[str, tuple[float | None, float | None]]:
    """p50 and p95 milliseconds of each stage the engine timed."""
    timings: dict[str, list[float]] = defaultdict(list)
    for result in results:
        for stage, ms in result.timings_ms.items():
            timings[stage].append(ms)
    return {stage: (metrics.percentile(ms, 50), metrics.percentile(ms, 95)) for stage, ms in sorted(timings.items())}


def load_run(path: Path) -> tuple[dict[str, Any], list[QuestionResult]]:
    """A report directory's summary and results."""
    if not (path / "summary.json").is_file() or not (path / "results.jsonl").is_file():
        raise DatasetError(
            f"{path} is not a report directory (no summary.json and results.jsonl): see qa eval --report"
        )
    summary = json.loads((path / "summary.json").read_text())
    results = [QuestionResult.model_validate_json(line) for line in (path / "results.jsonl").read_text().splitlines()]
    return summary, results


def diff_runs(a: Path, b: Path) -> str:
    """Markdown: each metric in run A and run B with the change, then the questions that changed outcome."""
    summary_a, results_a = load_run(a)
    summary_b, results_b = load_run(b)
    # Reports from before the time modes asked in the benchmark's window.
    modes = [f"{s['dataset']}, {s['engine']}, time {s.get('time', 'window')}" for s in (summary_a, summary_b)]
    lines = [f"# {a} → {b}", "", f"A: {modes[0]} · B: {modes[1]}", ""]
    lines += ["| metric | A | B | change |", "| --- | --- | --- | --- |"]
    for group, name in METRIC_ROWS:
        value_a, value_b = summary_a.get(group, {}).get(name), summary_b.get(group, {}).get(name)
        change = f"{value_b - value_a:+.4f}" if value_a is not None and value_b is not None else ""
        lines.append(f"| {group} {name} | {_cell(value_a)} | {_cell(value_b)} | {change} |")
    before = {r.id: r for r in results_a}
    common = [(before[r.id], r) for r in results_b if r.id in before]
    lines += ["", f"{len(common)} questions in both runs."]
    for label, field in (("contains the gold answer", "contains"), ("multiple choice right", "mc_correct")):
        gained = [new for old, new in common if (getattr(new, field) or 0) > (getattr(old, field) or 0)]
        lost = [new for old, new in common if (getattr(new, field) or 0) < (getattr(old, field) or 0)]
        lines += ["", f"## {label}: {len(gained)} gained, {len(lost)} lost", ""]
        lines += [f"- gained {r.id}: {_one_line(r.question)}" for r in gained]
        lines += [f"- lost {r.id}: {_one_line(r.question)}" for r in lost]
    changed = sum(old.answer != new.answer for old, new in common)
    lines += ["", f"{changed} answers changed text."]
    return "\n".join(lines) + "\n"


def _markdown(
    summary: dict[str, Any], results: Sequence[QuestionResult], baselines: Sequence[Baseline], plots: list[Path]
) -> str:
    lines = [
        f"# Evaluation: {summary['dataset']} ({summary['engine']} engine, time {summary.get('time', 'window')})",
        "",
        f"{summary['questions']} questions, {summary['answerable']} with gold articles. "
        f"Index: {summary['ingest']['chunks']:,} chunks"
        + (f", built at {summary['ingest']['chunks_per_s']} chunks/s." if summary["ingest"]["chunks_per_s"] else "."),
        "",
        "## Metrics",
        "",
        "| metric | value |",
        "| --- | --- |",
        *[f"| {group} {name} | {_cell(summary[group][name])} |" for group, name in METRIC_ROWS],
    ]
    funnel = summary.get("funnel") or {}
    if any(value is not None for value in funnel.values()):
        lines += [
            "",
            "## Where answers are lost",
            "",
            "Of the questions with a gold answer, the share whose gold answer string is still there at each stage, "
            "and the share of the stage before that it keeps.",
            "",
            "| stage | share | of the stage before |",
            "| --- | --- | --- |",
        ]
        before = None
        for stage, label in FUNNEL.items():
            share = funnel.get(stage)
            kept = share / before if share is not None and before else None
            lines.append(f"| {label} | {_cell(share)} | {_cell(kept)} |")
            before = share
    if baselines:
        systems = sorted({b.system for b in baselines})
        table = {(b.system, b.metric): b.value for b in baselines}
        lines += [
            "",
            "## Published baselines, side by side",
            "",
            "| system | em | f1 | mc_accuracy |",
            "| --- | --- | --- | --- |",
            f"| **qa ({summary['engine']})** | {_cell(summary['answer']['em'])} | {_cell(summary['answer']['f1'])} "
            f"| {_cell(summary['answer']['mc_accuracy'])} |",
            *[
                f"| {system} | {_cell(table.get((system, 'em')))} | {_cell(table.get((system, 'f1')))} "
                f"| {_cell(table.get((system, 'mc_accuracy')))} |"
                for system in systems
            ],
        ]
    confidence = summary.get("confidence") or {}
    if confidence.get("risk_coverage"):
        lines += [
            "",
            "## Risk–coverage",
            "",
            "Accuracy of the answers given when only the most confident share of questions is answered ("
            f"right: short answer token F1 ≥ 0.5, else the answer contains the gold answer). ECE "
            f"{_cell(confidence['ece'])}.",
            "",
            "| coverage | " + " | ".join(confidence["risk_coverage"]) + " |",
            "| --- |" + " --- |" * len(confidence["risk_coverage"]),
            "| accuracy | " + " | ".join(_cell(v) for v in confidence["risk_coverage"].values()) + " |",
        ]
    lines += [
        "",
        "## By question source",
        "",
        "| source | questions | recall@5 | contains | mc_accuracy | refusal |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for source, row in by_source(results).items():
        cells = " | ".join(_cell(row[key]) for key in ("recall@5", "contains", "mc_accuracy", "refusal"))
        lines.append(f"| {_one_line(source)} | {row['questions']} | {cells} |")
    lines += ["", "## Latency per stage (ms)", "", "| stage | p50 | p95 |", "| --- | --- | --- |"]
    lines += [
        f"| {stage} | {_cell(p50, 1)} | {_cell(p95, 1)} |" for stage, (p50, p95) in stage_latency(results).items()
    ]
    lines += ["", f"## The {WORST} worst misses", "", "Answerable questions whose answer lacks the gold answer; "
              "gold article never retrieved first, then the gold article ranked lowest.", ""]  # fmt: skip
    for result in worst_misses(results):
        lines += [
            f"### {result.id}: {_one_line(result.question)}",
            "",
            f"- gold: {_one_line(result.gold_answer)} (gold article rank: {result.rank or 'not in top 10'})",
            f"- short answer: {_one_line(result.short_answer or '(none)')}",
            f"- answer: {_one_line(result.answer)}",
            *[
                f"  - [{c.n}] {_one_line(c.article.title)} ({c.article.id}): “{_one_line(c.quote)}”"
                for c in result.citations
            ],
            "",
        ]
    lines += ["## Plots", "", *[f"![{plot.stem}]({plot.name})" for plot in plots], ""]
    return "\n".join(lines)


def _plots(directory: Path, results: Sequence[QuestionResult]) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    paths = []
    answerable = [r for r in results if r.answerable]
    figure, axes = plt.subplots(figsize=(6, 4))
    ks = list(range(1, 11))
    axes.plot(ks, [metrics.mean([metrics.recall_at(r.rank, k) for r in answerable]) or 0 for k in ks], marker="o")
    axes.set(xlabel="k (passages)", ylabel="recall@k", ylim=(0, 1), title=f"Recall@k ({len(answerable)} questions)")
    axes.grid(alpha=0.3)
    paths.append(_save(figure, directory / "recall_at_k.png"))

    figure, axes = plt.subplots(figsize=(6, 4))
    axes.hist([r.timings_ms.get("total", 0) for r in results], bins=30)
    axes.set(xlabel="ms per question (retrieve + answer)", ylabel="questions", title="Latency")
    paths.append(_save(figure, directory / "latency.png"))

    rows = by_source(results)
    figure, axes = plt.subplots(figsize=(6, 4))
    names = list(rows)
    width = 0.4
    for offset, key in ((-width / 2, "contains"), (width / 2, "mc_accuracy")):
        axes.bar([i + offset for i in range(len(names))], [rows[n][key] or 0 for n in names], width, label=key)
    axes.set_xticks(range(len(names)), names)
    axes.set(ylabel="share of questions", ylim=(0, 1), title="Accuracy by question source")
    axes.legend()
    paths.append(_save(figure, directory / "accuracy_by_source.png"))

    scored = [r for r in results if r.confidence is not None and r.right is not None]
    if scored:
        curve = metrics.risk_coverage([r.confidence or 0.0 for r in scored], [r.right or 0.0 for r in scored])
        figure, axes = plt.subplots(figsize=(6, 4))
        axes.plot([c for c, _ in curve], [a for _, a in curve])
        axes.set(
            xlabel="coverage (share of questions answered)",
            ylabel="accuracy of the answers given",
            xlim=(0, 1),
            ylim=(0, 1),
            title=f"Risk–coverage ({len(scored)} questions, most confident first)",
        )
        axes.grid(alpha=0.3)
        paths.append(_save(figure, directory / "risk_coverage.png"))
    return paths


def _save(figure: Any, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    import matplotlib.pyplot as plt

    plt.close(figure)
    return path


def _cell(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _one_line(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")
