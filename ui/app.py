"""The chat: a thin Streamlit shell over qa.engine.Engine, or over the HTTP API when QA_API_URL is set. One file
over 450 lines because Streamlit runs it as a script from its own folder, where the package's other modules are not
importable as `ui.*`; its parts are the page's panels, in the order the page draws them.

Everything an article or an upload supplies (text, quotes, titles, sources, file names) is untrusted: it reaches
the page only through qa.markdown.escape or widgets that show plain text, never as HTML.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from qa.answer import QuoteContext, answer_sentences, quote_context
from qa.answer.phrases import dates_in_quote, searched_window
from qa.answerers import ANSWERERS, AnswererName
from qa.backends import load_embeddings
from qa.client import ApiClient
from qa.config import Settings, get_settings
from qa.dates import day_text
from qa.embeddings import MiniLMEmbeddings
from qa.engine import Engine, QAService
from qa.errors import NotFoundError, QAError
from qa.feedback import Feedback
from qa.markdown import answer_markdown, conversation_markdown, escape, safe_url, short_answer_markdown, source_line
from qa.models import Answer, AnswerMode, ArticleSummary, Feed, IngestReport, IngestStatus, StoreStats, Timeline
from qa.models import Turn as ConversationTurn
from qa.query import EARLIEST_AS_OF, Filters, parse_query

log = logging.getLogger("qa.ui")

# Served by the app itself: a Material icon as page icon makes the browser fetch it from fonts.gstatic.com.
PAGE_ICON = Path(__file__).with_name("icon.png")
UPLOAD_TYPES = ["txt", "md", "markdown", "html", "htm", "json", "jsonl"]
# The sidebar's answer forms and the Query mode each asks for.
ANSWER_FORMS: dict[str, AnswerMode] = {"As asked": "auto", "Timeline": "timeline", "Sentences": "factoid"}
STATUS_ICONS = {
    IngestStatus.ADDED: ":material/add_circle:",
    IngestStatus.UPDATED: ":material/sync:",
    IngestStatus.SKIPPED: ":material/skip_next:",
    IngestStatus.FAILED: ":material/error:",
}


@dataclass(frozen=True)
class Choices:
    """What the sidebar sets for the next question: the filters, the day it is asked as of, k and the answerer;
    and whether its time words set the dates (until the reader drops them)."""

    filters: Filters
    as_of: date
    k: int
    answerer: AnswererName
    time_words: bool = True
    mode: AnswerMode = "auto"

    def recorded(self) -> dict[str, str | int | None]:
        """As feedback records them."""
        return {
            "k": self.k,
            **self.filters.model_dump(mode="json"),
            "as_of": self.as_of.isoformat(),
            "engine": self.answerer,  # feedback records keep the name users choose it by
        }


@dataclass
class Turn:
    """One question in the conversation, with what came back."""

    question: str
    choices: Choices
    answer: Answer | None = None
    contexts: dict[int, QuoteContext] = field(default_factory=dict)
    error: str | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex)


@st.cache_resource(show_spinner="Loading the embedding model…")
def cached_embeddings() -> MiniLMEmbeddings:
    """The model, once per server process."""
    return load_embeddings(get_settings())


@st.cache_resource(show_spinner="Opening the index…")
def load_engine(settings_json: str, _settings: Settings) -> QAService:
    """One engine per configuration (the JSON is the cache key; the token in it is masked), shared by every
    session: the API at QA_API_URL, else an engine in process."""
    if _settings.api.url:
        return ApiClient(_settings)
    return Engine(_settings, cached_embeddings())


@st.cache_data(max_entries=4, show_spinner=False)
def load_corpus(_engine: QAService, settings_json: str, revision: str) -> tuple[StoreStats, list[ArticleSummary]]:
    """Statistics and article list, recomputed only after a write to the index."""
    return _engine.stats(), _engine.articles()


def readable(error: Exception, action: str) -> str:
    """One line for the reader; anything but a QAError is a bug: the reader gets an id, the server log that id with
    the error's class, and its traceback at DEBUG (it can quote article text)."""
    if isinstance(error, QAError):
        return f"{action}: {error}"
    error_id = uuid.uuid4().hex[:12]
    log.warning("error %s: %s failed: unexpected %s", error_id, action, type(error).__name__)
    log.debug("error %s: traceback", error_id, exc_info=error)
    return f"{action}: unexpected error {error_id} (logged on the server)"


