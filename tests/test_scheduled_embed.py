"""A poll embedded before it opens: the partner's widget says when it opens, oEmbed answers,
and the admin's embed panel says so until then."""

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse

from polls.snippets import opening_notice
from tests.helpers import editor_client, make_poll

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture(autouse=True)
def newsroom_in_berlin(settings):
    settings.TIME_ZONE = "Europe/Berlin"


def test_the_widget_of_a_scheduled_poll_says_when_it_opens_in_the_newsroom_s_time(client):
    poll = make_poll(state="scheduled")
    response = client.get(reverse("polls:embed", args=[poll.slug]))
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"  # the poll appears once it opens
    opens = poll.opens_at.astimezone(BERLIN)
    assert f"at {opens:%H:%M} {opens.tzname()}." in response.content.decode()
    assert "This poll opens " in response.content.decode()
    assert poll.question not in response.content.decode()


def test_the_opening_notice_says_today_tomorrow_or_the_day():
    poll = make_poll(state="scheduled")
    poll.opens_at = datetime(2031, 3, 4, 7, 0, tzinfo=BERLIN)
    at = {
        datetime(2031, 3, 4, 1, 0, tzinfo=BERLIN): "This poll opens today at 07:00 CET.",
        datetime(2031, 3, 3, 23, 0, tzinfo=BERLIN): "This poll opens tomorrow at 07:00 CET.",
        datetime(2031, 3, 1, 9, 0, tzinfo=BERLIN): (
            "This poll opens on Tuesday, March 4, 2031 at 07:00 CET."
        ),
    }
    for now, notice in at.items():
        assert opening_notice(poll, now) == notice


def test_oembed_answers_for_a_scheduled_poll_but_not_for_a_draft(client):
    scheduled, draft = make_poll(state="scheduled"), make_poll(state="draft")
    url = "http://testserver" + scheduled.get_absolute_url()
    answer = client.get("/oembed", {"url": url})
    assert answer.status_code == 200
    assert f"/polls/{scheduled.slug}/embed/" in json.loads(answer.content)["html"]
    url = "http://testserver" + draft.get_absolute_url()
    assert client.get("/oembed", {"url": url}).status_code == 404


def test_readers_still_cannot_vote_in_a_scheduled_poll_from_the_widget():
    poll = make_poll(state="scheduled")
    reader = Client()
    vote = reader.post(
        reverse("polls:embed_vote", args=[poll.slug]),
        {"choice": poll.choices.first().pk},
        HTTP_ACCEPT="application/json",
    )
    assert vote.status_code == 404
    assert reader.post(reverse("polls:embed_token", args=[poll.slug])).status_code == 404


def test_the_admin_s_embed_panel_says_when_a_scheduled_poll_s_widget_starts_working():
    poll = make_poll(state="scheduled")
    page = editor_client().get(reverse("admin:polls_poll_change", args=[poll.pk]))
    html = page.content.decode()
    opens = poll.opens_at.astimezone(BERLIN)
    assert "Not open yet." in html
    assert "the widget tells their readers “This poll opens " in html
    assert f"at {opens:%H:%M} {opens.tzname()}.” and oEmbed links work" in html
    draft = make_poll(state="draft")
    html = editor_client().get(reverse("admin:polls_poll_change", args=[draft.pk])).content
    assert "Until you publish it, the widget tells readers" in html.decode()
