"""Stories: a reprint under another outlet's name is one story with its original (one place in the passages, both
outlets named in the citation); a newer version of a story takes its place and the answer says it was updated;
different articles stay apart."""

from __future__ import annotations

from datetime import date

from qa.engine import Engine
from qa.query import Query
from qa.stories import SAME_STORY, StoryFinder, shingles, similarity

from .conftest import SEEDS

ORIGINAL = (SEEDS / "000_133c750ab31475f0.txt").read_text()
OTHER = (SEEDS / "004_ea751519490200ce.txt").read_text()
QUESTION = "What did Stoltenberg call the withdrawal from Afghanistan?"


def reprint(text: str, outlet: str) -> str:
    """The text as a syndicating outlet runs it: its own lead line and footer, the original's credit dropped."""
    body = text.replace("This article was originally published by Radio Free Europe/Radio Liberty", "")
    return f"{outlet} staff and wire reports.\n\n{body}\n\nRead more world news on {outlet}. Follow us for updates."


def test_similarity_separates_reprints_from_other_articles() -> None:
    assert similarity(shingles(ORIGINAL), shingles(reprint(ORIGINAL, "Yahoo News"))) > 0.85
    assert similarity(shingles(ORIGINAL), shingles(OTHER)) < 0.05
    edited = ORIGINAL.replace("November 8", "November 9").replace("painful one", "hard one")
    assert similarity(shingles(ORIGINAL), shingles(edited)) >= SAME_STORY


def test_a_reprint_joins_its_originals_story_and_is_named_beside_it(seeded: Engine) -> None:
    [original] = [a for a in seeded.articles() if a.title.startswith("Stoltenberg Condemns")]
    assert original.story == original.id
    yahoo = {"title": "NATO's biggest defeat", "text": reprint(ORIGINAL, "Yahoo News"), "source": "Yahoo News"}
    wtop = {
        "title": "Also carried",
        "text": reprint(ORIGINAL, "WTOP"),
        "source": "WTOP",
        "url": "https://wtop.example/a",
    }
    report = seeded.ingest_records([yahoo, wtop])
    assert report.count("added") == 2
    stories = {a.source: a.story for a in seeded.articles()}
    assert stories["Yahoo News"] == stories["WTOP"] == original.id
    assert len({a.story for a in seeded.articles()}) == 2  # the other seed stays its own story
    passages = seeded.retriever.retrieve(QUESTION, 5)
    assert [p.story for p in passages[:2]].count(original.id) == 1  # one place for the story, the other seed next
    answer = seeded.ask(Query(question=QUESTION))
    assert not answer.refused
    in_story = {a.id for a in seeded.articles() if a.story == original.id}
    [cited] = [c for c in answer.citations if c.article.id in in_story]
    named = {cited.article.source, *cited.also_in}  # the seed names no outlet
    assert {"Yahoo News", "WTOP"} <= named and cited.article.source not in cited.also_in


def test_a_newer_version_takes_the_storys_place_and_the_answer_says_so(engine: Engine) -> None:
    first = {"title": "Stoltenberg: biggest defeat", "text": ORIGINAL, "source": "Wire", "date": "2021-11-09",
             "url": "https://wire.example/1"}  # fmt: skip
    update = {**first, "url": "https://wire.example/1-updated", "date": "2021-11-10",
              "text": ORIGINAL.replace("November 8", "November 8 (updated with reactions)")}  # fmt: skip
    engine.ingest_records([first, OTHER_RECORD])
    engine.ingest_records([update])
    passages = engine.retriever.retrieve(QUESTION, 5)
    story = [p for p in passages if p.article.url and p.article.url.startswith("https://wire.example/")]
    assert story[0].article.url == "https://wire.example/1-updated" and passages[0] == story[0]
    answer = engine.ask(Query(question=QUESTION, as_of=date(2021, 11, 20)))
    assert answer.citations[0].article.url == "https://wire.example/1-updated"
    assert "[1] is an updated version of a story Wire first ran on 9 Nov 2021." in answer.notices


OTHER_RECORD = {"title": "Stoltenberg on Russia", "text": OTHER, "source": "Wire", "date": "2021-10-20"}


def test_the_finder_groups_within_one_run_and_keeps_strangers_apart() -> None:
    from qa.models import Article

    finder = StoryFinder(lambda keys: [])
    a = finder.assign(Article(id="a", title="t", text=ORIGINAL, published=date(2021, 11, 9)))
    b = finder.assign(Article(id="b", title="t", text=reprint(ORIGINAL, "X"), published=date(2021, 11, 10)))
    c = finder.assign(Article(id="c", title="t", text=OTHER))
    assert (a.story, b.story, c.story) == ("a", "a", "c")


