"""qa check finds every half-written article and --repair makes it whole; export, import and reindex lose nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qa.chunking import chunk_article
from qa.cli import app
from qa.config import Settings
from qa.embeddings import MiniLMEmbeddings
from qa.engine import Engine
from qa.errors import QAError, StoreError
from qa.ingest import ingest_articles
from qa.maintenance import ProblemKind, check_store, export_store, import_store, reindex, repair_store
from qa.models import Article
from qa.query import Query
from qa.reindex import staging_collections, staging_prefix
from qa.store import ArticleStore

from .conftest import DATA, SEEDS

SUBSET = DATA / "realtimeqa_eval20" / "articles.jsonl"


def stored_chunks(engine: Engine, article_id: str) -> list[tuple[int, int, int, str]]:
    return sorted(
        (chunk.ordinal, chunk.start, chunk.end, chunk.text)
        for chunk in engine.store.iter_chunks()
        if chunk.article.id == article_id
    )


def expected_chunks(engine: Engine, article: Article) -> list[tuple[int, int, int, str]]:
    words, overlap = engine.store.chunking
    chunks = chunk_article(article, chunk_words=words, overlap_words=overlap)
    return [(chunk.ordinal, chunk.start, chunk.end, chunk.text) for chunk in chunks]


def crash_before_article_record(monkeypatch: pytest.MonkeyPatch, engine: Engine) -> None:
    """Make the next article write stop where a kill would: chunks written, the article record not."""

    def killed(**_: object) -> None:
        raise RuntimeError("killed")

    monkeypatch.setattr(engine.store._articles, "upsert", killed)


def test_a_clean_index_has_no_problems(seeded: Engine):
    report = check_store(seeded.store)
    assert report.ok
    assert (report.articles, report.chunks) == (seeded.stats().articles, seeded.stats().chunks)


def test_check_finds_each_kind_of_damage_and_repair_makes_every_article_whole(
    seeded: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    old, other = sorted(seeded.articles(), key=lambda a: a.id)
    old_article = seeded.get_article(old.id)
    # 1. An update cut short: the new version's chunks over the old version's record.
    changed = old_article.model_copy(update={"text": old_article.text + "\n\nA late paragraph. " * 40})
    # 2. A new article cut short: chunks without any record.
    new = Article(id="new-article", title="New", text="A brand new article about harbour cranes. " * 30)
    with monkeypatch.context() as patch:
        crash_before_article_record(patch, seeded)
        for article in (changed, new):
            with pytest.raises(RuntimeError, match="killed"):
                seeded.ingest_records([article.model_dump(mode="json", exclude={"content_hash"})])
    # 3. A chunk lost from a complete article.
    seeded.store._chunks.delete(ids=[f"{other.id}:1"])
    # 4. A reindex that never finished.
    ArticleStore(seeded.settings, seeded.embeddings, prefix=staging_prefix(seeded.settings.collection))

    found = check_store(seeded.store)
    kinds = {(problem.kind, problem.article_id) for problem in found.problems}
    assert kinds == {
        (ProblemKind.INCOMPLETE_ARTICLE, old.id),
        (ProblemKind.ORPHAN_CHUNKS, "new-article"),
        (ProblemKind.INCOMPLETE_ARTICLE, other.id),
        (ProblemKind.INTERRUPTED_REINDEX, None),
    }
    lost = next(p for p in found.problems if p.article_id == other.id)
    assert "missing chunk(s) 1" in lost.detail

    before, after = repair_store(seeded.store, seeded.settings)
    assert before.problems == found.problems
    assert after.ok, after.problems
    # The kept (old) text is what was restored, every chunk exactly as a clean ingest splits it.
    assert seeded.get_article(old.id).content_hash == old.content_hash
    for article_id in (old.id, other.id):
        assert stored_chunks(seeded, article_id) == expected_chunks(seeded, seeded.get_article(article_id))
    assert "new-article" not in {a.id for a in seeded.articles()}
    # A rerun of the ingest then stores the new version whole.
    seeded.ingest_records([changed.model_dump(mode="json", exclude={"content_hash"})])
    assert check_store(seeded.store).ok
    assert stored_chunks(seeded, old.id) == expected_chunks(seeded, changed)


def test_check_command_lists_problems_and_exits_1_until_repaired(
    tmp_path: Path, embeddings: MiniLMEmbeddings, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path / "data"))
    engine = Engine(Settings(), embeddings)
    engine.ingest([SEEDS])
    target = engine.articles()[0]
    engine.store._chunks.delete(ids=[f"{target.id}:0"])
    monkeypatch.setattr("qa.shell.load_embeddings", lambda: embeddings)
    runner = CliRunner()

    checked = runner.invoke(app, ["check"])
    assert checked.exit_code == 1
    assert f"incomplete_article  {target.id}  {target.chunks - 1} of {target.chunks} chunks stored" in checked.stdout
    assert "1 problem(s); `qa check --repair` fixes them" in checked.stdout

    repaired = runner.invoke(app, ["check", "--repair", "--json"])
    assert repaired.exit_code == 0, repaired.stdout
    figures = json.loads(repaired.stdout)
    assert [p["article_id"] for p in figures["found"]["problems"]] == [target.id]
    assert figures["after_repair"]["problems"] == []
    assert runner.invoke(app, ["check"]).exit_code == 0


def test_the_maintenance_commands_export_import_regroup_and_reindex(
    tmp_path: Path, embeddings: MiniLMEmbeddings, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr("qa.shell.load_embeddings", lambda: embeddings)
    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path / "first"))
    Engine(Settings(), embeddings).ingest([SEEDS])
    runner = CliRunner()
    exported = runner.invoke(app, ["export", str(tmp_path / "export")])
    assert exported.exit_code == 0 and "exported 2 articles" in exported.stdout
    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path / "second"))
    imported = runner.invoke(app, ["import", str(tmp_path / "export")])
    assert imported.exit_code == 0 and "2 added" in imported.stdout, imported.output
    regrouped = runner.invoke(app, ["stories"])
    assert (
        regrouped.exit_code == 0 and "2 articles in 2 stories" in regrouped.stdout and "0 regrouped" in regrouped.stdout
    )
    rebuilt = runner.invoke(app, ["reindex"])
    assert rebuilt.exit_code == 0 and "2 added" in rebuilt.stdout, rebuilt.output
    assert sorted(a.title for a in Engine(Settings(), embeddings).articles()) == sorted(
        a.title for a in Engine(Settings(data_dir=tmp_path / "first"), embeddings).articles()
    )


def test_export_then_import_restores_every_article(seeded: Engine, tmp_path: Path, embeddings: MiniLMEmbeddings):
    seeded.ingest_records([json.loads(line) for line in SUBSET.read_text().splitlines()[:4]])
    exported = export_store(seeded.store, tmp_path / "export")
    originals = {a.id: a for a in seeded.articles()}
    assert exported == len(originals)
    manifest = json.loads((tmp_path / "export" / "settings.json").read_text())
    assert manifest["articles"] == exported and manifest["chunk_words"] == seeded.settings.chunk_words

    fresh = Engine(Settings(data_dir=tmp_path / "fresh", collection="restored"), embeddings)
    _, report = import_store(tmp_path / "export", fresh.store, fresh.settings)
    assert report.failed == [] and report.count("added") == exported
    restored = {a.id: a for a in fresh.articles()}
    assert {id_: (a.content_hash, a.chunks, a.path) for id_, a in restored.items()} == {
        id_: (a.content_hash, a.chunks, a.path) for id_, a in originals.items()
    }
    assert check_store(fresh.store).ok
    assert fresh.ask(Query(question="How many Russian diplomats did NATO expel?")).citations


def test_import_and_reindex_save_the_lexical_index_for_the_next_process(
    seeded: Engine, tmp_path: Path, embeddings: MiniLMEmbeddings, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr("qa.catalog.SNAPSHOT_AFTER", 1)
    export_store(seeded.store, tmp_path / "export")
    fresh = Engine(Settings(data_dir=tmp_path / "fresh", collection="restored"), embeddings)
    import_store(tmp_path / "export", fresh.store, fresh.settings)
    assert_next_process_loads_the_lexical_index(fresh.settings, embeddings, monkeypatch)
    reindex(fresh.settings, embeddings)
    assert_next_process_loads_the_lexical_index(fresh.settings, embeddings, monkeypatch)


def assert_next_process_loads_the_lexical_index(
    settings: Settings, embeddings: MiniLMEmbeddings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new engine answers from the saved lexical index: not one chunk is read to build it."""
    with monkeypatch.context() as patch:
        patch.setattr(ArticleStore, "iter_chunks", lambda self: pytest.fail("no lexical index was saved"))
        patch.setattr(ArticleStore, "chunks_of", lambda self, ids: pytest.fail("the saved lexical index was stale"))
        assert Engine(settings, embeddings).retriever.catalog.search("Stoltenberg", 5)


