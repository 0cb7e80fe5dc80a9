"""Which sentences state something: headlines, bylines, captions and credits, odds, sign-up and cookie lines and
questions are never read as an answer's sentences, nor quoted as a timeline's entries."""

from __future__ import annotations

import pytest

from qa.answer.reading import closely_read
from qa.answer.statements import is_statement, statement_end
from qa.models import ArticleRef, Chunk


@pytest.mark.parametrize(
    "sentence",
    [
        "Hurricane Fiona Makes Landfall In Puerto Rico As Category 1 Storm",  # a headline
        "HURRICANE FIONA MAKES LANDFALL",
        "Dock Workers Strike At Port Of Halbridge As Talks Fail Again Today.",  # title case, with a stop
        "Where to find cheap gas: Sheetz lowers gas prices to $3.99 a gallon",  # a headline in sentence case
        "By Jane Smith and Tom Jones, Associated Press",
        "Hide Caption 38 of 226",
        "Read more: the five things to know about the strike.",
        "Firefighters battle the blaze near Athens on Tuesday. (Image credit: Getty Images)",
        "Sign up for our morning newsletter to get the news in your inbox.",
        "We use cookies to improve your experience; by continuing you accept our cookie policy.",
        "Odds to win the Super Bowl: Chiefs +450, Eagles +600, 49ers +700.",
        "Who will replace him as the team's coach?",
        "Photo: Wildfires burn near the Greek capital on Saturday.",
    ],
)
def test_furniture_headlines_and_questions_are_no_statements(sentence: str):
    assert not is_statement(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "About 19,000 people were evacuated from Rhodes as wildfires burned for a sixth day, officials said.",
        '"We will rebuild," the mayor said.',
        "The world's largest streamer lost 970,000 subscribers in the three months ending June 30, the company said",
        "Shares of the company fell 4% (the most since March).",
        "Joe Biden visited Kyiv on Monday.",  # many names, and a stop: no headline
        "By Tuesday morning, it had more than 1.7 million likes, thanks to shares by two influencers.",
        "The company said 2 million people subscribe to its daily newsletter on politics and the economy.",
    ],
)
def test_sentences_of_the_story_are_statements(sentence: str):
    assert is_statement(sentence)


def test_a_credit_on_a_sentences_end_is_cut_off():
    sentence = "Firefighters battle the blaze near Athens on Tuesday (Photo by Petros Giannakouris/AP)"
    assert sentence[: statement_end(sentence)] == "Firefighters battle the blaze near Athens on Tuesday"
    assert statement_end("(Image credit: Getty Images)") == 0
    assert statement_end("Firefighters battled the blaze.") == len("Firefighters battled the blaze.")


def test_an_answer_never_reads_a_headline_or_a_caption():
    text = (
        "Southwest Cancels Thousands Of Flights As Storm Hits Denver\n"
        "Travelers wait at Denver International Airport on Monday (Photo by David Zalubowski/AP)\n"
        "Southwest Airlines cancelled more than 2,500 flights on Monday as a winter storm hit the Midwest."
    )
    chunk = Chunk(article=ArticleRef(id="a", title="T"), ordinal=0, start=0, end=len(text), text=text)
    read = [s.text for s in closely_read("Which airline cancelled thousands of flights?", [chunk])]
    assert read == ["Southwest Airlines cancelled more than 2,500 flights on Monday as a winter storm hit the Midwest."]
