"""Which sentences state something: not a page's furniture (a headline, a byline, a caption or credit, betting odds,
a newsletter, sign-up or cookie line) and not a question. An answer's sentences and a timeline's entries are only
ever statements, and never carry a photo credit on their end."""

from __future__ import annotations

import re

# A credit that ends a sentence ("… on Tuesday (Photo by Jane Doe/AP)") or is the whole line.
CREDIT = re.compile(
    r"(?i)\(?\b(?:image credit|photo(?:graph)?(?: by\b|:)|getty images|ap photo|credit:)|©|\bcopyright\b|"
    r"all rights reserved"
)
# Furniture wherever it stands in a line.
FURNITURE = re.compile(
    r"(?i)cookies?\b.{0,40}\b(?:accept|consent|settings|policy)|privacy policy|terms of (?:use|service)|"
    r"this story (?:has been|was) updated|\bodds\b[^.]{0,40}[+-]\d{3}|[+-]\d{3,4}\b[^.]{0,40}[+-]\d{3,4}\b|"
    r"\bhide caption\b|\bcaption \d+ of \d+"
)
# Furniture that opens a line; a byline names someone ("By Jane Smith"), unlike "By Tuesday morning, …".
OPENING_FURNITURE = re.compile(
    r"(?i:^(?:updated|published|editor'?s note|watch:|listen:|advertisement|sign up|subscribe|click here|"
    r"read more|follow us|related:|more:|see also))|^By\s+[A-Z][\w.'’-]+\s+[A-Z][\w.'’-]+(?:\s*(?:,|and\b|\||$))"
)
# A short line that asks for something: "Sign up for our newsletter." "Read more here."
SHORT_FURNITURE = re.compile(r"(?i)\b(?:newsletters?|sign up|subscribe|click here|read more|follow us)\b")
SHORT_WORDS = 12
# A line most of whose words are capitalised and that ends in no stop is a headline; with a stop, one whose words
# after the first are nearly all capitalised ("Dock Workers Strike At Port Of Halbridge.", not "Joe Biden visited
# Kyiv on Monday.").
HEADLINE_CAPITALS = 0.6
TITLE_CASE = 0.8
# How a statement ends: a stop, or a quotation or bracket closing after one. A line of this many words that ends in
# none is a statement cut short (pages whose paragraphs lose their stops), not a headline.
_ENDS = frozenset(".!\"”’')")
UNSTOPPED_WORDS = 15


def statement_end(sentence: str) -> int:
    """Where the sentence's statement ends: before a credit that follows four words or more of it, else its end (0
    when the credit opens it)."""
    credit = CREDIT.search(sentence)
    if credit is None:
        return len(sentence)
    if len(sentence[: credit.start()].split()) < 4:
        return 0
    return len(sentence[: credit.start()].rstrip(" (—–-|"))


def is_statement(sentence: str) -> bool:
    """Whether the sentence states something: it ends as a sentence does (or runs long; never in a question mark),
    is no headline, credit or furniture."""
    text = sentence.strip()
    words = text.split()
    letters = [word for word in words if word[:1].isalpha()]
    if not letters or text[-1:] == "?" or CREDIT.search(text) or FURNITURE.search(text):
        return False
    if OPENING_FURNITURE.search(text) or (len(words) <= SHORT_WORDS and SHORT_FURNITURE.search(text)):
        return False
    if sum(word.isupper() and len(word) > 1 for word in letters) / len(letters) >= HEADLINE_CAPITALS:
        return False  # "HURRICANE FIONA MAKES LANDFALL"
    rest = letters[1:]
    if len(rest) >= 4 and sum(word[0].isupper() for word in rest) / len(rest) >= TITLE_CASE:
        return False
    if text[-1:] in _ENDS:
        return True
    headline = sum(word[0].isupper() for word in letters) / len(letters) >= HEADLINE_CAPITALS
    return len(words) >= UNSTOPPED_WORDS and not headline
