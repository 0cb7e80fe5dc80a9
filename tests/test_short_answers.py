"""Short answers: the phrase the learned scorer picks, never one the question already says, always in citation [1]."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.answer import ExtractiveAnswerer, ShortAnswer
from qa.answer.lists import asks_for_several
from qa.embeddings import MiniLMEmbeddings
from qa.engine import Engine
from qa.evaluation import metrics
from qa.evaluation.datasets import load_dataset
from qa.models import ArticleRef, Chunk
from qa.query import Query

from .conftest import DATA

SEED_SET = load_dataset(DATA / "seed_eval")
# Measured on the seed gold set, mean token F1: the hand-set engine 0.60, the first learned scorer 0.60, with the
# period features 0.50, with #35's reading (statements only, whole spans, hedges off numbers, the appositive
# feature) 0.62: "123,000" and "300,000" without "More than" and "some", "Ben Wallace" and "Hamdullah Fitrat" by the
# comma beside the question's words; 0.57 once a title-case headline ending in a quotation mark is no statement
# ("Stoltenberg Condemns NATO's Afghanistan Withdrawal as “Biggest Defeat”" had answered one question).
MIN_SEED_F1 = 0.55


def short_answer(question: str, texts: list[str], embeddings: MiniLMEmbeddings) -> ShortAnswer | None:
    """The short answer from the texts, each a passage of its own article, best retrieved first; never refused."""
    chunks = [
        Chunk(article=ArticleRef(id=f"a{i}", title="T"), ordinal=0, start=0, end=len(text), text=text)
        for i, text in enumerate(texts)
    ]
    return ExtractiveAnswerer(embeddings, refusal_threshold=0.0).select(question, chunks).short_answer


@pytest.mark.parametrize(
    ("question", "texts", "expected"),
    [
        (
            "How many Russians did NATO expel?",
            ["NATO expelled eight Russians from its Brussels headquarters in 2021.", "NATO met on Monday."],
            "eight",
        ),
        (
            "Which country was named the world's happiest for the sixth year in a row?",
            ["Finland was named the world's happiest country for the sixth year in a row on Monday."],
            "Finland",
        ),
        (
            "Who is the German defense minister?",
            ["German Defense Minister Annegret Kramp-Karrenbauer said NATO would not be intimidated by Russia."],
            "Annegret Kramp-Karrenbauer",
        ),
        (
            "In which month will the public health emergency end?",
            ["On Monday the White House said the public health emergency will end in May, ahead of 2024."],
            "May",
        ),
        (
            "Which airbase did the Trump administration want to keep?",
            ["The administration wanted to keep Bagram’s (the largest base) runway open."],
            "Bagram",
        ),
        (  # the asked kind: "what setting" asks for a place, not the noun phrase "human mission" before it
            "Four astronauts completed a year living in Dune Alpha, a simulation of conditions in what setting?",
            [
                "NASA says researchers will simulate the challenges of a human mission to Mars, including resource "
                "limitations and equipment failure."
            ],
            "Mars",
        ),
        (  # seen in several of the best sentences, a phrase beats one seen once in the best
            "Which team does Damar Hamlin play for?",
            [
                "Damar Hamlin, who plays for the Buffalo Bills, collapsed in Cincinnati.",
                "The Buffalo Bills said Damar Hamlin is improving.",
                "Fans of the Buffalo Bills gathered outside the hospital.",
            ],
            "Buffalo Bills",
        ),
    ],
)
def test_short_answer_picks_the_asked_for_phrase(
    embeddings: MiniLMEmbeddings, question: str, texts: list[str], expected: str
):
    found = short_answer(question, texts, embeddings)
    assert found is not None
    assert found.text == expected
    assert found.text in found.evidence.text


def test_a_phrase_the_question_already_says_is_never_the_answer(embeddings: MiniLMEmbeddings):
    found = short_answer("When did Joe Biden visit Kyiv?", ["Joe Biden visited Kyiv on Monday."], embeddings)
    assert found is not None and found.text == "Monday"
    assert short_answer("Who visited Kyiv?", ["Joe Biden visited Kyiv."], embeddings).text == "Joe Biden"
    assert short_answer("Did Joe Biden visit Kyiv?", ["Joe Biden visited Kyiv."], embeddings) is None


def test_no_phrase_of_the_asked_for_type_gives_none(embeddings: MiniLMEmbeddings):
    assert short_answer("How many troops were sent?", ["Troops were sent to the border."], embeddings) is None
    assert short_answer("Which year was it?", ["It was long ago, they said."], embeddings) is None


def test_short_answers_on_the_seed_gold_set_stand_in_citation_one(engine: Engine):
    engine.ingest([SEED_SET.articles_path])
    scores = []
    for gold in (q for q in SEED_SET.questions if q.answer):
        answer = engine.ask(Query(question=gold.question))
        if answer.short_answer:
            assert answer.short_answer in answer.citations[0].quote
        scores.append(metrics.token_f1(answer.short_answer or answer.answer, gold.answer))
    assert round(metrics.mean(scores), 4) >= MIN_SEED_F1


def test_refusals_have_no_short_answer(seeded: Engine):
    answer = seeded.ask(Query(question="Which team won the 2022 World Cup final in Qatar?"))
    assert answer.refused and answer.short_answer is None


@pytest.mark.parametrize(
    "text",
    [
        "The dockworkers ended their strike [1] after nine days [2], the union said [3].",
        "The dockworkers ended their \x1b]8;;http://x.example/\x07strike\x1b]8;;\x07 after nine days.",
        "The dockworkers ended their strike \x1b[1;31mafter nine days\x1b[0m of pickets.",
    ],
)
def test_markers_and_escape_sequences_never_become_the_short_answer(text: str, embeddings: MiniLMEmbeddings):
    found = short_answer("How many days did the dockworkers strike?", [text], embeddings)
    assert found is not None and found.text in ("nine", "nine days"), found


@pytest.mark.parametrize(
    ("question", "several"),
    [
        ("Which countries were hit with the tariffs?", True),
        ("Which two countries did NATO invite to join the alliance?", True),
        ("Which NFL teams are headed to the Super Bowl?", True),
        ("Who were the three astronauts on board?", True),
        ("Which country was hit with the tariffs?", False),
        ("Which series won the most Emmys?", False),
        ("Which virus spread?", False),
        ("Who won the election?", False),
    ],
)
def test_which_questions_ask_for_several_things(question: str, several: bool):
    assert asks_for_several(question) is several


def test_a_plural_question_gets_the_list_its_sentence_gives(embeddings: MiniLMEmbeddings):
    sentence = "Trump imposed the new tariffs on Canada and Mexico on Tuesday, the White House said."
    found = short_answer("Which countries were hit with the new tariffs?", [sentence], embeddings)
    assert found is not None and found.text == "Canada and Mexico"
    one = short_answer("Which country was hit with the new tariffs?", [sentence], embeddings)
    assert one is not None and one.text in ("Canada", "Mexico")
    three = "NATO invited Sweden, Finland and Ukraine to the summit on Monday, its chief said."
    found = short_answer("Which three countries did NATO invite to the summit?", [three], embeddings)
    assert found is not None and found.text == "Sweden, Finland and Ukraine"


def test_a_name_is_given_with_its_short_form(engine: Engine, tmp_path: Path):
    article = {
        "id": "floods",
        "source": "Harbor Times",
        "date": "2025-03-03",
        "title": "Floods in the valley",
        "text": "The Federal Emergency Management Agency sent rescue teams to the flooded valley towns on Monday.\n"
        "FEMA said more teams would follow if the river kept rising.",
    }
    path = tmp_path / "articles.jsonl"
    path.write_text(json.dumps(article) + "\n")
    assert engine.ingest([path]).failed == []
    answer = engine.ask(Query(question="Which agency sent rescue teams to the flooded valley towns?"))
    assert answer.short_answer in (
        "Federal Emergency Management Agency (FEMA)",
        "FEMA (Federal Emergency Management Agency)",
    )
    assert metrics.answer_match(answer.short_answer, "FEMA") == 1.0
