"""The article admin: topics, pinned articles, the poll at its top, and the sidebar preview."""

import re

import pytest
from django.urls import reverse

from tests.helpers import editor_client, make_article, make_poll

pytestmark = pytest.mark.django_db


def sidebar_titles(article) -> list[str]:
    response = editor_client().get(reverse("admin:polls_article_change", args=[article.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    preview = html[html.index('class="sidebar-preview"') :]
    preview = preview[: preview.index("</ol>")]
    return re.findall(r"<li><strong>([^<]+)</strong>", preview)


def test_the_sidebar_preview_lists_pinned_articles_then_shared_topics():
    article = make_article("Envoy interview", topics=("Proxies",), days_ago=1)
    pinned = make_article("An older pinned piece", days_ago=30)
    make_article("Proxies roundup", topics=("Proxies",), days_ago=2)
    make_article("Unrelated", topics=("Gardening",), days_ago=1)
    make_article("Not yet published", topics=("Proxies",), days_ago=-3)
    article.pinned_related.add(pinned)
    assert sidebar_titles(article) == ["An older pinned piece", "Proxies roundup"]


def test_the_sidebar_preview_says_when_there_is_nothing_to_show():
    article = make_article("Lonely")
    response = editor_client().get(reverse("admin:polls_article_change", args=[article.pk]))
    assert "No related articles yet" in response.content.decode()


def test_an_editor_puts_a_poll_at_the_top_of_an_article():
    poll = make_poll("Which proxy?")
    article = make_article("Edge proxies")
    response = editor_client().post(
        reverse("admin:polls_article_change", args=[article.pk]),
        {
            "title": "Edge proxies",
            "slug": "edge-proxies",
            "author": "Desk",
            "published_on": "2024-02-01",
            "summary": "Summary.",
            "body": "",
            "poll": poll.pk,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    article.refresh_from_db()
    assert article.poll == poll
    autocomplete = editor_client().get(
        reverse("admin:autocomplete"),
        {"app_label": "polls", "model_name": "article", "field_name": "poll", "term": "proxy"},
    )
    assert [r["text"] for r in autocomplete.json()["results"]] == ["Which proxy?"]