def test_regrouping_an_index_finds_the_stories_ingest_would(seeded: Engine) -> None:
    from qa.stories import regroup_stories

    seeded.ingest_records([{"title": "Copy", "text": reprint(ORIGINAL, "WTOP"), "source": "WTOP"}])
    grouped = {a.id: a.story for a in seeded.articles()}
    seeded.store.set_stories({id_: id_ for id_ in grouped})  # as an index from before stories: each its own
    counted = regroup_stories(seeded.store)
    assert (counted.articles, counted.stories, counted.in_shared, counted.moved) == (3, 2, 2, 1)
    assert {a.id: a.story for a in seeded.articles()} == grouped
    assert {c.story for c in seeded.store.iter_chunks()} == set(grouped.values())
    shared = next(story for story in grouped.values() if list(grouped.values()).count(story) == 2)
    members = seeded.retriever.catalog.story_members([shared])  # the catalogue re-read the moved articles
    assert sorted(m.article_id for m in members) == sorted(id_ for id_, story in grouped.items() if story == shared)
    assert "3 articles in 2 stories; 2 (66.7%) share a story" in counted.summary()


HOW_MANY = "How many Russians did NATO expel?"


def test_an_altered_copy_never_speaks_for_the_original(seeded: Engine) -> None:
    [original] = [a for a in seeded.articles() if "new low" in seeded.get_article(a.id).text]
    altered = {"title": "NATO expels Russians", "text": reprint(OTHER, "Copycat News").replace("eight", "eighty"),
               "source": "Copycat News", "date": "2021-11-01", "url": "https://copycat.example/a"}  # fmt: skip
    faithful = {"title": "NATO expels Russians", "text": reprint(OTHER, "Faithful Times"), "source": "Faithful Times",
                "date": "2021-11-02", "url": "https://faithful.example/a"}  # fmt: skip
    assert seeded.ingest_records([altered, faithful]).count("added") == 2
    assert {a.story for a in seeded.articles() if a.source in ("Copycat News", "Faithful Times")} == {original.id}
    answer = seeded.ask(Query(question=HOW_MANY))
    assert not answer.refused and "eighty" not in answer.answer
    [cited] = [c for c in answer.citations if "expelled eight Russians" in c.quote]
    assert cited.article.id == original.id  # the original holds the story's place, not the later copy
    assert cited.also_in == ["Faithful Times"]  # only an outlet whose own text carries the quote
    differ = f"Versions of the story [{cited.n}] quotes differ: Copycat News did not run this passage as quoted."
    assert differ in answer.notices


def test_a_story_is_led_by_its_original_outlet_and_updated_only_by_it() -> None:
    from qa.fusion import diversify
    from qa.models import ArticleRef, Chunk

    def chunk(article: str, source: str, day: int | None, score: float) -> Chunk:
        published = date(2021, 11, day) if day else None
        return Chunk(article=ArticleRef(id=article, title="t", source=source, published=published), ordinal=0,
                     start=0, end=4, text="text", story="seed", score=score)  # fmt: skip

    copy, seed = chunk("copy", "Copycat News", 20, 0.9), chunk("seed", "RFE/RL", None, 0.5)
    assert diversify([copy, seed])[0] is seed  # a better-ranked, newer copy from another outlet does not lead
    first, update = chunk("seed", "Wire", 9, 0.5), chunk("seed-2", "Wire", 10, 0.4)
    assert diversify([copy, first, update])[0] is update  # the original outlet's newer version does
    assert diversify([copy, chunk("other", "Elsewhere", 25, 0.3)])[0] is copy  # no original: the best ranked


def test_regrouping_follows_the_order_articles_were_first_stored_whatever_their_ids(engine: Engine) -> None:
    from qa.stories import regroup_stories

    engine.ingest_records([{"id": "zz-first", "title": "Relations hit a new low", "text": OTHER}])
    engine.ingest_records([{"id": "aa-copy", "title": "Copy", "text": reprint(OTHER, "WTOP"), "source": "WTOP"}])
    engine.ingest_records([{"id": "zz-first", "title": "Relations hit a new low", "text": OTHER + "\n\nUpdated."}])
    assert {a.id: a.story for a in engine.articles()} == {"zz-first": "zz-first", "aa-copy": "zz-first"}
    engine.store.set_stories({"zz-first": "zz-first", "aa-copy": "aa-copy"})  # as an index from before stories
    assert regroup_stories(engine.store).moved == 1
    assert {a.id: a.story for a in engine.articles()} == {"zz-first": "zz-first", "aa-copy": "zz-first"}