@contextmanager
def shown_errors(action: str) -> Iterator[None]:
    """Show a failure as one readable line instead of a traceback."""
    try:
        yield
    except Exception as error:
        st.error(escape(readable(error, action)), icon=":material/error:")


def main() -> None:
    """Draw the page; Streamlit reruns this on every interaction."""
    st.set_page_config(page_title="qa · answers from your news articles", page_icon=str(PAGE_ICON))
    st.session_state.setdefault("turns", [])
    st.session_state.setdefault("uploads", {})
    engine = open_engine()
    stats, articles = read_corpus(engine)
    choices, export_slot = sidebar(engine, stats, articles)

    st.title("Ask the articles")
    st.caption("Every answer quotes the articles; click a source to see the passage it came from.")
    for turn in st.session_state.turns:
        show_turn(engine, turn)
    prompt = st.chat_input("Ask a question about the articles")
    # "Search all dates" under an answer asks its question again without its time words.
    again: Turn | None = st.session_state.pop("again", None)
    if prompt or again:
        turn = Turn(question=prompt, choices=choices) if prompt else again
        assert turn is not None
        # Kept before answering: a question sent while this one runs stops this run, not the conversation.
        st.session_state.turns.append(turn)
        ask(engine, turn, stats.articles, history(st.session_state.turns[:-1]))
    export_button(export_slot, st.session_state.turns)


def read_corpus(engine: QAService) -> tuple[StoreStats, list[ArticleSummary]]:
    """Corpus figures and articles, or a readable error that stops the page (e.g. the API is unreachable)."""
    with shown_errors("The articles could not be read"):
        return load_corpus(engine, engine.settings.model_dump_json(), engine.revision())
    st.stop()


def open_engine() -> QAService:
    """The shared engine, or a readable error that stops the page."""
    with shown_errors("The engine could not start"):
        settings = get_settings()
        return load_engine(settings.model_dump_json(), settings)
    st.stop()


def sidebar(engine: QAService, stats: StoreStats, articles: list[ArticleSummary]) -> tuple[Choices, DeltaGenerator]:
    """Corpus, filters, uploads and article list; returns the choices and a slot for the export button."""
    with st.sidebar:
        if st.button("New chat", icon=":material/add_comment:", width="stretch"):
            st.session_state.turns = []

        st.subheader("Corpus")
        left, right = st.columns(2)
        left.metric("Articles", f"{stats.articles:,}")
        right.metric("Chunks", f"{stats.chunks:,}")
        span = f"{stats.first_published} to {stats.last_published}" if stats.first_published else "no dates"
        st.caption(escape(f"{plural(len(stats.sources), 'source')} · {span}"))

        st.subheader("Filters")
        since = until = None
        if stats.first_published and st.toggle("Only articles published between", key="by_date"):
            chosen = st.date_input(
                "Published between",
                value=(stats.first_published, stats.last_published),
                key="dates",
                label_visibility="collapsed",
            )
            since, until = date_range(chosen)
        as_of = st.date_input(
            "As of",
            value=date.today(),
            min_value=EARLIEST_AS_OF,
            max_value=date.today(),
            key="as_of",
            help="Ask as of this day: nothing published after it is searched, and 'last week' is the week before it.",
        )
        source = st.selectbox("Source", ["All sources", *stats.sources], key="source")
        k = st.slider("Passages to search (k)", 1, 20, engine.settings.k, key="k")
        form = st.segmented_control(
            "Answer as",
            list(ANSWER_FORMS),
            default="As asked",
            key="answer_form",
            help="A timeline lists a story's dated developments; 'As asked' gives one to questions like 'What "
            "happened with X since Monday?'.",
        )
        answerers = engine.answerers()
        answerer = st.radio(
            "Answer engine",
            answerers,
            index=answerers.index(engine.settings.answerer) if engine.settings.answerer in answerers else 0,
            captions=[ANSWERERS[name].caption for name in answerers],
            key="answerer",
        )

        st.subheader("Add articles")
        uploaded = st.file_uploader(
            "Articles (txt, md, html, json, jsonl)", type=UPLOAD_TYPES, accept_multiple_files=True, key="upload"
        )
        ingest_uploads(engine, uploaded or [])
        add_web_page(engine)

        followed = engine.feeds()
        with st.expander(f"Feeds ({len(followed)})"):
            manage_feeds(engine, followed)

        with st.expander(f"Articles ({stats.articles:,})"):
            manage_articles(engine, articles)

        export_slot = st.empty()
    filters = Filters(since=since, until=until, source=None if source == "All sources" else source)
    day = as_of if isinstance(as_of, date) else date.today()
    mode = ANSWER_FORMS.get(str(form), "auto")
    choices = Choices(filters=filters, as_of=day, k=k, answerer=answerer_name(answerer) or "extractive", mode=mode)
    return choices, export_slot


