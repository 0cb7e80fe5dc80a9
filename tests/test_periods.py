"""Reading that respects the period a question names: an answer from a sentence of another period gives way to one
of the asked period, and with none there the answer is a refusal that says what the other periods give."""

from __future__ import annotations

import math
from datetime import date

import pytest

from qa.answer.entities import load_recognizer
from qa.answer.extractive import ExtractiveAnswerer
from qa.answer.periods import PERIOD_FEATURES, relation, speaks_of
from qa.answer.reading import read
from qa.dates import overlaps, sentence_periods
from qa.embeddings import MiniLMEmbeddings
from qa.engine import Engine
from qa.models import ArticleRef, Chunk
from qa.query import Query
from qa.timewords import asked_period, question_window

PAGE = (
    "Jane Doe is an English footballer. Jane Doe played for Arsenal from 2001 to 2004. Jane Doe played for Chelsea "
    "from 2004 to 2006. In 2008 she joined Everton, where she ended her career in 2012."
)
ASKED_ON = date(2026, 12, 1)


def select(embeddings: MiniLMEmbeddings, question: str, with_period: bool = True):
    chunk = Chunk(article=ArticleRef(id="jane", title="Jane Doe"), ordinal=0, start=0, end=len(PAGE), text=PAGE)
    window = question_window(question, ASKED_ON)
    assert window is not None
    answerer = ExtractiveAnswerer(embeddings, refusal_threshold=0.0)
    return answerer.select(question, [chunk], asked_period(window, ASKED_ON) if with_period else None)


def test_the_answer_comes_from_a_sentence_of_the_period_asked(embeddings: MiniLMEmbeddings) -> None:
    for question, team in [
        ("Which team did Jane Doe play for from 2005 to 2006?", "Chelsea"),
        ("Which team did Jane Doe play for from 2002 to 2003?", "Arsenal"),
        ("Which team did Jane Doe play for from 2009 to 2010?", "Everton"),  # joined in 2008 … ended in 2012
    ]:
        selection = select(embeddings, question)
        assert selection.short_answer is not None and selection.short_answer.text == team, question
        assert team in selection.evidence[0].text


def test_a_period_no_sentence_speaks_of_is_refused_with_what_the_others_give(embeddings: MiniLMEmbeddings) -> None:
    selection = select(embeddings, "Which team did Jane Doe play for from 1990 to 1995?")
    assert selection.evidence == [] and selection.short_answer is None
    [(answer, period)] = selection.elsewhere  # nothing before 1990 is said: only the nearest after
    assert answer == "Arsenal" and (period.since, period.until) == (date(2001, 1, 1), date(2004, 12, 31))
    assert select(embeddings, "Which team did Jane Doe play for from 1990 to 1995?", with_period=False).evidence


def test_the_answer_says_what_the_other_periods_give(engine: Engine) -> None:
    engine.ingest_records([{"id": "jane", "title": "Jane Doe", "text": PAGE}])
    answer = engine.ask(Query(question="Which team did Jane Doe play for from 1990 to 1995?", as_of=ASKED_ON))
    assert answer.refused and not answer.citations
    assert "The articles give “Arsenal” for 2001 to 2004; nothing for 1990 to 1995." in answer.notices
    asked = engine.ask(Query(question="Which team did Jane Doe play for from 2005 to 2006?", as_of=ASKED_ON))
    assert asked.short_answer == "Chelsea" and not asked.refused


def test_a_question_about_now_is_answered_from_the_period_still_open(embeddings: MiniLMEmbeddings) -> None:
    text = "Tom Hart led Riverside FC from 2010 to 2015. Since 2019 Riverside FC has been led by Ann Cole."
    page = Chunk(article=ArticleRef(id="club", title="Riverside FC"), ordinal=0, start=0, end=len(text), text=text)
    answerer = ExtractiveAnswerer(embeddings, refusal_threshold=0.0)
    unaware = answerer.select("Who leads Riverside FC?", [page])
    assert unaware.short_answer is not None and unaware.short_answer.text == "Tom Hart"  # the scorer's first pick
    now = answerer.select("Who leads Riverside FC?", [page], asked_period(None, ASKED_ON))
    assert now.short_answer is not None and now.short_answer.text == "Ann Cole"
    assert now.evidence[0].text.startswith("Since 2019")


def test_a_question_about_a_past_period_reads_the_sentences_of_that_period_first(embeddings: MiniLMEmbeddings) -> None:
    filler = [f"Jane Doe the footballer played team match number {n} for the team." for n in range(14)]
    answer = "In 2005 the club she was at was Chelsea."
    text = " ".join([*filler, answer])
    chunk = Chunk(article=ArticleRef(id="jane", title="Jane Doe"), ordinal=0, start=0, end=len(text), text=text)
    question = "Which team did Jane Doe the footballer play for from 2005 to 2006?"
    window = question_window(question, ASKED_ON)
    assert window is not None
    unaware = read(question, [chunk], embeddings, load_recognizer())
    aware = read(question, [chunk], embeddings, load_recognizer(), asked_period(window, ASKED_ON))
    assert answer not in [s.text for s in unaware.sentences]  # its words fit the question less than the filler's
    assert answer in [s.text for s in aware.sentences]


