"""Ingest is idempotent, replaces changed articles, removes cleanly and survives bad input (both Chroma modes)."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path

import pytest

from qa.config import Settings
from qa.embeddings import MiniLMEmbeddings, OnnxFloat32MiniLM, OnnxInt8MiniLM
from qa.engine import Engine
from qa.errors import NotFoundError, StoreError
from qa.maintenance import check_store
from qa.models import IngestStatus
from qa.store import BACKENDS_KEY, ArticleStore

from .conftest import DATA, SEEDS


def stored_chunks(engine: Engine, article_id: str) -> list:
    return sorted((c for c in engine.store.iter_chunks() if c.article.id == article_id), key=lambda c: c.ordinal)


def test_ingest_then_reingest_skips_unchanged(engine: Engine):
    first = engine.ingest([SEEDS])
    assert (first.count(IngestStatus.ADDED), first.failed) == (2, [])
    chunks = engine.stats().chunks
    assert chunks == first.chunks > 2
    again = engine.ingest([SEEDS])
    assert (again.count(IngestStatus.SKIPPED), again.count(IngestStatus.ADDED), again.chunks) == (2, 0, 0)
    assert engine.stats().chunks == chunks
    assert again.summary().startswith("0 added, 0 updated, 2 skipped, 0 failed; 0 chunks in ")


def test_stored_chunks_are_exact_spans_of_the_stored_article(seeded: Engine):
    for summary in seeded.articles():
        article = seeded.store.get_article(summary.id)
        assert article is not None
        chunks = stored_chunks(seeded, summary.id)
        assert [c.ordinal for c in chunks] == list(range(summary.chunks))
        assert all(article.text[c.start : c.end] == c.text for c in chunks)


def test_changed_article_replaces_its_old_chunks(engine: Engine, seed_copy: Path):
    path = seed_copy / "004_ea751519490200ce.txt"
    engine.ingest([seed_copy])
    [article_id] = engine.store.article_ids_for_path(str(path.resolve()))
    before = stored_chunks(engine, article_id)
    path.write_text(path.read_text().split("\n", 6)[0] + "\nNATO expelled twelve diplomats on Friday.\n")
    report = engine.ingest([seed_copy])
    assert (report.count(IngestStatus.UPDATED), report.count(IngestStatus.SKIPPED)) == (1, 1)
    after = stored_chunks(engine, article_id)
    assert len(after) < len(before)
    assert [c.ordinal for c in after] == list(range(len(after)))
    assert "twelve diplomats" in after[-1].text
    assert engine.stats().chunks == sum(a.chunks for a in engine.articles())
    lexical = engine.retriever.catalog.search("Kramp-Karrenbauer intelligence activities", 10)
    assert all(c.article.id != article_id for c in lexical)


def test_an_updated_article_embeds_only_its_new_chunks(engine: Engine, monkeypatch: pytest.MonkeyPatch):
    record = json.loads((DATA / "realtimeqa_slice" / "articles.jsonl").read_text().splitlines()[0])
    engine.ingest_records([record])
    before = {chunk.text: chunk for chunk in engine.store.iter_chunks()}
    embedded: list[str] = []
    encode = engine.embeddings.encode

    def counting(texts: list[str]):
        embedded.extend(texts)
        return encode(texts)

    monkeypatch.setattr(engine.embeddings, "encode", counting)
    added = "\n\nA new closing paragraph, added after the story ran, about the harbour cranes of Porto."
    engine.ingest_records([{**record, "text": record["text"] + added}])
    after = list(engine.store.iter_chunks())
    new = [chunk for chunk in after if chunk.text not in before]
    assert new and len(new) < len(after)
    assert sorted(embedded) == sorted(f"{chunk.article.title}\n{chunk.text}" for chunk in new)
    assert check_store(engine.store).ok


def test_remove_by_id_and_by_path(seeded: Engine):
    first, second = sorted(seeded.articles(), key=lambda a: a.path or "")
    assert seeded.retriever.catalog.search("Stoltenberg", 10)
    ids, removed = seeded.remove(first.id)
    assert (ids, removed) == ([first.id], first.chunks)
    ids, removed = seeded.remove(str(Path(second.path or "")))
    assert (ids, removed) == ([second.id], second.chunks)
    assert seeded.stats().chunks == 0
    assert seeded.retriever.catalog.search("Stoltenberg", 10) == []
    with pytest.raises(NotFoundError, match="no stored article has the id or path 'nope'"):
        seeded.remove("nope")


def test_bad_files_are_reported_and_the_rest_ingested(engine: Engine, tmp_path: Path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "good.txt").write_text("Good title\nThe mayor opened a new bridge on Monday.")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "binary.txt").write_bytes(b"\x00\x01\x02" * 100)
    (folder / "latin1.txt").write_bytes("Caf\xe9".encode("latin-1"))
    (folder / "fields.json").write_text(json.dumps({"title": "no body"}))
    with (folder / "huge.md").open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    (tmp_path / "nothing").mkdir()
    report = engine.ingest([folder, tmp_path / "nothing"])
    assert report.count(IngestStatus.ADDED) == 1
    reasons = {Path(item.location).name: item.reason for item in report.failed}
    assert reasons == {
        "binary.txt": "binary file, not text",
        "empty.txt": "empty file",
        "fields.json": "missing 'text' or 'body'",
        "huge.md": "file too large (50.0 MB > 40 MB; raise QA_MAX_FILE_MB)",
        "latin1.txt": "not UTF-8 text (invalid byte at offset 3)",
        "nothing": reasons["nothing"],
    }
    assert reasons["nothing"].startswith("no article files found")
    assert engine.stats().articles == 1


def test_uploads_are_kept_under_hashed_names_and_a_bad_reupload_replaces_nothing(engine: Engine):
    first = engine.ingest_upload("../../etc/notes.txt", b"Bridge opens\nThe mayor opened a new bridge on Monday.")
    [item] = first.items
    assert (item.location, item.status) == ("notes.txt", IngestStatus.ADDED)
    [stored] = list((engine.settings.data_dir / "uploads").iterdir())
    assert stored.parent == engine.settings.data_dir / "uploads" and stored.suffix == ".txt"
    # The same name again with text that cannot be read: the stored article and file stay as they were.
    bad = engine.ingest_upload("notes.txt", "Caf\xe9".encode("latin-1"))
    assert [(i.location, i.status, i.reason) for i in bad.items] == [
        ("notes.txt", IngestStatus.FAILED, "not UTF-8 text (invalid byte at offset 3)")
    ]
    assert list((engine.settings.data_dir / "uploads").iterdir()) == [stored]
    assert engine.get_article(item.article_id or "").text.endswith("new bridge on Monday.")
    # The same name with new text updates that article instead of adding another.
    updated = engine.ingest_upload("notes.txt", b"Bridge opens\nThe mayor opened a new bridge on Tuesday.")
    assert [(i.article_id, i.status) for i in updated.items] == [(item.article_id, IngestStatus.UPDATED)]
    assert engine.stats().articles == 1


@pytest.mark.parametrize(
    ("name", "size", "reason"),
    [
        ("report.pdf", 10, "unsupported file type (supported: .htm, .html, .json, .jsonl, .markdown, .md, .txt)"),
        ("big.txt", 21 * 1024 * 1024, "file too large (21.0 MB > 20 MB)"),
    ],
)
def test_uploads_of_the_wrong_type_or_size_are_refused(engine: Engine, name: str, size: int, reason: str):
    report = engine.ingest_upload(name, b"x" * size)
    assert [(i.location, i.status, i.reason) for i in report.items] == [(name, IngestStatus.FAILED, reason)]
    assert not (engine.settings.data_dir / "uploads").exists()
    assert engine.stats().articles == 0


def test_a_benchmark_slice_ingests_with_dates_and_sources(engine: Engine):
    report = engine.ingest([Path(__file__).parent / "data" / "realtimeqa_slice" / "articles.jsonl"])
    assert report.failed == []
    stats = engine.stats()
    assert stats.articles == report.count(IngestStatus.ADDED) > 20
    assert stats.first_published is not None and stats.last_published is not None
    assert "cnn.com" in stats.sources


def test_stats_follow_every_writer_and_say_what_the_stored_articles_say(engine: Engine, embeddings: MiniLMEmbeddings):
    """Stats come from counts and the catalogue, not from reading every article: another writer's additions and
    removals show in them, and they agree with the list of stored articles."""
    other = Engine(engine.settings, embeddings)  # its own catalogue, as another process has
    records = [
        {"id": "a1", "source": "Alpha News", "published": "2024-03-01", "text": "The council approved the bridge."},
        {"id": "b1", "source": "Beta Wire", "published": "2024-05-02", "text": "The river flooded the old town."},
        {"id": "a2", "source": "Alpha News", "published": "2024-04-10", "text": "The mayor opened the new library."},
        {"id": "u1", "text": "An undated note about the harbour."},
    ]

    def listed(e: Engine) -> tuple:
        articles = e.articles()
        dates = [a.published for a in articles if a.published]
        return len(articles), sorted({a.source for a in articles if a.source}), min(dates), max(dates)

    def stats(e: Engine) -> tuple:
        figures = e.stats()
        return figures.articles, figures.sources, figures.first_published, figures.last_published

    assert engine.stats().first_published is None and engine.stats().sources == []
    assert other.ingest_records(records).failed == []
    assert stats(engine) == listed(engine) == (4, ["Alpha News", "Beta Wire"], date(2024, 3, 1), date(2024, 5, 2))
    other.remove("b1")
    other.remove("a1")
    assert stats(engine) == listed(engine) == (2, ["Alpha News"], date(2024, 4, 10), date(2024, 4, 10))
    assert engine.stats().chunks == sum(a.chunks for a in engine.articles())


def test_a_large_ingest_embeds_in_worker_processes_and_stores_the_same_vectors(
    embeddings: MiniLMEmbeddings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Chroma holds the GIL while it writes, so a large ingest embeds in worker processes (qa.embedding_workers).
    Embedded Chroma only: where the vectors are stored does not change how they are made."""
    records = [json.loads(line) for line in (DATA / "realtimeqa_slice" / "articles.jsonl").open()]
    engine = Engine(Settings(data_dir=tmp_path / "processes"), embeddings)
    in_threads = Engine(Settings(data_dir=tmp_path / "threads"), embeddings)
    in_threads.ingest_records(records)
    started: list[bool] = []
    worker_processes = type(engine.embeddings).worker_processes
    monkeypatch.setattr(
        type(engine.embeddings), "worker_processes", lambda self: started.append(True) or worker_processes(self)
    )
    monkeypatch.setattr("qa.ingest.PROCESSES_FROM_CHUNKS", 100)
    engine.ingest_records(records[:2])  # under 100 chunks: embedded in threads
    assert started == []
    engine.ingest_records(records[2:])
    assert started == [True]

    def stored(engine: Engine) -> dict[str, list[float]]:
        found = engine.store._chunks.get(include=["embeddings"])
        return dict(zip(found["ids"], found["embeddings"].tolist(), strict=True))

    assert stored(engine) == stored(in_threads)