def export_button(slot: DeltaGenerator, turns: list[Turn]) -> None:
    """Download the conversation so far, drawn last so that it includes the question just answered."""
    answers = [turn.answer for turn in turns if turn.answer]
    slot.download_button(
        "Export chat (Markdown)",
        conversation_markdown(answers),
        file_name="qa-chat.md",
        mime="text/markdown",
        icon=":material/download:",
        disabled=not answers,
        width="stretch",
    )


def plural(count: int, noun: str) -> str:
    """'1 source', '2 sources'."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def date_range(chosen: object) -> tuple[date | None, date | None]:
    """A date_input range as (since, until); while only the first day is picked it is both."""
    days = [day for day in (chosen if isinstance(chosen, tuple | list) else [chosen]) if isinstance(day, date)]
    if not days:
        return None, None
    return days[0], days[-1]


def ingest_uploads(engine: QAService, files: list) -> None:
    """Ingest each newly uploaded file once; show every file's result for as long as it stays uploaded."""
    results: dict[str, IngestReport] = st.session_state.uploads
    new = [file for file in files if file.file_id not in results]
    if new:
        progress = st.progress(0.0, text="Reading articles…")
        for i, file in enumerate(new):
            text = f"Adding {i + 1} of {len(new)}: {file.name}"
            progress.progress(i / len(new), text=escape(text))

            def step(done: int, total: int, i: int = i, text: str = text) -> None:
                share = done / total if total else 1.0
                progress.progress(min(1.0, (i + share) / len(new)), text=escape(text))

            with shown_errors(f"Adding {file.name}"):
                results[file.file_id] = engine.ingest_upload(file.name, file.getvalue(), step)
        load_corpus.clear()
        st.rerun()  # so the corpus figures, filters and article list include what was just added
    for file in files:
        if report := results.get(file.file_id):
            for item in report.items:
                detail = item.reason or plural(item.chunks, "chunk")
                st.markdown(f"{STATUS_ICONS[item.status]} " + escape(f"{item.location}: {item.status} ({detail})"))


def add_web_page(engine: QAService) -> None:
    """A web page box: the page is fetched and added (public addresses only, unless QA_FETCH_PRIVATE)."""
    with st.form("web_page", clear_on_submit=True, border=False):
        url = st.text_input("Web page", placeholder="https://…", key="page_url")
        submitted = st.form_submit_button("Add page", icon=":material/link:")
    if submitted and url.strip():
        with shown_errors("Adding the page"):
            st.session_state.page_report = engine.ingest_urls([url.strip()])
            load_corpus.clear()
            st.rerun()
    if report := st.session_state.pop("page_report", None):
        for item in report.items:
            detail = item.reason or plural(item.chunks, "chunk")
            st.markdown(
                f"{STATUS_ICONS[item.status]} " + escape(f"{item.title or item.location}: {item.status} ({detail})")
            )


def manage_feeds(engine: QAService, followed: list[Feed]) -> None:
    """The followed feeds with their last and next poll, following one, polling them now, and removing one."""
    for feed in followed:
        polled = f"polled {feed.last_poll:%d %b %H:%M} UTC" if feed.last_poll else "never polled"
        polled += f", next {feed.next_poll:%d %b %H:%M}" if feed.next_poll else ""
        line = f"{feed.name} · {feed.status} · {polled} · {plural(feed.articles, 'article')}"
        st.markdown(escape(line) + (f"  \n:red[{escape(feed.error)}]" if feed.error else ""))
    with st.form("add_feed", clear_on_submit=True, border=False):
        url = st.text_input("Feed URL (RSS or Atom)", placeholder="https://…/rss.xml", key="feed_url")
        name = st.text_input("Name (optional)", key="feed_name")
        added = st.form_submit_button("Follow feed", icon=":material/rss_feed:")
    if added and url.strip():
        with shown_errors("Following the feed"):
            engine.add_feed(url.strip(), name.strip() or None)
            st.rerun()
    if st.button("Poll feeds now", icon=":material/refresh:", disabled=not followed, key="poll_feeds"):
        with shown_errors("Polling the feeds"):
            st.session_state.polled = [poll.line() for poll in engine.poll_feeds()]
            load_corpus.clear()
            st.rerun()
    for line in st.session_state.pop("polled", []):
        st.caption(escape(line))
    chosen = st.selectbox(
        "Feed to remove",
        followed,
        index=None,
        format_func=lambda feed: f"{feed.name} ({feed.url})",
        placeholder="Choose a feed",
        key="feed_remove_choice",
    )
    if st.button("Remove feed", icon=":material/delete:", disabled=chosen is None, key="remove_feed") and chosen:
        with shown_errors("Removing the feed"):
            engine.remove_feed(chosen.id)
            st.rerun()


