"""Evaluation on news-QA benchmarks: datasets, metrics, the run over an engine, and its report."""