def test_import_reports_bad_records_and_refuses_a_folder_that_is_no_export(
    seeded: Engine, tmp_path: Path, embeddings: MiniLMEmbeddings
):
    folder = tmp_path / "export"
    export_store(seeded.store, folder)
    lines = (folder / "articles.jsonl").read_text().splitlines()
    (folder / "articles.jsonl").write_text("\n".join([*lines, "{not json", json.dumps({"title": "no text"})]) + "\n")
    fresh = Engine(Settings(data_dir=tmp_path / "fresh"), embeddings)
    _, report = import_store(folder, fresh.store, fresh.settings)
    assert report.count("added") == len(lines)
    assert [item.location.rsplit(":", 1)[1] for item in report.failed] == [str(len(lines) + 1), str(len(lines) + 2)]
    with pytest.raises(QAError, match=r"is not a qa export \(settings.json and articles.jsonl\)"):
        import_store(tmp_path, fresh.store, fresh.settings)


def test_an_old_schema_names_the_command_that_migrates_it(seeded: Engine, embeddings: MiniLMEmbeddings):
    before = {a.id: a.content_hash for a in seeded.articles()}
    metadata = dict(seeded.store._chunks.metadata or {})
    seeded.store._chunks.modify(metadata={**metadata, "schema_version": 0})
    with pytest.raises(StoreError, match=r"schema 0\).*run `qa reindex` to rebuild it from the stored article texts"):
        Engine(seeded.settings, embeddings)

    report = reindex(seeded.settings, embeddings)
    assert report.failed == [] and report.count("added") == len(before)
    migrated = Engine(seeded.settings, embeddings)
    assert {a.id: a.content_hash for a in migrated.articles()} == before
    assert check_store(migrated.store).ok
    assert migrated.ask(Query(question="How many Russian diplomats did NATO expel?")).citations


