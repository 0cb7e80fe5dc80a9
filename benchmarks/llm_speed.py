"""Tokens per second of the offline model on this CPU: prompt processing and generation, with the llama.cpp build
that is installed (its CPU features printed beside the figures).

    .venv/bin/python benchmarks/llm_speed.py [--model qwen2.5-coder-0.5b] [--runs 3]

The prompt is the local engine's own: the system rules and five passages of a seed article, ~1,000 tokens.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from qa.answer.generated import answer_messages
from qa.articles import read_articles
from qa.backends import this_machine
from qa.chunking import chunk_article
from qa.config import Settings
from qa.models import Article
from qa.offline_model import LOCAL_MODELS, assemble

SEED = Path(__file__).resolve().parent.parent / "seeds" / "004_ea751519490200ce.txt"
GENERATED_TOKENS = 64


def main() -> None:
    """Load the model once, then time the prompt and the generation `--runs` times each."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="qwen2.5-coder-0.5b", choices=sorted(LOCAL_MODELS))
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    import llama_cpp

    settings = Settings()
    path = assemble(LOCAL_MODELS[args.model], settings.local_models_dir)
    [article] = [item for item in read_articles(SEED, settings) if isinstance(item, Article)]
    passages = chunk_article(article, chunk_words=settings.chunk_words, overlap_words=settings.chunk_overlap_words)[:5]
    messages = [
        {"role": "system" if m.type == "system" else "user", "content": str(m.content)}
        for m in answer_messages("How many Russians did NATO expel?", passages)
    ]
    model = llama_cpp.Llama(str(path), n_ctx=4096, verbose=False)
    prompt_rates, generation_rates = [], []
    for _ in range(args.runs):
        model.reset()
        started = time.perf_counter()
        first_token_at = None
        tokens = 0
        for _chunk in model.create_chat_completion(messages, max_tokens=GENERATED_TOKENS, temperature=0, stream=True):
            if first_token_at is None:
                first_token_at = time.perf_counter()
            tokens += 1
        finished = time.perf_counter()
        assert first_token_at is not None
        prompt_tokens = model.n_tokens - tokens  # the context holds the prompt, then what was generated
        prompt_rates.append(prompt_tokens / (first_token_at - started))
        generation_rates.append((tokens - 1) / (finished - first_token_at))
    info = llama_cpp.llama_print_system_info().decode().strip()
    print(f"CPU: {this_machine().cpu}")
    print(f"llama.cpp build: {info}")
    print(f"model: {args.model}; prompt {prompt_tokens} tokens, {tokens} generated; medians of {args.runs} runs")
    print(f"prompt processing: {statistics.median(prompt_rates):.1f} tokens/s")
    print(f"generation: {statistics.median(generation_rates):.1f} tokens/s")


if __name__ == "__main__":
    main()
