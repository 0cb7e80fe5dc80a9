"""Markdown for people: untrusted text renders as itself, quotes keep their context, conversations export."""

from __future__ import annotations

from datetime import date

import pytest
from markdown_it import MarkdownIt

from qa.answer import quote_context
from qa.markdown import WORD_JOINER, answer_markdown, conversation_markdown, escape, safe_url, source_line
from qa.models import Answer, Citation

# CommonMark plus GFM-style tables and strikethrough: what an escaped string must survive.
MARKDOWN = MarkdownIt("commonmark").enable(["table", "strikethrough"])


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "![pixel](http://evil.example/p.png)",
        "[click](javascript:alert(1)) and <http://evil.example>",
        "# heading\n- list\n1. item\n> quote\n---",
        "**bold** _it_ `code` ~~gone~~ | a | b |",
        "&lt;b&gt; &amp; \\*",
    ],
)
def test_escaped_text_renders_as_one_plain_paragraph(hostile: str) -> None:
    html = MARKDOWN.render(escape(hostile))
    assert html.startswith("<p>") and html.count("<p>") == 1
    tags = ("<script", "<img", "<a ", "<h1", "<li", "<blockquote", "<hr", "<strong", "<em", "<code", "<s>", "<table")
    assert [tag for tag in tags if tag in html] == []
    text = html.removeprefix("<p>").removesuffix("</p>\n").replace("<br />\n", "\n")
    unescaped = text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")
    assert unescaped.replace(WORD_JOINER, "") == hostile


def test_bare_urls_and_addresses_are_broken_for_autolinkers_only_invisibly() -> None:
    escaped = escape("see http://evil.example, www.evil.example and me@evil.example")
    assert "http\\:" + WORD_JOINER + "//" in escaped
    assert "www" + WORD_JOINER + "\\." in escaped
    assert "me" + WORD_JOINER + "@" in escaped


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("https://www.rferl.org/a/nato.html", True),
        ("http://example.com/x?y=1", True),
        ("javascript:alert(1)", False),
        ("data:text/html,<b>x</b>", False),
        ("https://example.com/a b", False),
        ("//example.com", False),
        (None, False),
    ],
)
def test_safe_url(url: str | None, safe: bool) -> None:
    assert safe_url(url) == (url if safe else None)


def test_quote_context_is_the_paragraph_around_the_quote() -> None:
    text = "Title\n\nFirst sentence. The quote is here. Last sentence.\nNext paragraph."
    start = text.index("The quote")
    end = start + len("The quote is here.")
    context = quote_context(text, start, end)
    expected = ("First sentence. ", "The quote is here.", " Last sentence.")
    assert (context.before, context.quote, context.after) == expected
    long = "word " * 200 + "QUOTE." + " tail" * 200
    clipped = quote_context(long, long.index("QUOTE"), long.index("QUOTE") + 6, max_chars=50)
    assert clipped.before.startswith("…") and clipped.after.endswith("…")
    assert len(clipped.before) <= 51 and len(clipped.after) <= 51 and clipped.quote == "QUOTE."


def test_conversation_export_has_questions_answers_and_quotes_with_offsets() -> None:
    citation = Citation(
        n=1,
        article_id="a",
        title="NATO *expels* diplomats",
        source="RFE/RL",
        url="https://www.rferl.org/a/nato.html",
        published=date(2021, 10, 18),
        quote="NATO expelled eight Russians.",
        start=500,
        end=529,
        score=0.8,
    )
    answers = [
        Answer(
            question="How many?",
            answer="NATO expelled eight Russians. [1]",
            short_answer="eight",
            refused=False,
            citations=[citation],
            confidence=0.81,
            confident=True,
        ),
        Answer(question="Who won?", answer="I couldn't find this in the articles.", refused=True),
    ]
    exported = conversation_markdown(answers)
    assert "## How many?" in exported and "## Who won?" in exported
    assert "**eight** [1] · confidence 0.81\n\nNATO expelled eight Russians\\. \\[1\\]" in exported
    assert "1. " + source_line(citation) in exported
    assert "NATO \\*expels\\* diplomats — RFE/RL, 2021\\-10\\-18" in exported
    assert "   <https://www.rferl.org/a/nato.html>" in exported
    assert "   > NATO expelled eight Russians\\." in exported
    assert "(characters 500–529)" in exported
    html = MARKDOWN.render(exported)
    assert html.count("<h2>") == 2 and "<em>" not in html
    assert html.count("<strong>") == 1 and "<p><strong>eight</strong> [1] · confidence 0.81</p>" in html


@pytest.mark.parametrize(
    ("confidence", "confident", "expected"),
    [
        (0.81, True, "**eight** [1] · confidence 0.81"),
        (0.31, False, "Possibly eight [1] · confidence 0.31, not sure"),  # not bold
        (0.31, True, "**eight** [1] · confidence 0.31"),  # the answer says what is confident, not the shell
        (None, True, "**eight** [1]"),
    ],
)
def test_the_short_answer_is_bold_only_when_confident(confidence: float | None, confident: bool, expected: str) -> None:
    answer = Answer(
        question="q",
        answer="NATO expelled eight. [1]",
        short_answer="eight",
        refused=False,
        confidence=confidence,
        confident=confident,
    )
    assert answer_markdown(answer).split("\n\n")[0] == expected


def test_a_hostile_short_answer_stays_literal() -> None:
    answer = Answer(question="q", answer="x [1]", short_answer="*<b>x</b>*", refused=False, confident=True)
    html = MARKDOWN.render(answer_markdown(answer))
    assert html.startswith("<p><strong>*&lt;b&gt;x&lt;/b&gt;*</strong> [1]</p>")
