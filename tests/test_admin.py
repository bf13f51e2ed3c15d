import pytest
from django.urls import reverse

from polls.models import Ballot, Poll
from polls.services import ballot_cast
from tests.helpers import make_article, make_poll, poll_form

pytestmark = pytest.mark.django_db


def test_an_editor_adds_a_poll_with_ordered_choices_that_readers_can_vote_in(admin_client, client):
    response = admin_client.post(reverse("admin:polls_poll_add"), poll_form())
    assert response.status_code == 302, response.content.decode()[:2000]
    poll = Poll.objects.get(slug="which-service-mesh")
    assert [c.text for c in poll.choices.all()] == ["Istio", "Linkerd", "None yet"]
    assert client.get(poll.get_absolute_url()).status_code == 200


def test_the_admin_refuses_a_poll_that_closes_before_it_opens(admin_client):
    response = admin_client.post(
        reverse("admin:polls_poll_add"),
        poll_form(closes_at_0="2023-12-31", closes_at_1="09:00:00"),
    )
    assert response.status_code == 200
    assert "The poll must close after it opens." in response.content.decode()
    assert not Poll.objects.exists()


def test_the_poll_list_shows_state_and_total_votes_with_filters(admin_client):
    poll = make_poll("Counted poll?", state="open")
    make_poll("Draft poll?", state="draft")
    ballot_cast(poll=poll, choice=poll.choices.first(), voter_hash="1" * 64)
    ballot_cast(poll=poll, choice=poll.choices.last(), voter_hash="2" * 64)
    html = admin_client.get(reverse("admin:polls_poll_changelist")).content.decode()
    assert "Counted poll?" in html and "Draft poll?" in html
    assert '<td class="field-total_votes">2</td>' in html
    assert (
        '<td class="field-state"><span class="poll-state poll-state--open">Open</span></td>' in html
    )
    drafts = admin_client.get(reverse("admin:polls_poll_changelist") + "?state=draft")
    assert "Draft poll?" in drafts.content.decode()
    assert "Counted poll?" not in drafts.content.decode()


def test_ballots_can_be_read_but_never_changed_or_deleted(admin_client, poll):
    ballot = ballot_cast(poll=poll, choice=poll.choices.first(), voter_hash="3" * 64)
    assert admin_client.get(reverse("admin:polls_ballot_changelist")).status_code == 200
    change_url = reverse("admin:polls_ballot_change", args=[ballot.pk])
    assert admin_client.get(change_url).status_code == 200
    admin_client.post(change_url, {"choice": poll.choices.last().pk})
    delete_url = reverse("admin:polls_ballot_delete", args=[ballot.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    assert Ballot.objects.get() == ballot and ballot.choice == poll.choices.first()


def test_an_editor_sets_an_articles_topics_pins_and_poll(admin_client, poll):
    other = make_article("Pinned one")
    article = make_article("Edited article")
    response = admin_client.post(
        reverse("admin:polls_article_change", args=[article.pk]),
        {
            "title": "Edited article",
            "slug": "edited-article",
            "author": "Desk",
            "published_on": "2024-02-01",
            "summary": "Summary.",
            "body": "",
            "poll": poll.pk,
            "pinned_related": [other.pk],
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    article.refresh_from_db()
    assert article.poll == poll and list(article.pinned_related.all()) == [other]
