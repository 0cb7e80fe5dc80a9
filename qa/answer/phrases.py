"""Fixed phrases shared by the answerers, the shells and the tests."""

from __future__ import annotations

from collections.abc import Callable

from qa.dates import day_text, period_text, window_text
from qa.models import Answer, Period, QuoteDate, Timeline, TimelineEntry, TimeWindow

CANNOT_ANSWER = "I couldn't find this in the articles."
# When an LLM's answer does not name the extractive answer: which of the two the LLM's citations support.
EXTRACTIVE_ALSO_CITED = (
    "The passages {label} cited also name “{short}”, the extractive answer (confidence {confidence:.2f}), which "
    "{label}'s answer does not."
)
EXTRACTIVE_ELSEWHERE = (
    "The extractive answer would be “{short}” (confidence {confidence:.2f}, from “{title}”); the passages {label} "
    "cited do not name it."
)


def short_answer_frame(answer: Answer) -> tuple[str, str, bool]:
    """What stands before and after an answer's short answer, and whether it is bold: bold when the answer says it
    is confident ("eight [1] · confidence 0.81"), else "Possibly eight [1] · confidence 0.31, not sure"."""
    shown = f" · confidence {answer.confidence:.2f}" if answer.confidence is not None else ""
    if answer.confident:
        return "", f" [1]{shown}", True
    return "Possibly ", f" [1]{shown}, not sure", False


# When an LLM engine gives way to the extractive answer, or leaves part of its answer out.
REWRITE_FAILED = "{label} could not rewrite the follow-up ({reason})"
LLM_FAILED = "{label} failed ({reason}); this is the extractive answer."
LLM_UNSUPPORTED = "{label} wrote no claim that its passages support; this is the extractive answer."
LLM_SENTENCES_DROPPED = "{count} sentence{s} of {label}'s answer left out: not supported by the passages it cited."

# A window that no article passes, and an answer whose newest source is old for a question about now.
EMPTY_WINDOW = "No article in the store is from {window}: the search found nothing to answer from."
STORY_UPDATED = "[{n}] is an updated version of a story {source} first ran on {first}."
ALSO_IN = "also in: {outlets}"
# A story whose versions from other outlets do not carry the quoted passage: no outlet speaks for another.
STORY_VERSIONS_DIFFER = "Versions of the story [{n}] quotes differ: {outlets} did not run this passage as quoted."
# A question about a past period whose passages speak only of others: what they give for the nearest ones.
OTHER_PERIODS = "The articles give {given}; nothing for {asked}."
# A timeline's period with nothing on its story, and the words that mark an entry's change.
NO_ARTICLES_ON_THIS = "No articles from {window} on this."
TIMELINE_UPDATED = "Updated: {change}."
TIMELINE_DIFFERS = "Outlets differ: {change}."
TIMELINE_EARLIER = "(earlier, {day}: [{n}])"
TIMELINE_VERSUS = "(versus [{n}])"
NEWEST_IS_OLD = "The newest article on this is from {published}, {days} days before {as_of}."
# Days between the as-of date and the newest cited article past which the answer says how old it is.
OLD_AFTER_DAYS = 30
UNDATED = "undated"


def searched_window(window: TimeWindow) -> str:
    """What the shells show above an answer whose question's words set its dates: the period they name, then the
    publication dates searched for it ("About March 2024 (“in March 2024”) — searched articles from 1 Mar 2024 to
    4 Dec 2026")."""
    about = "the latest news" if window.latest else period_text(window.period)
    since, until = window.since, window.until
    searched = window_text(since, until)
    searched = f"of {searched}" if since == until else f"from {searched}" if since and until else searched
    return f"About {about} (“{window.from_text}”) — searched articles {searched}"


def other_periods(elsewhere: list[tuple[str, Period]], asked: Period) -> str:
    """ "The articles give Arsenal for 2001 to 2004 and Chelsea for 2006; nothing for 2005." """
    given = " and ".join(f"“{answer}” for {period_text(period)}" for answer, period in elsewhere)
    return OTHER_PERIODS.format(given=given, asked=period_text(asked))


def dates_in_quote(dates: list[QuoteDate]) -> str:
    """ "“on Tuesday”: Tuesday 24 Nov 2026 · “last year”: 2025", shown beside a quote."""
    return " · ".join(f"“{found.text}”: {found.day}" for found in dates)


def entry_change(entry: TimelineEntry) -> tuple[str, str]:
    """What stands before a timeline entry's sentence and after its [n]: "Updated: 12 → 15." and "(earlier, 3 Mar
    2025: [1])" for an update, "Outlets differ: …" and "(versus [2])" for a difference, nothing for an event."""
    if entry.kind == "update" and entry.earlier:
        earlier = day_text(entry.earlier_day) if entry.earlier_day else "before"
        return TIMELINE_UPDATED.format(change=entry.change), TIMELINE_EARLIER.format(day=earlier, n=entry.earlier)
    if entry.kind == "differs" and entry.earlier:
        return TIMELINE_DIFFERS.format(change=entry.change), TIMELINE_VERSUS.format(n=entry.earlier)
    return "", ""


def timeline_text(timeline: Timeline, escape: Callable[[str], str] = str) -> str:
    """The entries as a Markdown list, oldest first: "- **3 Mar 2023** · sentence [1] _(CNN, AP)_", an update or a
    difference led by what changed and followed by the other report's number; an LLM's summary above it; article
    and LLM words through `escape`."""
    lines = [escape(timeline.summary), ""] if timeline.summary else []
    for entry in timeline.entries:
        lead, after = entry_change(entry)
        outlets = f" _({escape(', '.join(entry.outlets))})_" if entry.outlets else ""
        parts = [escape(lead), escape(entry.text), f"[{entry.citation}]", after]
        lines.append(f"- **{day_text(entry.day)}** · " + " ".join(part for part in parts if part) + outlets)
    return "\n".join(lines)
