"""Typed answer candidates: what a question asks for, and what kind of thing each phrase of a sentence is."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qa.answer.candidates import candidates, clean_edges, short_forms
from qa.answer.citations import Evidence
from qa.answer.entities import CHECKSUMS, EntityModelError, load_recognizer, model_folder, verify_model
from qa.answer.question import Kind, asked, head_kind
from qa.models import ArticleRef, Chunk


def evidence(*texts: str) -> list[Evidence]:
    """Each text as a sentence of its own article."""
    found = []
    for i, text in enumerate(texts):
        chunk = Chunk(article=ArticleRef(id=f"a{i}", title="T"), ordinal=0, start=0, end=len(text), text=text)
        found.append(Evidence(chunk=chunk, start=0, end=len(text), text=text, score=0.0))
    return found


def kinds_of(question: str, *texts: str) -> dict[str, Kind]:
    """Candidate text → kind, for the question's candidates in the texts."""
    sentences = evidence(*texts)
    found = candidates(asked(question), sentences, load_recognizer().entities([s.text for s in sentences]))
    return {candidate.text: candidate.kind for candidate in found}


def test_which_agreement_finds_the_named_agreement():
    found = kinds_of(
        "Which agreement required foreign troops to leave Afghanistan?",
        "Under the Doha agreement, signed by the US and the Taliban in February 2020, foreign troops had to leave.",
    )
    assert found["Doha agreement"] is Kind.LAW
    assert found["US"] is Kind.PLACE and found["Taliban"] is Kind.ORGANISATION
    assert "Under the Doha agreement" not in found and "Afghanistan" not in found  # said by the question


def test_entities_are_typed_and_titles_trimmed():
    found = kinds_of(
        "Which country established diplomatic ties with the Taliban government?",
        "Russia became the first country to recognise the Islamic Emirate of Afghanistan on Thursday, Foreign "
        "Minister Sergei Lavrov said.",
    )
    assert found["Russia"] is Kind.PLACE
    assert found["Sergei Lavrov"] is Kind.PERSON
    assert found["Thursday"] is Kind.DATE
    assert not any(text.endswith("on Thursday") for text in found)


def test_numbers_money_and_dates():
    found = kinds_of(
        "How much will Pell Grants rise?",
        "The maximum Pell Grant will rise by $500 to $7,395 for the 2023-24 school year, up 7.3 percent.",
    )
    assert found["$500"] is Kind.MONEY and found["7.3 percent"] is Kind.PERCENT


def test_common_noun_phrases_answer_what_no_name_does_and_only_that():
    sentence = "Millions of Americans can now buy over-the-counter hearing aids at drugstores, the FDA said."
    found = kinds_of("As of this week, which item can US adults buy without a prescription?", sentence)
    assert found["hearing aids"] is Kind.THING and found["drugstores"] is Kind.THING
    assert found["FDA"] is Kind.ORGANISATION  # names stay what the NER model says
    assert not any(text in found for text in ("can", "buy", "said", "now"))  # verbs and adverbs are no noun phrase
    condiment = kinds_of("Which condiment are French shops short of?", "Shelves lack mustard, the famous condiment.")
    assert condiment["mustard"] is Kind.THING
    assert condiment.get("famous condiment") is not Kind.THING  # the asked-for thing said again is no answer
    superfood = kinds_of("Which superfood is selling out?", "Shops ran out of kale, the trendiest food of the year.")
    assert superfood["kale"] is Kind.THING and "trendiest food" not in superfood and "food" not in superfood
    asked_for_a_place = kinds_of("Which country allowed hearing aids without a prescription?", sentence)
    assert Kind.THING not in asked_for_a_place.values()


def test_markers_and_escape_sequences_are_never_candidates():
    found = kinds_of(
        "How many days did the dockworkers strike?",
        "The dockworkers ended their strike [1] after nine days [2], the union said.",
        "The dockworkers ended their strike \x1b[1;31mafter nine days\x1b[0m of pickets.",
    )
    assert "nine" in found  # the unit the question says is no part of the answer
    assert not any("[" in text or "\x1b" in text for text in found)


def test_a_changed_or_missing_ner_file_is_a_clear_error(tmp_path: Path):
    copy = tmp_path / "model"
    shutil.copytree(model_folder(), copy)
    verify_model(copy)
    weights = copy / "ner" / "model"
    original = weights.read_bytes()
    weights.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    with pytest.raises(EntityModelError, match=r"^the NER model's ner/model has sha256 \w+…, not cd93e9ca9126…"):
        verify_model(copy)
    weights.write_bytes(original)
    (copy / "tok2vec" / "model").unlink()
    with pytest.raises(EntityModelError, match="tok2vec/model is missing"):
        verify_model(copy)
    assert set(CHECKSUMS) == {"config.cfg", "ner/model", "tagger/model", "tok2vec/model"}


