"""Every page says what it is: title, language, description, one h1 and headings in order;
poll and results pages carry Open Graph tags, so a shared link previews the question."""

from html.parser import HTMLParser

import pytest
from django.test import Client

from tests.helpers import seed_reader_pages


class PageOutline(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.lang = None
        self.title = ""
        self.meta: dict[str, str] = {}
        self.headings: list[int] = []
        self.in_title = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attrs = dict(attrs)
        if tag == "html":
            self.lang = attrs.get("lang")
        elif tag == "title":
            self.in_title = True
        elif tag == "meta" and ("name" in attrs or "property" in attrs):
            self.meta[attrs.get("name") or attrs["property"]] = attrs.get("content", "")
        elif len(tag) == 2 and tag[0] == "h" and tag[1].isdigit():
            self.headings.append(int(tag[1]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title += data


def outline(html: str) -> PageOutline:
    parser = PageOutline()
    parser.feed(html)
    return parser


@pytest.fixture
def pages(db) -> dict[str, str]:
    article = seed_reader_pages()
    poll = article.poll
    client = Client()
    urls = {
        "index": "/",
        "archive": "/polls/archive/",
        "poll": poll.get_absolute_url(),
        "results": poll.get_results_url(),
        "article": article.get_absolute_url(),
        "widget": f"/polls/{poll.slug}/embed/",
        "not-found": "/polls/no-such-poll/",
    }
    return {name: client.get(url).content.decode() for name, url in urls.items()}


def test_every_page_has_a_title_language_description_and_heading_order(pages):
    question = "How has the recent turmoil within the OpenAI offices"
    for name, html in pages.items():
        page = outline(html)
        assert page.lang == "en", name
        assert page.title.strip(), name
        if name == "widget":
            assert page.title.startswith(f"Reader poll: {question}")
            continue  # a fragment of someone else's page: no description, no headings of its own
        assert page.title.endswith("· The Daily Stack"), name
        assert len(page.meta["description"]) > 20, name
        assert page.headings.count(1) == 1 and page.headings[0] == 1, (name, page.headings)
        steps = zip(page.headings, page.headings[1:], strict=False)
        assert all(after <= before + 1 for before, after in steps), (name, page.headings)
    assert outline(pages["results"]).title.startswith("Results: How has the recent turmoil")


def test_poll_and_results_pages_preview_the_question_when_shared(pages):
    for name in ("poll", "results"):
        meta = outline(pages[name]).meta
        assert meta["og:title"].startswith("How has the recent turmoil"), name
        assert meta["og:site_name"] == "The Daily Stack"
        assert meta["og:type"] == "website"
        assert meta["og:url"].startswith("http://testserver/polls/openai-turmoil-gpt-plans-2024/")
        assert meta["og:description"], name
    assert "og:title" not in outline(pages["index"]).meta