def manage_articles(engine: QAService, articles: list[ArticleSummary]) -> None:
    """The stored articles, and removing one."""
    if not articles:
        st.caption("No articles yet: upload some above.")
        return
    st.dataframe(
        [{"title": a.title, "source": a.source, "published": a.published, "chunks": a.chunks} for a in articles],
        hide_index=True,
        width="stretch",
    )
    chosen = st.selectbox(
        "Article to remove",
        articles,
        index=None,
        format_func=lambda a: f"{a.title} ({a.source or 'unknown source'}, {a.published or 'undated'})",
        placeholder="Choose an article",
        key="remove_choice",
    )
    if st.button("Remove article", icon=":material/delete:", disabled=chosen is None, key="remove") and chosen:
        with shown_errors("Removing the article"):
            engine.remove(chosen.id)
            load_corpus.clear()
            st.session_state.removed = chosen.title
            st.rerun()
    if removed := st.session_state.pop("removed", None):
        st.success(escape(f"Removed {removed}"), icon=":material/check:")


def ask(engine: QAService, turn: Turn, article_count: int, earlier: list[ConversationTurn]) -> None:
    """Answer a new question in the page as it arrives: an LLM's draft as it writes, then the checked answer."""
    with st.chat_message("user"):
        st.markdown(escape(turn.question))
    with st.chat_message("assistant"):
        status = st.status(f"Searching {plural(article_count, 'article')}…", expanded=False)
        draft = st.empty()
        drafted = ""
        try:
            choices = turn.choices
            query = parse_query(
                question=turn.question,
                k=choices.k,
                answerer=choices.answerer,
                history=earlier,
                as_of=choices.as_of,
                time_words=choices.time_words,
                mode=choices.mode,
                **choices.filters.model_dump(),
            )
            for event in engine.stream(query):
                if event.delta:
                    drafted += event.delta
                    draft.markdown(escape(drafted) + " ▌")
                if event.answer is not None:
                    turn.answer = event.answer
        except Exception as error:
            turn.error = readable(error, "Could not answer")
        draft.empty()  # the draft is unchecked: the answer below replaces it
        if turn.answer is None:
            status.update(label="Could not answer", state="error")
        else:
            turn.contexts = citation_contexts(engine, turn.answer)
            seconds = turn.answer.timings_ms.get("total", 0) / 1000
            found = plural(len(turn.answer.citations), "source") if not turn.answer.refused else "no support"
            status.update(label=f"Searched {article_count:,} articles: {found} ({seconds:.1f} s)", state="complete")
            status.caption(escape(search_details(turn)))
        if turn.answer and not turn.answer.refused:
            st.write_stream(sentences(turn.answer))
        show_result(turn)


def search_details(turn: Turn) -> str:
    """What the status box holds: what was searched for, with which filters, and how long each step took."""
    assert turn.answer is not None
    filters = turn.choices.filters.model_dump(exclude_none=True)
    narrowed = ", ".join(f"{name} {value}" for name, value in filters.items()) or "none"
    timings = ", ".join(f"{stage} {ms:,.0f} ms" for stage, ms in turn.answer.timings_ms.items())
    searched = turn.answer.standalone_question or turn.question
    as_of = turn.answer.as_of or turn.choices.as_of
    return (
        f"Searched for: {searched}\n\nAs of {as_of}; filters: {narrowed}; {turn.choices.k} passages\n\n"
        f"Timings: {timings}"
    )


def history(turns: list[Turn]) -> list[ConversationTurn]:
    """The earlier questions and their answers, for follow-ups."""
    earlier = []
    for turn in turns:
        if turn.answer is not None:
            earlier.append(ConversationTurn(role="user", content=turn.question))
            earlier.append(ConversationTurn(role="assistant", content=turn.answer.answer))
    return earlier


def answerer_name(value: object) -> AnswererName | None:
    """The answerer chosen in the sidebar (None: the configured one)."""
    return next((name for name in ANSWERERS if name == value), None)