def test_entities_keep_their_bounds_and_persons_are_not_named_by_their_kind():
    found = kinds_of(
        "A pumpkin in which state set a record? On behalf of which actor did she decline the award?",
        "The New York pumpkin beat the record; she declined the Best Actor award for Marlon Brando.",
    )
    assert found["New York"] is Kind.PLACE  # "New" opens many a sentence, but the NER model drew this name
    assert found["Marlon Brando"] is Kind.PERSON
    assert not any(text.endswith("Actor award") or text == "Best Actor actor" for text in found)
    assert head_kind("NFL head coaches") is Kind.PERSON


def test_the_ner_model_loads_without_torch_and_torch_still_imports_after():
    """spaCy's thinc would import torch (180 MB) for nothing these pipes use; a process that wants torch later
    still gets it."""
    script = (
        "import sys; from qa.answer.entities import load_recognizer; "
        "found = load_recognizer().entities(['Mayor Alice Grant opened the bridge.']); "
        "assert 'torch' not in sys.modules, 'torch was imported'; "
        "assert any(e.label == 'PERSON' for e in found[0]); import torch; print('ok')"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


@pytest.mark.parametrize(
    ("question", "sentence", "whole", "broken"),
    [
        (  # a name cut inside its quotation marks
            "What party did Musk announce?",
            'Musk announced the "America Party" on Saturday, saying it would run candidates.',
            '"America Party"',
            '"America',
        ),
        (  # the head noun that ends a name is part of it
            "Which airline cancelled thousands of flights?",
            "Southwest Airlines cancelled 2,000 flights on Tuesday.",
            "Southwest Airlines",
            "Southwest",
        ),
        (  # two names joined by a small word are two candidates
            "On which platform did DeSantis launch his campaign?",
            "DeSantis launched his campaign with Elon Musk on Twitter on Wednesday.",
            "Twitter",
            "Elon Musk on Twitter",
        ),
        (  # the unit the question says is no part of the answer
            "How many minutes did Trump let the violence play out?",
            "Trump let the violence play out for 187 minutes before he spoke.",
            "187",
            "187 minutes",
        ),
        (  # a number without the word that hedges it (the sentence cited keeps it)
            "How much did Hurricane Ian cause in damages?",
            "Hurricane Ian likely caused more than $50 billion in damages, economists say.",
            "$50 billion",
            "more than $50 billion",
        ),
        (  # no fragment of a name the question says
            "What did Stoltenberg call the withdrawal from Afghanistan?",
            "Former NATO Secretary General Jens Stoltenberg called it the biggest defeat of the alliance.",
            "NATO",
            "Jens",
        ),
        (  # an entity's edges lose the small words that join names
            "Which team did Zack Gelof get called up to play for?",
            "Zack Gelof was called up by the Oakland Athletics of the American League.",
            "Oakland Athletics",
            "Oakland Athletics of",
        ),
    ],
)
def test_spans_are_whole_at_their_edges(question: str, sentence: str, whole: str, broken: str):
    found = kinds_of(question, sentence)
    assert whole in found and broken not in found


@pytest.mark.parametrize(
    ("phrase", "sentence", "cleaned"),
    [
        ("Afghanistan’s", "Afghanistan’s president fled.", "Afghanistan"),
        ("the U.S.", "Troops left the U.S. base.", "U.S."),
        ("Disney Inc.", "It was sold to Disney Inc. last year.", "Disney Inc."),
        ("(FEMA", "The agency (FEMA said so.", "FEMA"),
        ("Kyiv,", "Troops reached Kyiv, officials said.", "Kyiv"),
        ("“Squid Game", "Netflix renewed “Squid Game” for a second season.", "“Squid Game”"),
        ("a bear cub", "He left a bear cub in Central Park.", "bear cub"),
    ],
)
def test_clean_edges(phrase: str, sentence: str, cleaned: str):
    assert clean_edges(phrase, sentence) == cleaned


@pytest.mark.parametrize(
    ("question", "sentences", "short", "name"),
    [
        (  # an acronym of the name's initials
            "Which agency sent teams to the flooded towns?",
            ["The Federal Emergency Management Agency sent teams on Monday.", "FEMA said more would follow."],
            "fema",
            "federal emergency management agency",
        ),
        (  # with the small words' initials too
            "Who sued Google?",
            ["The Department of Justice sued Google on Tuesday.", "The DOJ said Google holds a monopoly."],
            "doj",
            "department of justice",
        ),
        (  # capitals that are no initials of a name read
            "Which organisation met on Monday?",
            ["The World Health Organization met on Monday.", "The UN said the talks went well."],
            None,
            None,
        ),
        (  # a form introduced in parentheses
            "Which bank raised interest rates?",
            ["The Federal Reserve (the Fed) raised interest rates on Wednesday."],
            "fed",
            "federal reserve",
        ),
    ],
)
def test_a_name_and_its_short_form_are_one(question: str, sentences: list[str], short: str | None, name: str | None):
    read = evidence(*sentences)
    found = candidates(asked(question), read, load_recognizer().entities([s.text for s in read]))
    forms = short_forms(found, read)
    if short is None:
        assert forms == {}
    else:
        assert forms[short] == name
