"""How benchmark articles fall into stories (qa.stories): articles, stories, how many share one, the largest, and
what finding them costs per article. No index: every article of the datasets is grouped in one run, oldest first,
as ingest and `qa stories` group them.

    .venv/bin/python benchmarks/stories.py ../shared/benchmarks/realtimeqa-2022 [more datasets] [--json F]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from datetime import date
from pathlib import Path

from qa.articles import articles_from_jsonl
from qa.config import Limits, Settings
from qa.models import Article
from qa.stories import SAME_STORY, StoryFinder, shingles, similarity


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("datasets", type=Path, nargs="+")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = {}
    for folder in args.datasets:
        path = folder / "articles.jsonl"
        read = articles_from_jsonl(path.read_text(), path, Settings(max=Limits(article_chars=10**8)), record_path=path)
        unique = {a.id: a for a in read if isinstance(a, Article)}
        articles = sorted(unique.values(), key=lambda a: (a.published or date.max, a.id))
        finder = StoryFinder(lambda keys: [])
        started = time.perf_counter()
        grouped = [finder.assign(article) for article in articles]
        seconds = time.perf_counter() - started
        sizes = Counter(article.story for article in grouped)
        founders = {a.id: a for a in grouped}
        pairs = [
            similarity(shingles(a.text), shingles(founders[a.story].text))
            for a in grouped
            if a.story and a.story != a.id
        ]
        shared = sum(size for size in sizes.values() if size > 1)
        results[folder.name] = {
            "articles": len(articles),
            "stories": len(sizes),
            "in_shared_stories": shared,
            "share": round(shared / len(articles), 4),
            "largest": max(sizes.values()),
            "median_similarity_to_first": round(sorted(pairs)[len(pairs) // 2], 3) if pairs else None,
            "below_0.7": sum(p < 0.7 for p in pairs),
            "ms_per_article": round(seconds / len(articles) * 1000, 2),
        }
        row = results[folder.name]
        print(
            f"{folder.name}: {row['articles']:,} articles in {row['stories']:,} stories; {shared:,} "
            f"({row['share']:.1%}) share one; largest {row['largest']}; similarity to the story's first "
            f"(threshold {SAME_STORY}): median {row['median_similarity_to_first']}, {row['below_0.7']} under 0.7; "
            f"{row['ms_per_article']} ms an article"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