def citation_contexts(engine: QAService, answer: Answer) -> dict[int, QuoteContext]:
    """Each citation's quote inside its paragraph, read once when the answer arrives."""
    contexts = {}
    for citation in answer.citations:
        try:
            article = engine.get_article(citation.article.id)
        except NotFoundError:  # removed since the answer was given
            continue
        contexts[citation.n] = quote_context(article.text, citation.start, citation.end)
    return contexts


def sentences(answer: Answer) -> Iterator[str]:
    """The answer as escaped Markdown, the short answer then a sentence at a time (a timeline an entry at a time),
    for st.write_stream."""
    if answer.timeline:
        for i, entry in enumerate(answer_markdown(answer).split("\n")):
            yield ("\n" if i else "") + entry
        return
    if answer.short_answer:
        yield short_answer_markdown(answer) + "\n\n"
    for i, sentence in enumerate(answer_sentences(answer.answer)):
        yield (" " if i else "") + escape(sentence)


def show_turn(engine: QAService, turn: Turn) -> None:
    """A past question and its answer."""
    with st.chat_message("user"):
        st.markdown(escape(turn.question))
    with st.chat_message("assistant"):
        if turn.answer and not turn.answer.refused:
            st.markdown(answer_markdown(turn.answer))
        show_result(turn)


def show_result(turn: Turn) -> None:
    """Refusal or error, then the sources and the feedback thumbs."""
    if turn.error:
        st.error(escape(turn.error), icon=":material/error:")
        return
    answer = turn.answer
    if answer is None:
        st.warning("Stopped before the answer: a newer question was sent.", icon=":material/stop_circle:")
        return
    if answer.refused:
        st.info(escape(answer.answer), icon=":material/help:")
    if answer.timeline and answer.timeline.articles_per_day and not answer.refused:
        coverage_chart(answer.timeline)
    for notice in answer.notices:
        st.warning(escape(notice), icon=":material/info:")
    if answer.standalone_question:
        st.caption(escape(f"Searched for: {answer.standalone_question}"))
    if answer.time_window:
        words, button = st.columns([4, 1], vertical_alignment="center")
        words.caption(escape(searched_window(answer.time_window)))
        button.button("Search all dates", key=f"all-dates-{turn.id}", on_click=ask_again, args=(turn,))
    for citation in answer.citations:
        with st.expander(f"\\[{citation.n}\\] {source_line(citation, title_chars=90)}"):
            context = turn.contexts.get(citation.n)
            if context is None:
                st.markdown(escape(citation.quote))
            else:
                st.markdown(
                    escape(context.before) + f":orange-background[{escape(context.quote)}]" + escape(context.after)
                )
            if citation.dates:
                st.caption(escape(dates_in_quote(citation.dates)))
            st.caption(f"Quote at characters {citation.start}–{citation.end} · support {citation.score:.2f}")
            if url := safe_url(citation.article.url):
                st.link_button("Open the article", url, icon=":material/open_in_new:")
    st.feedback("thumbs", key=f"feedback-{turn.id}", on_change=save_feedback, args=(turn,))


def coverage_chart(timeline: Timeline) -> None:
    """A small bar chart of the story's articles per day over the period (Vega-Lite, drawn in the browser from
    the page's own data: nothing is fetched from outside the server)."""
    import altair as alt  # Streamlit's own dependency, loaded when a timeline is shown

    rows = [{"day": day_text(count.day), "articles": count.articles} for count in timeline.articles_per_day]
    chart = (
        alt.Chart(alt.Data(values=rows))
        .mark_bar()
        .encode(
            x=alt.X("day:O", title=None, sort=None, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("articles:Q", title="articles", axis=alt.Axis(tickMinStep=1)),
        )
        .properties(height=140, title="Articles per day")
    )
    st.altair_chart(chart, width="stretch")


def ask_again(turn: Turn) -> None:
    """Queue the turn's question again, its time words no longer setting the dates."""
    st.session_state.again = Turn(question=turn.question, choices=replace(turn.choices, time_words=False))


def save_feedback(turn: Turn) -> None:
    """Append the rating to the engine's feedback file (thumbs: 1 up, 0 down; cleared ratings are not stored)."""
    value = st.session_state.get(f"feedback-{turn.id}")
    if value is None or turn.answer is None:
        return
    engine = open_engine()
    with shown_errors("Saving feedback"):
        rating = "up" if value == 1 else "down"
        engine.record_feedback(Feedback(rating=rating, answer=turn.answer, filters=turn.choices.recorded()))
        st.toast("Thanks: feedback saved.", icon=":material/thumb_up:")


main()