def test_a_question_with_no_time_words_is_about_the_as_of_day_and_a_recent_one_is_not_past() -> None:
    now = asked_period(None, ASKED_ON)
    assert (now.period.since, now.period.until, now.named, now.past) == (ASKED_ON, ASKED_ON, False, False)
    last_week = asked_period(question_window("What happened last week?", ASKED_ON), ASKED_ON)
    assert last_week.named and not last_week.past  # its news is still coming in
    long_ago = asked_period(question_window("Who won in 2004?", ASKED_ON), ASKED_ON)
    assert long_ago.named and long_ago.past and long_ago.period.since == date(2004, 1, 1)


def test_a_question_asked_of_a_window_the_user_set_is_about_its_end() -> None:
    query = Query(question="Who leads the club?", until=date(2023, 1, 10), as_of=ASKED_ON)
    window = query.search()[1]
    assert window is None and query.period(window).period.until == date(2023, 1, 10)
    assert not query.period(window).named and not query.period(window).past
    worded = Query(question="Who led the club in 2004?", as_of=ASKED_ON)
    assert worded.period(worded.search()[1]).past


def test_a_sentence_period_is_described_against_the_asked_one() -> None:
    asked = asked_period(question_window("Which team did she play for from 2004 to 2005?", ASKED_ON), ASKED_ON)

    def described(sentence: str) -> dict[str, float]:
        return dict(zip(PERIOD_FEATURES, relation(sentence_periods(sentence, None), asked), strict=True))

    inside = described("She played for Chelsea in 2005.")
    assert (inside["has_period"], inside["period_overlaps"], inside["period_inside"]) == (1, 1, 1)
    around = described("She played for Chelsea from 2003 to 2007.")
    assert (around["period_overlaps"], around["period_inside"]) == (1, 0)
    before = described("She played for Arsenal from 1990 to 1995.")
    assert before["period_overlaps"] == 0 and before["period_after"] == 0
    assert before["period_before"] == pytest.approx(math.log1p((date(2004, 1, 1) - date(1995, 12, 31)).days))
    after = described("She joined Everton in 2008.")
    assert after["period_before"] == 0 and after["period_after"] > before["period_before"] / 2
    none = described("She is an English footballer.")
    assert none == {**dict.fromkeys(PERIOD_FEATURES, 0.0), "asked_named": 1.0, "asked_past": 1.0}
    # A question about now is compared with no period: how old a sentence is stays the search's to weigh.
    months_before = relation(sentence_periods("She joined Everton in March 2026.", None), asked_period(None, ASKED_ON))
    assert months_before == [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]


def test_a_lifetime_holds_the_period_without_speaking_of_it() -> None:
    asked = asked_period(question_window("Which team did she play for from 1990 to 1995?", ASKED_ON), ASKED_ON).period
    lifetime = sentence_periods("Jane Doe (12 May 1950 – 3 June 2020) was an English footballer.", None)
    assert any(overlaps(period, asked) for period in lifetime)  # it holds the period, so only its length tells
    assert speaks_of(lifetime, asked) is False
    assert speaks_of(sentence_periods("She played for Arsenal from 1988 to 1996.", None), asked) is True
    assert speaks_of(sentence_periods("She has played for Arsenal since 1960.", None), asked) is True  # open: current
    assert speaks_of(sentence_periods("She is an English footballer.", None), asked) is None


def test_an_answer_from_a_lifetime_gives_way_to_the_refusal_of_the_period(embeddings: MiniLMEmbeddings) -> None:
    lifetime = "Jane Doe (12 May 1950 – 3 June 2020) was an English footballer who played for Arsenal."
    text = f"{lifetime} She retired in 2001."
    page = Chunk(article=ArticleRef(id="jane", title="Jane Doe"), ordinal=0, start=0, end=len(text), text=text)
    question = "Which team did Jane Doe play for from 1990 to 1995?"
    answerer = ExtractiveAnswerer(embeddings, refusal_threshold=0.0)
    unaware = answerer.select(question, [page])
    assert unaware.short_answer is not None and unaware.evidence[0].text == lifetime  # the only team named
    selection = answerer.select(question, [page], asked_period(question_window(question, ASKED_ON), ASKED_ON))
    assert selection.evidence == [] and [period.since for _, period in selection.elsewhere] == [date(2001, 1, 1)]
