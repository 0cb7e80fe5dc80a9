"""Reading that respects the period a question names: an answer from a sentence of another period gives way to one
of the asked period, and with none there the answer is a refusal that says what the other periods give."""

from __future__ import annotations

from datetime import date

from qa.answer.entities import load_recognizer
from qa.answer.extractive import ExtractiveAnswerer
from qa.answer.reading import read
from qa.embeddings import MiniLMEmbeddings
from qa.engine import Engine
from qa.models import ArticleRef, Chunk
from qa.query import Query
from qa.timewords import question_window

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
    return answerer.select(question, [chunk], window.period if with_period else None)


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


def test_a_question_about_a_past_period_reads_the_sentences_of_that_period_first(embeddings: MiniLMEmbeddings) -> None:
    filler = [f"Jane Doe the footballer played team match number {n} for the team." for n in range(14)]
    answer = "In 2005 the club she was at was Chelsea."
    text = " ".join([*filler, answer])
    chunk = Chunk(article=ArticleRef(id="jane", title="Jane Doe"), ordinal=0, start=0, end=len(text), text=text)
    question = "Which team did Jane Doe the footballer play for from 2005 to 2006?"
    window = question_window(question, ASKED_ON)
    assert window is not None
    unaware = read(question, [chunk], embeddings, load_recognizer())
    aware = read(question, [chunk], embeddings, load_recognizer(), window.period)
    assert answer not in [s.text for s in unaware.sentences]  # its words fit the question less than the filler's
    assert answer in [s.text for s in aware.sentences]
