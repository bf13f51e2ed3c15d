"""Every reader page and the widget is valid HTML, by the Nu HTML Checker (vnu.jar, on Java).

`make test` fetches the checker from the npm registry into .data/ (see the Makefile)."""

import re

import pytest
from django.template.loader import render_to_string
from django.test import Client, RequestFactory
from django.views.defaults import server_error

from polls.voters import vote_token_issue
from tests.helpers import seed_reader_pages, validation_errors


def page_html(client: Client, url: str, method: str = "get", **form) -> str:
    response = getattr(client, method)(url, form, follow=True) if form else client.get(url)
    return response.content.decode()


@pytest.mark.django_db
def test_it_finds_no_errors_on_any_page_before_and_after_voting(checker, tmp_path):
    article = seed_reader_pages()
    poll = article.poll
    choice = poll.choices.first()
    reader, widget_reader = Client(), Client()
    widget = f"/polls/{poll.slug}/embed/"

    pages = {
        "index": page_html(reader, "/"),
        "archive": page_html(reader, "/polls/archive/"),
        "poll": page_html(reader, poll.get_absolute_url()),
        "results": page_html(reader, poll.get_results_url()),
        "article": page_html(reader, article.get_absolute_url()),
        "widget": page_html(widget_reader, widget),
        "poll-missing-choice": page_html(reader, f"/polls/{poll.slug}/vote/", "post", choice=""),
        "vote-by-get": page_html(reader, f"/polls/{poll.slug}/vote/"),
        "not-found": page_html(reader, "/polls/no-such-poll/"),
        "server-error": server_error(RequestFactory().get("/")).content.decode(),
        "unavailable": render_to_string("503.html"),
        "results-voted": page_html(
            reader,
            f"/polls/{poll.slug}/vote/",
            "post",
            choice=choice.pk,
            token=vote_token_issue(poll),
        ),
        "article-voted": page_html(reader, article.get_absolute_url()),
        "index-voted": page_html(reader, "/"),
        "widget-voted": page_html(
            widget_reader, f"{widget}vote/", "post", choice=choice.pk, token=vote_token_issue(poll)
        ),
        "results-refused": page_html(
            reader,
            f"/polls/{poll.slug}/vote/",
            "post",
            choice=choice.pk,
            token=vote_token_issue(poll),
        ),
    }
    poll.results_shown = poll.ResultsShown.ALWAYS
    poll.save()
    pages["poll-with-results"] = page_html(Client(), poll.get_absolute_url())
    pages["article-with-results"] = page_html(Client(), article.get_absolute_url())
    pages["widget-with-results"] = page_html(Client(), widget)
    assert "Results so far" in pages["poll-with-results"]
    assert "Thank you, your vote has been counted." in pages["results-voted"]
    assert "Thank you, your vote was counted." in pages["widget-voted"]
    assert "You have already voted in this poll." in pages["results-refused"]
    assert all(re.search(r"<html lang=\"en\">", html) for html in pages.values())
    # In an example theme (seeded), its scheme picked by the address.
    pages["widget-themed"] = page_html(Client(), widget + "?theme=night-desk&scheme=light")
    assert 'data-scheme="light"' in pages["widget-themed"]

    assert validation_errors(checker, pages, tmp_path) == {}


def test_the_checker_catches_invalid_html(checker, tmp_path):
    broken = "<!doctype html><html lang=en><title>x</title><p><div>a</p></span>"
    assert validation_errors(checker, {"broken": broken}, tmp_path)
