"""Check timeline answers on real news: questions made from the subjects of a RealTime QA year's quizzes ("What's
the latest on King Charles III?"), asked as of each quiz day; every entry's quote verbatim in its stored article
(and the entry's text that quote), every entry's day inside the period the timeline says it covers (never after
the as-of day), no two entries from one story. Prints the counts, each check's share, and the timeline answer's
milliseconds (p50, p95) on the year's index.

    QA_DATA_DIR=/work/evalidx QA_MAX_FILE_MB=200 .venv/bin/python benchmarks/timeline_integrity.py \\
        ../shared/benchmarks/realtimeqa-2024 --questions 67
"""

from __future__ import annotations

import argparse
import re
import statistics
from pathlib import Path

from qa.answer import inert_markers
from qa.answer.timeline import asks_timeline
from qa.backends import load_embeddings
from qa.config import get_settings
from qa.evaluation import runner
from qa.evaluation.datasets import EvalQuestion, load_datasets
from qa.query import Query

TEMPLATES = (
    "What happened with {subject} this week?",
    "What's the latest on {subject}?",
    "How has the {subject} story developed?",
    "What changed with {subject} this month?",
    "Any updates on {subject} since Monday?",
)
# A run of capitalised words (with the small words names hold): the quiz question's subject.
NAME_RUN = re.compile(r"\b[A-Z][\w’'.-]*(?:\s+(?:of|the|de|and|for)?\s*[A-Z][\w’'.-]*)*")
NOT_SUBJECTS = frozenset("Which What Who Where When Why How The A An In On This After During".split())


def subject(question: EvalQuestion) -> str | None:
    """The longest run of capitalised words of the quiz question that is not its first word alone."""
    runs = []
    for match in NAME_RUN.finditer(question.question):
        words = match.group(0).split()
        while words and words[0] in NOT_SUBJECTS:
            words.pop(0)
        if words:
            runs.append(" ".join(words).rstrip(".,’'"))
    return max(runs, key=len) if runs else None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("datasets", type=Path, nargs="+", help="one folder, or several as one corpus (qa eval's)")
    parser.add_argument("--questions", type=int, default=67, help="questions made, spread over the year")
    parser.add_argument("--show", action="store_true", help="print every update and difference, to judge them")
    args = parser.parse_args()
    settings = get_settings()
    dataset = load_datasets(args.datasets, settings.data_dir / "eval")
    engine, _ = runner.open_engine(dataset, settings, load_embeddings(settings))
    made = [(q, s) for q in dataset.questions if q.asked_on and (s := subject(q))]
    step = max(len(made) // args.questions, 1)
    asked = made[::step][: args.questions]
    counts = {"questions": 0, "read as timelines": 0, "timelines": 0, "no articles": 0, "entries": 0}
    counts |= {"updates": 0, "differences": 0}
    failures = {"quote verbatim": 0, "entry is its quote": 0, "day in the period": 0, "one entry per story": 0}
    millis = []
    for number, (question, name) in enumerate(asked):
        text = TEMPLATES[number % len(TEMPLATES)].format(subject=name)
        counts["questions"] += 1
        counts["read as timelines"] += asks_timeline(text)
        assert question.asked_on is not None
        answer = engine.ask(Query(question=text, as_of=question.asked_on))
        millis.append(answer.timings_ms["total"])
        if answer.refused:
            counts["no articles"] += answer.answer.startswith("No articles from")
            continue
        timeline = answer.timeline
        if timeline is None:
            continue
        counts["timelines"] += 1
        counts["entries"] += len(timeline.entries)
        quotes = {}
        for citation in answer.citations:
            article = engine.get_article(citation.article.id)
            failures["quote verbatim"] += article.text[citation.start : citation.end] != citation.quote
            quotes[citation.n] = (citation.quote, article.story or article.id)
        stories = [quotes[entry.citation][1] for entry in timeline.entries]
        failures["one entry per story"] += len(stories) != len(set(stories))
        for entry in timeline.entries:
            counts["updates"] += entry.kind == "update"
            counts["differences"] += entry.kind == "differs"
            if args.show and entry.earlier:
                print(f"{entry.kind} {entry.change!r}\n  {entry.day}: {entry.text}\n  {entry.earlier_day}: "
                      f"{quotes[entry.earlier][0]}")  # fmt: skip
            failures["entry is its quote"] += entry.text != inert_markers(quotes[entry.citation][0])
            inside = (timeline.since is None or timeline.since <= entry.day) and entry.day <= timeline.until
            failures["day in the period"] += not inside or entry.day > question.asked_on
    print(f"{dataset.name}: " + ", ".join(f"{name} {count}" for name, count in counts.items()))
    print("failures: " + ", ".join(f"{name} {count}" for name, count in failures.items()))
    print(f"timeline ms p50 {statistics.median(millis):.0f} p95 {statistics.quantiles(millis, n=20)[-1]:.0f}")


if __name__ == "__main__":
    main()
