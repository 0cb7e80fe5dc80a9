"""Measure retrieval fusion and multiple-choice rules on a benchmark, from one retrieval per question.

    QA_DATA_DIR=... .venv/bin/python benchmarks/tune_eval.py ../shared/benchmarks/realtimeqa-2023q1 RESULTS.jsonl

RESULTS.jsonl is a `qa eval --report` run's results (its answers are reused for the multiple-choice rules).
Prints recall@1/5/10 for fusion variants and multiple-choice accuracy for evidence variants.
"""

from __future__ import annotations

import argparse
import json
from datetime import timedelta
from pathlib import Path

import numpy as np

from qa.backends import load_embeddings
from qa.config import get_settings
from qa.evaluation import metrics
from qa.evaluation.datasets import load_dataset
from qa.evaluation.runner import open_engine
from qa.fusion import diversify
from qa.models import Chunk
from qa.query import Filters

DEPTH = 40


def fuse(rankings: list[tuple[list[Chunk], float]], k_rrf: int = 60) -> list[Chunk]:
    scores: dict[str, float] = {}
    chunks: dict[str, Chunk] = {}
    for ranking, weight in rankings:
        for rank, chunk in enumerate(ranking, start=1):
            scores[chunk.id] = scores.get(chunk.id, 0.0) + weight / (k_rrf + rank)
            chunks.setdefault(chunk.id, chunk)
    return [chunks[i] for i in sorted(scores, key=scores.__getitem__, reverse=True)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dataset", type=Path)
    parser.add_argument("results", type=Path)
    parser.add_argument("--days-before", type=int, default=10, help="date window: [date - N days, date + 1 day]")
    args = parser.parse_args()
    dataset = load_dataset(args.dataset)
    embeddings = load_embeddings(get_settings())
    engine, _ = open_engine(dataset, get_settings(), embeddings)
    answers = {r["id"]: r for r in map(json.loads, args.results.read_text().splitlines())}
    rows = []
    for question in dataset.questions:
        since, until = question.window()
        if since and question.date:
            since = question.date - timedelta(days=args.days_before)
        window = Filters(since=since, until=until)
        dense = engine.retriever.dense_search(question.question, DEPTH, window)
        lexical = engine.retriever.catalog.search(question.question, DEPTH, window)
        rows.append((question, dense, lexical))
    print(f"{len(rows)} questions retrieved at depth {DEPTH}")

    variants = {
        "rrf dense+bm25 (20 cand.)": lambda d, lx: fuse([(d[:20], 1.0), (lx[:20], 1.0)]),
        "rrf dense+bm25 40 cand.": lambda d, lx: fuse([(d, 1.0), (lx, 1.0)]),
        "rrf bm25 x1.5": lambda d, lx: fuse([(d[:20], 1.0), (lx[:20], 1.5)]),
        "rrf dense x1.5": lambda d, lx: fuse([(d[:20], 1.5), (lx[:20], 1.0)]),
        "rrf k=20": lambda d, lx: fuse([(d[:20], 1.0), (lx[:20], 1.0)], k_rrf=20),
        "rrf, max 1 chunk per article (current)": lambda d, lx: diversify(fuse([(d[:20], 1.0), (lx[:20], 1.0)]), 1),
        "rrf, max 2 chunks per article": lambda d, lx: diversify(fuse([(d[:20], 1.0), (lx[:20], 1.0)]), 2),
        "rrf 40 cand., max 1 per article": lambda d, lx: diversify(fuse([(d, 1.0), (lx, 1.0)]), 1),
        "dense only": lambda d, lx: d,
        "bm25 only": lambda d, lx: lx,
    }
    for name, rank in variants.items():
        ranks = [
            metrics.gold_rank([c.article.id for c in rank(d, lx)[:10]], q.gold_article_ids)
            for q, d, lx in rows
            if q.answerable
        ]
        recalls = [np.mean([metrics.recall_at(r, k) for r in ranks]) for k in (1, 5, 10)]
        print(f"  {name:36s} recall@1/5/10 {recalls[0]:.3f} {recalls[1]:.3f} {recalls[2]:.3f}")

    def similarity_to(context: str):
        def similarity(choices):
            vectors = np.array(embeddings.embed_documents(list(choices)))
            return list(vectors @ np.array(embeddings.embed_query(context)))

        return similarity

    # (answer weight, cited-passage weight, retrieved-passage weight, retrieved passages read)
    rules = {
        "answer 1.0 + cited passages 0.5": (1.0, 0.5, 0.0, 5),
        "+ top-5 passages 0.4": (1.0, 0.5, 0.4, 5),
        "+ top-10 passages 0.3": (1.0, 0.5, 0.3, 10),
        "+ top-10 passages 0.45 (current)": (1.0, 0.5, 0.45, 10),
        "answer 1.0 + top-10 passages 0.5": (1.0, 0.0, 0.5, 10),
    }
    for name, (w_answer, w_cited, w_top, top_n) in rules.items():
        correct = []
        for question, dense, lexical in rows:
            if not question.choices:
                continue
            result = answers[question.id]
            top = diversify(fuse([(dense[:20], 1.0), (lexical[:20], 1.0)]))[:top_n]
            evidence = [] if result["refused"] else [(result["answer"], w_answer)]
            cited = [p for p in top[:5] if any(p.article.id == c["article_id"] for c in result["citations"])]
            evidence += [(p.text, w_cited) for p in cited]
            evidence += [(p.text, w_top) for p in top] if w_top else []
            if result["refused"] and not w_top:
                evidence += [(p.text, 0.5) for p in top]
            context = result["answer"] if not result["refused"] else (top[0].text if top else question.question)
            choice = metrics.choose_choice(question.choices, evidence, similarity_to(context))
            correct.append(choice == question.answer_index)
        print(f"  {name:44s} mc_accuracy {np.mean(correct):.3f} (n={len(correct)})")


if __name__ == "__main__":
    main()
