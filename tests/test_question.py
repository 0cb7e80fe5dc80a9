"""What a question asks for: the kind its wh-phrase names, its head noun and the kinds of phrase that answer it."""

from __future__ import annotations

import pytest

from qa.answer.question import Kind, asked, head_kind, wh_kind


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("In which month will the emergency end?", Kind.MONTH),
        ("What year did the ship sink?", Kind.YEAR),
        ("How many Russians did NATO expel?", Kind.NUMBER),
        ("What was the magnitude of the quake?", Kind.NUMBER),
        ("Eli Lilly will cap insulin costs at which amount?", Kind.NUMBER),
        ("Who is the German defense minister?", Kind.PERSON),
        ("When did NATO end combat operations?", Kind.DATE),
        ("Where did the ministers meet?", Kind.PLACE),
        ("What did Stoltenberg say?", Kind.OTHER),
    ],
)
def test_the_wh_phrase_names_a_kind(question: str, kind: Kind):
    assert wh_kind(question) == kind


@pytest.mark.parametrize(
    ("question", "wh", "kinds"),
    [
        ("Which country established diplomatic ties with the Taliban?", Kind.PLACE, {Kind.PLACE}),
        ("Which company is the latest tech giant to cut jobs?", Kind.PERSON, {Kind.ORGANISATION}),
        ("Which home goods chains said it may go bankrupt?", Kind.OTHER, {Kind.ORGANISATION}),
        ("Which agreement required foreign troops to leave Afghanistan?", Kind.OTHER, {Kind.LAW}),
        ("Which film won best picture?", Kind.OTHER, {Kind.WORK}),
        ("Who is the German defense minister?", Kind.PERSON, {Kind.PERSON}),
        (
            "How many Russians did NATO expel?",
            Kind.NUMBER,
            {Kind.NUMBER, Kind.MONEY, Kind.PERCENT, Kind.QUANTITY, Kind.ORDINAL},
        ),
        ("Which seed joined the list of allergens?", Kind.OTHER, {Kind.THING}),  # a common thing
    ],
)
def test_what_a_question_asks_for(question: str, wh: Kind, kinds: set[Kind]):
    found = asked(question)
    assert (found.wh_kind, set(found.kinds)) == (wh, kinds)


def test_head_nouns_are_matched_in_the_plural_and_by_their_last_listed_word():
    assert head_kind("pharmacy chains") is Kind.ORGANISATION
    assert head_kind("countries") is Kind.PLACE
    assert head_kind("peace treaty") is Kind.LAW
    assert head_kind("seed") is Kind.THING and head_kind("whatsit") is None


def test_only_a_question_that_asks_for_no_named_kind_is_answered_by_common_noun_phrases():
    assert asked("Which condiment did the chef ban?").things
    assert asked("Which agreement required foreign troops to leave?").things  # a law is named with its noun
    assert not asked("Which country banned it?").things
    assert not asked("How many people came?").things
