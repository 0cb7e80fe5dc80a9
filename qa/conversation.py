"""Follow-up questions made standalone, so that retrieval sees who and what a short follow-up is about."""

from __future__ import annotations

import re
from collections.abc import Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from qa.models import Turn
from qa.text import STOPWORDS

MAX_TURNS = 6
REWRITE_PROMPT = """Rewrite the user's last question so that it can be understood without the conversation:
replace pronouns and vague references with the people, places and topics they refer to. Keep its meaning and
wording otherwise. Reply with the rewritten question only."""

# "And about Russia?", "What about NATO?", "How about in March?"
_ELLIPSIS = re.compile(r"^\s*(?:and|what about|how about|and what about)\b\s*(?P<rest>.*?)\s*\??\s*$", re.I)
_NAME = re.compile(r"(?:[A-Z][\w’'.-]*)(?:\s+(?:of\s+|de\s+|van\s+|von\s+)?[A-Z][\w’'.-]*)*")
_PERSONAL = re.compile(r"\b(?:he|she|they|him|them)\b", re.I)
_POSSESSIVE = re.compile(r"\b(?:his|their|her(?=\s+\w))\b", re.I)
_OBJECT_HER = re.compile(r"\bher\b", re.I)
_PREPOSITIONS = frozenset("about on in at for from with to regarding after before during since".split())


def resolve_follow_up(question: str, history: Sequence[Turn]) -> str:
    """Without an LLM: carry the subject of the previous questions into a follow-up that leans on them.

    "What did he say about Afghanistan?" after "Who is Jens Stoltenberg?" becomes "What did Jens Stoltenberg say
    about Afghanistan?"; "And about Russia?" then becomes "What did Jens Stoltenberg say about Russia?".
    """
    previous = _standalone_user_questions(history)
    if not previous:
        return question
    ellipsis = _ELLIPSIS.match(question)
    if ellipsis and ellipsis.group("rest"):
        return _substitute(previous[-1], ellipsis.group("rest"))
    subject = next((name for q in reversed(previous) if (name := _subject(q))), None)
    if subject is None or not (_PERSONAL.search(question) or _POSSESSIVE.search(question)):
        return question
    resolved = _POSSESSIVE.sub(f"{subject}’s", question)
    resolved = _PERSONAL.sub(subject, resolved)
    return _OBJECT_HER.sub(subject, resolved)


def rewrite_with_llm(chat_model: BaseChatModel, question: str, history: Sequence[Turn]) -> str:
    """The LLM's standalone rewrite of the question; the deterministic one if its reply is unusable."""
    conversation = "\n".join(f"{turn.role}: {turn.content}" for turn in history[-MAX_TURNS:])
    reply = chat_model.invoke(
        [SystemMessage(REWRITE_PROMPT), HumanMessage(f"Conversation:\n{conversation}\n\nLast question: {question}")]
    )
    rewritten = reply.content.strip().strip('"') if isinstance(reply.content, str) else ""
    if not rewritten or len(rewritten) > 4 * len(question) + 200 or "\n" in rewritten:
        return resolve_follow_up(question, history)
    return rewritten


def _standalone_user_questions(history: Sequence[Turn]) -> list[str]:
    resolved: list[str] = []
    turns: list[Turn] = []
    for turn in history[-MAX_TURNS:]:
        if turn.role == "user":
            resolved.append(resolve_follow_up(turn.content, turns))
        turns.append(turn.model_copy(update={"content": resolved[-1]}) if turn.role == "user" else turn)
    return resolved


def _names(question: str) -> list[tuple[int, int]]:
    """Spans of the capitalised names in a question, leaving out a capitalised first word like "What"."""
    spans = []
    for match in _NAME.finditer(question):
        start, text = match.start(), match.group(0).rstrip("?.!,")
        first = text.split()[0]
        if start == 0 and first.lower() in STOPWORDS:
            start += len(first)
            text = text[len(first) :]
        if text.strip():
            start += len(text) - len(text.lstrip())
            spans.append((start, start + len(text.strip())))
    return spans


def _subject(question: str) -> str | None:
    """The first name in a question."""
    names = _names(question)
    return question[names[0][0] : names[0][1]] if names else None


def _substitute(previous: str, fragment: str) -> str:
    """The previous question asked about the fragment instead of what it last named.

    "about Russia" replaces the previous question's "about ..." phrase, or joins its subject when it has none;
    "the Taliban" replaces its last name ("What did Biden say?" + "What about Trump?" asks what Trump said).
    """
    first, _, rest = fragment.partition(" ")
    names = _names(previous)
    if first.lower() in _PREPOSITIONS and rest:
        found = re.search(rf"\b{re.escape(first)}\b\s+[^?]*", previous, re.I)
        if found:
            return previous[: found.start()] + fragment + previous[found.end() :]
        return f"{previous[names[0][0] : names[0][1]]} {fragment}?" if names else f"{fragment}?"
    if names:
        start, end = names[-1]
        return previous[:start] + fragment + previous[end:]
    return f"{fragment}?"