def test_an_index_built_with_another_model_is_refused(engine: Engine):
    other = copy.copy(engine.embeddings)
    other.model_name = "some/other-model"
    with pytest.raises(StoreError, match=r"was built with sentence-transformers/all-MiniLM-L6-v2 .* some/other-model"):
        ArticleStore(engine.settings, other)


def test_an_index_is_written_and_searched_by_any_backend_of_its_model(seeded: Engine):
    """Every backend's vectors keep to the reference's (test_embeddings.py): an index made on one machine serves
    another that chose another backend, and records which backends wrote into it."""
    [first] = seeded.stats().embedding_backends
    other = OnnxFloat32MiniLM() if first != OnnxFloat32MiniLM.backend else OnnxInt8MiniLM()
    elsewhere = Engine(seeded.settings, other)
    [hit, *_] = elsewhere.retriever.retrieve("How many Russian diplomats did NATO expel?")
    assert "NATO" in hit.text
    assert elsewhere.ingest([DATA / "realtimeqa_slice" / "articles.jsonl"]).failed == []
    assert elsewhere.stats().embedding_backends == sorted([first, other.backend])


@pytest.mark.parametrize(("recorded_model", "backend"), [("@onnx-int8", "onnx-int8"), ("", "sentence-transformers")])
def test_an_index_from_before_backends_were_recorded_opens_with_its_one_backend(
    seeded: Engine, recorded_model: str, backend: str
):
    """Such an index named its backend after the model's name ("" for the reference)."""
    chunks = seeded.store._chunks
    old = {key: value for key, value in (chunks.metadata or {}).items() if key != BACKENDS_KEY}
    chunks.modify(metadata={**old, "embedding_model": "sentence-transformers/all-MiniLM-L6-v2" + recorded_model})
    reopened = ArticleStore(seeded.settings, seeded.embeddings)
    assert BACKENDS_KEY not in (reopened._chunks.metadata or {})  # opening writes nothing
    assert reopened.embedding_backends() == [backend]
    assert reopened.counts()[1] == seeded.stats().chunks
