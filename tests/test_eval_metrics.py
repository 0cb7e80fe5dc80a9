"""Evaluation metrics on hand-made cases, with the exact values they must give."""

from __future__ import annotations

import pytest

from qa.evaluation import metrics


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("The Buffalo Bills!", "buffalo bills"),
        ("  an   apple, a pear & the fig ", "apple pear fig"),
        ("“Biggest defeat” — NATO’s", "biggest defeat natos"),
    ],
)
def test_normalize_answer(text: str, normalized: str) -> None:
    assert metrics.normalize_answer(text) == normalized


def test_exact_match_f1_and_contains() -> None:
    assert metrics.exact_match("the Buffalo Bills.", "Buffalo Bills") == 1.0
    assert metrics.exact_match("Bills", "Buffalo Bills") == 0.0
    # 2 common tokens; precision 2/4, recall 2/2: F1 = 2 * 0.5 * 1 / 1.5
    assert metrics.token_f1("he joined Buffalo Bills", "Buffalo Bills") == pytest.approx(2 / 3)
    assert metrics.token_f1("Cincinnati Bengals", "Buffalo Bills") == 0.0
    assert metrics.token_f1("", "") == 1.0
    assert metrics.contains("He plays for the Buffalo Bills. [1]", "buffalo bills") == 1.0
    assert metrics.contains("Ten thousand", "ten") == 1.0
    assert metrics.contains("Often", "ten") == 0.0  # whole words only
    assert metrics.contains("anything", "") == 0.0


def test_a_name_counts_in_either_of_its_forms_and_the_strict_match_does_not() -> None:
    both = "FEMA (Federal Emergency Management Agency)"
    assert metrics.answer_match(both, "Federal Emergency Management Agency") == 1.0
    assert metrics.answer_match(both, "FEMA") == 1.0
    assert metrics.exact_match(both, "FEMA") == 0.0  # the strict figure printed beside it
    assert metrics.answer_f1(both, "FEMA") == 1.0
    assert metrics.answer_match("FEMA", "Federal Emergency Management Agency") == 0.0  # one form alone is one form


def test_a_list_matches_a_list_of_the_same_items_in_any_order() -> None:
    assert metrics.answer_match("Canada and Mexico", "Mexico & Canada") == 1.0
    assert metrics.answer_match("Bed Bath and Beyond", "Bed Bath & Beyond") == 1.0  # "&" and "and" alike
    assert metrics.answer_match("Sweden, Finland and Norway", "Sweden and Finland") == 0.0
    assert metrics.answer_match("Canada", "Mexico & Canada") == 0.0
    assert metrics.exact_match("Canada and Mexico", "Mexico & Canada") == 0.0
    # Items Canada, Mexico against Canada, Mexico, US: 2 common of 2 and 3 tokens.
    assert metrics.answer_f1("Canada and Mexico", "Canada, Mexico and US") == pytest.approx(0.8)
    assert metrics.list_items("Dallas") == frozenset()


def test_rank_recall_and_reciprocal_rank() -> None:
    retrieved = ["x", "y", "g2", "g1", "z"]
    rank = metrics.gold_rank(retrieved, ["g1", "g2"])
    assert rank == 3
    assert [metrics.recall_at(rank, k) for k in (1, 2, 3, 5)] == [0.0, 0.0, 1.0, 1.0]
    assert metrics.reciprocal_rank(rank) == pytest.approx(1 / 3)
    assert metrics.gold_rank(retrieved, ["missing"]) is None
    assert metrics.recall_at(None, 10) == 0.0 and metrics.reciprocal_rank(None) == 0.0


def test_support_scores_whole_choices_above_partial_ones() -> None:
    assert metrics.support("Buffalo Bills", "a Buffalo Bills player") == 1.0
    assert metrics.support("Buffalo Bills", "the Bills said") == pytest.approx(0.45)
    assert metrics.support("Cleveland Browns", "the Bills said") == 0.0


def test_choose_choice_prefers_the_answer_then_passages_then_meaning() -> None:
    choices = ["Pittsburgh Steelers", "Cincinnati Bengals", "Buffalo Bills", "Cleveland Browns"]
    no_meaning = lambda tied: [0.0] * len(tied)  # noqa: E731
    answer = ("The Buffalo Bills player collapsed during the game against Cincinnati.", 1.0)
    passage = ("Cincinnati Bengals fans prayed for him.", 0.5)
    # Whole choice in the answer (1.0) beats the whole choice in a passage (0.5) and a partial one (0.45).
    assert metrics.choose_choice(choices, [answer, passage], no_meaning) == 2
    assert metrics.choose_choice(choices, [passage], no_meaning) == 1
    # Nothing supports any choice: the most similar in meaning wins.
    assert metrics.choose_choice(choices, [("No team is named.", 1.0)], lambda tied: [0.1, 0.2, 0.9, 0.3]) == 2
    # A tie between two choices is decided among those two only.
    tie = [("Steelers and Browns met.", 1.0)]
    assert metrics.choose_choice(choices, tie, lambda tied: [0.2, 0.7] if len(tied) == 2 else [9.0] * 4) == 3


def test_percentile_and_mean_of_nothing_are_unknown() -> None:
    assert metrics.percentile([10.0, 20.0, 30.0, 40.0], 50) == 25.0
    assert metrics.percentile([], 95) is None
    assert metrics.mean([]) is None
    assert metrics.mean([1.0, 0.0, 0.0, 1.0]) == 0.5
