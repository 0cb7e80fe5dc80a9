"""Which sentences state something: not a page's furniture (a headline, a byline, a caption or credit, betting odds,
a newsletter, sign-up or cookie line) and not a question. An answer's sentences and a timeline's entries are only
ever statements."""

from __future__ import annotations

import re

FURNITURE = re.compile(
    r"(?i)(?:image credit|photo(?:graph)?(?: by|:)|getty images|\bap photo\b|\(photo\b|\bcredit:|©|copyright|"
    r"all rights reserved|\bsign up\b|\bsubscribe\b|\bnewsletters?\b|click here|read more|follow us|"
    r"\badvertisement\b|\bcaption\b|"
    r"cookies?\b.{0,40}\b(?:accept|consent|settings|policy)|privacy policy|terms of (?:use|service)|"
    r"this story (?:has been|was) updated|^by [A-Z]|^updated\b|^published\b|^editor'?s note|^watch:|^listen:|"
    r"\bodds\b[^.]{0,40}[+-]\d{3}|[+-]\d{3,4}\b[^.]{0,40}[+-]\d{3,4}\b)"
)
# A line most of whose words are capitalised is a headline or a caption's credit, not a sentence of the story.
HEADLINE_CAPITALS = 0.6
# How a statement ends: a stop, or a quotation or bracket closing after one. A line of this many words that ends in
# none is a statement cut short (pages whose paragraphs lose their stops), not a headline.
_ENDS = frozenset(".!\"”’')")
UNSTOPPED_WORDS = 15


def is_statement(sentence: str) -> bool:
    """Whether the sentence states something: it ends as a sentence does (or runs long; never in a question mark),
    is no headline and no furniture."""
    text = sentence.rstrip()
    words = text.split()
    if text[-1:] == "?" or (text[-1:] not in _ENDS and len(words) < UNSTOPPED_WORDS):
        return False
    letters = [word for word in words if word[:1].isalpha()]
    if not letters or sum(word[0].isupper() for word in letters) / len(letters) >= HEADLINE_CAPITALS:
        return False
    return not FURNITURE.search(text)
