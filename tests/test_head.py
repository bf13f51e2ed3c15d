"""Load balancers and link checkers send HEAD: it is answered as GET, without a body."""

import pytest
from django.test import Client

from tests.helpers import make_article

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/polls/archive/",
        "/polls/{slug}/",
        "/polls/{slug}/results/",
        "/polls/{slug}/embed/",
        "/api/polls/{slug}/results",
        "/articles/host/",
        "/embed.js",
        "/oembed?url=http://testserver/polls/{slug}/",
        "/healthz",
        "/healthz/db",
    ],
)
def test_head_is_answered_as_get_without_a_body(poll, url):
    make_article("Host", poll=poll, slug="host")
    url = url.format(slug=poll.slug)
    got, head = Client().get(url), Client().head(url)
    assert got.status_code == head.status_code == 200
    assert head["Content-Type"] == got["Content-Type"]
    assert head.content == b""
    assert head.get("Cache-Control") == got.get("Cache-Control")


def test_head_on_the_vote_url_changes_nothing(poll):
    assert Client().head(f"/polls/{poll.slug}/vote/").status_code == 405
    assert Client().head(f"/polls/{poll.slug}/embed/vote/").status_code == 405