def test_new_chunk_settings_need_a_reindex_which_resplits_every_article(
    seeded: Engine, embeddings: MiniLMEmbeddings, seed_copy: Path
):
    resized = seeded.settings.model_copy(update={"chunk_words": 60, "chunk_overlap_words": 10})
    with pytest.raises(StoreError, match=r"120-word chunks with 30 words of overlap.*run `qa reindex`"):
        Engine(resized, embeddings).ingest([seed_copy])
    chunks_before = seeded.stats().chunks
    reindex(resized, embeddings)
    rebuilt = Engine(resized, embeddings)
    assert rebuilt.store.chunking == (60, 10)
    assert rebuilt.stats().chunks > chunks_before
    assert check_store(rebuilt.store).ok


def test_a_reindex_killed_before_the_swap_leaves_the_old_index_and_one_killed_during_it_is_finished(
    seeded: Engine, embeddings: MiniLMEmbeddings, monkeypatch: pytest.MonkeyPatch
):
    chunks = seeded.stats().chunks

    def killed(*_: object, **__: object) -> None:
        raise RuntimeError("killed")

    with monkeypatch.context() as patch:
        patch.setattr("qa.maintenance.swap_in", killed)
        with pytest.raises(RuntimeError):
            reindex(seeded.settings, embeddings)
    reopened = Engine(seeded.settings, embeddings)
    assert reopened.stats().chunks == chunks
    assert [p.kind for p in check_store(reopened.store).problems] == [ProblemKind.INTERRUPTED_REINDEX]
    assert repair_store(reopened.store, reopened.settings)[1].ok

    # Killed after the staging index was marked complete and the old chunks deleted: the next open swaps it in.
    staging = ArticleStore(seeded.settings, embeddings, prefix=staging_prefix(seeded.settings.collection))
    ingest_articles(list(seeded.store.iter_articles()), staging, seeded.settings)
    staging._articles.modify(metadata={**(staging._articles.metadata or {}), "complete": True})
    seeded.store.connection.client.delete_collection(f"{seeded.settings.collection}-chunks")
    finished = Engine(seeded.settings, embeddings)
    assert staging_collections(finished.store.connection, finished.settings.collection) == []
    assert finished.stats().chunks == chunks and check_store(finished.store).ok


def test_an_update_that_drops_a_field_keeps_nothing_of_the_old_value(engine: Engine):
    record = {"id": "dated", "title": "Dated", "text": "Harbour cranes were sold. " * 20, "published": "2023-01-05"}
    engine.ingest_records([record])
    engine.ingest_records([{**record, "published": None, "source": "Gazette"}])
    assert engine.get_article("dated").published is None
    assert {chunk.article.published for chunk in engine.store.iter_chunks()} == {None}
    assert check_store(engine.store).ok


def test_export_import_and_reindex_commands(
    tmp_path: Path, embeddings: MiniLMEmbeddings, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr("qa.shell.load_embeddings", lambda: embeddings)
    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path / "first"))
    runner = CliRunner()
    assert runner.invoke(app, ["ingest", str(SEEDS)]).exit_code == 0
    exported = runner.invoke(app, ["export", str(tmp_path / "backup")])
    assert exported.exit_code == 0 and exported.stdout.startswith("exported 2 articles to ")

    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path / "second"))
    imported = runner.invoke(app, ["import", str(tmp_path / "backup")])
    assert imported.exit_code == 0 and imported.stdout.startswith("2 added, 0 updated, 0 skipped, 0 failed")
    monkeypatch.setenv("QA_CHUNK_WORDS", "60")
    assert "run `qa reindex`" in runner.invoke(app, ["import", str(tmp_path / "backup")]).stderr
    rebuilt = runner.invoke(app, ["reindex"])
    assert rebuilt.exit_code == 0 and rebuilt.stdout.startswith("2 added")
    assert runner.invoke(app, ["check"]).exit_code == 0

    refused = runner.invoke(app, ["import", str(tmp_path)])
    assert refused.exit_code == 1
    assert refused.stderr.startswith("Error: ") and "is not a qa export" in refused.stderr
