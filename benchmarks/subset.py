"""Write a small benchmark subset for tests: N questions and only the articles they need.

    .venv/bin/python benchmarks/subset.py ../shared/benchmarks/realtimeqa-2023q1 tests/data/realtimeqa_eval20 \\
        --questions 20 --gold-per-question 2 --distractors 20 --max-chars 12000

Takes the first questions of the first weeks in file order (half with gold articles, half without), up to
`--gold-per-question` gold articles each (the shortest), and `--distractors` other articles of the same weeks
(the shortest), each under `--max-chars` characters. Copies baselines.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument("--gold-per-question", type=int, default=2)
    parser.add_argument("--distractors", type=int, default=20)
    parser.add_argument("--max-chars", type=int, default=12000)
    args = parser.parse_args()

    questions = [json.loads(line) for line in (args.source / "questions.jsonl").read_text().splitlines()]
    articles = {a["id"]: a for a in map(json.loads, (args.source / "articles.jsonl").read_text().splitlines())}
    short = {i: a for i, a in articles.items() if len(a["text"]) <= args.max_chars}
    with_gold = [q for q in questions if any(g in short for g in q["gold_article_ids"])]
    without_gold = [q for q in questions if not q["gold_article_ids"]]
    half = args.questions // 2
    chosen = with_gold[:half] + without_gold[: args.questions - half]
    keep: dict[str, dict] = {}
    for question in chosen:
        gold = sorted((g for g in question["gold_article_ids"] if g in short), key=lambda g: len(short[g]["text"]))
        question["gold_article_ids"] = gold[: args.gold_per_question]
        keep.update({g: short[g] for g in question["gold_article_ids"]})
    weeks = {a["week"] for a in keep.values()}
    others = sorted((a for i, a in short.items() if a["week"] in weeks and i not in keep), key=lambda a: len(a["text"]))
    keep.update({a["id"]: a for a in others[: args.distractors]})

    args.target.mkdir(parents=True, exist_ok=True)
    (args.target / "articles.jsonl").write_text("".join(json.dumps(a) + "\n" for a in keep.values()))
    (args.target / "questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in chosen))
    shutil.copy(args.source / "baselines.json", args.target / "baselines.json")
    print(f"{len(chosen)} questions, {len(keep)} articles -> {args.target}")


if __name__ == "__main__":
    main()
