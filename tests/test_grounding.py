"""Checking generated claims against passages: claim splitting, the numbers-and-names rule, the supporting span."""

from __future__ import annotations

import pytest

from qa.answer.grounding import SUPPORT_THRESHOLD, Claim, GroundingChecker, missing_facts, split_claims
from qa.embeddings import MiniLMEmbeddings
from qa.models import ArticleRef, Chunk

PASSAGE = (
    "NATO's office in Moscow will close in November.\n"
    "Earlier this month, NATO expelled eight Russians accredited to the alliance. "
    "It said they were intelligence agents. Jens Stoltenberg called relations the worst since the Cold War."
)


def test_claims_keep_their_markers_wherever_the_model_put_them():
    text = "NATO expelled eight Russians [1]. They were spies.[2] Relations are bad [1, 3][2]. No marker here."
    assert split_claims(text) == [
        Claim(text="NATO expelled eight Russians.", markers=[1]),
        Claim(text="They were spies.", markers=[2]),
        Claim(text="Relations are bad.", markers=[1, 3, 2]),
        Claim(text="No marker here.", markers=[]),
    ]


@pytest.mark.parametrize(
    ("claim", "missing"),
    [
        ("NATO expelled eight Russians.", []),
        ("NATO expelled 8 Russians.", []),  # digits match number words
        ("NATO expelled nine Russians.", ["nine"]),
        ("NATO expelled 18 Russians.", ["18"]),
        ("Earlier, Biden expelled eight Russians.", ["Biden"]),
        ("Officials in the U.S. said NATO's office will close.", ["U.S"]),
        ("Hundreds said the office in Moscow will close.", []),  # a sentence's first word is grammar...
        ("Brazil", ["Brazil"]),  # ...unless the claim is a short answer
        ("True", []),
    ],
)
def test_numbers_and_names_must_be_in_the_passage(claim: str, missing: list[str]):
    assert missing_facts(claim, PASSAGE) == missing


def test_the_support_is_the_exact_sentence_that_holds_the_claim(embeddings: MiniLMEmbeddings):
    chunk = Chunk(article=ArticleRef(id="a", title="t"), ordinal=0, start=100, end=100 + len(PASSAGE), text=PASSAGE)
    checker = GroundingChecker(embeddings)
    supported, unrelated = checker.supports(
        [("NATO threw out eight Russians who were accredited to the alliance.", chunk), ("Paris won the cup.", chunk)]
    )
    assert PASSAGE[supported.start - 100 : supported.end - 100] == (
        "Earlier this month, NATO expelled eight Russians accredited to the alliance."
    )
    assert supported.score >= SUPPORT_THRESHOLD > unrelated.score
    assert unrelated.missing == ["Paris"]
    # A short answer is checked as the answer to its question.
    [answer] = checker.supports([("Eight", chunk)], question="How many Russians did NATO expel?")
    assert answer.score >= SUPPORT_THRESHOLD and not answer.missing
