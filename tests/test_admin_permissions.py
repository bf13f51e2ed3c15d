"""The "Poll editors" group: run polls without being a superuser, and nothing more."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from polls.models import Ballot, Choice, Poll
from tests.helpers import (
    change_form_data,
    editor_client,
    make_article,
    make_editor,
    make_poll,
    poll_form,
    vote,
)

pytestmark = pytest.mark.django_db


def test_the_group_has_exactly_the_editors_permissions():
    group = Group.objects.get(name="Poll editors")
    assert sorted(group.permissions.values_list("codename", flat=True)) == sorted(
        [
            "add_poll",
            "change_poll",
            "view_poll",
            "add_choice",
            "change_choice",
            "view_choice",
            "add_article",
            "change_article",
            "view_article",
            "view_ballot",
            "moderate_write_ins",
            "add_theme",
            "change_theme",
            "view_theme",
        ]
    )


def test_an_editor_is_staff_but_not_a_superuser():
    editor = make_editor()
    assert editor.is_staff and not editor.is_superuser
    assert editor.has_perm("polls.change_poll") and not editor.has_perm("polls.delete_poll")


def test_an_editor_adds_a_poll_and_changes_it():
    client = editor_client()
    response = client.post(reverse("admin:polls_poll_add"), poll_form())
    assert response.status_code == 302, response.content.decode()[:3000]
    poll = Poll.objects.get(slug="which-service-mesh")
    data = change_form_data(poll, question="Which service mesh runs in production?")
    response = client.post(reverse("admin:polls_poll_change", args=[poll.pk]), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    poll.refresh_from_db()
    assert poll.question == "Which service mesh runs in production?"


def test_an_editor_adds_and_changes_articles():
    client = editor_client()
    response = client.get(reverse("admin:polls_article_add"))
    assert response.status_code == 200
    article = make_article("Some story")
    assert client.get(reverse("admin:polls_article_change", args=[article.pk])).status_code == 200


def test_an_editor_reads_ballots_but_cannot_change_them():
    poll = make_poll()
    ballot = vote(poll, "Envoy", voter="reader")
    client = editor_client()
    assert client.get(reverse("admin:polls_ballot_changelist")).status_code == 200
    page = client.get(reverse("admin:polls_ballot_change", args=[ballot.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="choice"' not in html  # read-only view
    assert ballot.voter_hash not in html
    nginx = poll.choices.get(text="NGINX")
    client.post(reverse("admin:polls_ballot_change", args=[ballot.pk]), {"choice": nginx.pk})
    ballot.refresh_from_db()
    assert ballot.choice.text == "Envoy"


@pytest.mark.parametrize(
    "url_name", ["polls_poll_delete", "polls_article_delete", "polls_ballot_delete"]
)
def test_an_editor_cannot_delete(url_name):
    poll = make_poll()
    ballot = vote(poll, "Envoy", voter="reader")
    article = make_article("A story", poll=poll)
    target = {"poll": poll, "article": article, "ballot": ballot}[url_name.split("_")[1]]
    response = editor_client().post(reverse(f"admin:{url_name}", args=[target.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert Poll.objects.count() == 1 and Ballot.objects.count() == 1


def test_an_editor_cannot_delete_a_choice_through_the_poll_form():
    poll = make_poll()
    client = editor_client()
    html = client.get(reverse("admin:polls_poll_change", args=[poll.pk])).content.decode()
    assert "choices-0-DELETE" not in html
    data = change_form_data(poll, **{"choices-2-DELETE": "on"})
    client.post(reverse("admin:polls_poll_change", args=[poll.pk]), data)
    assert Choice.objects.filter(poll=poll).count() == 3


@pytest.mark.parametrize(
    "url_name",
    [
        "auth_user_changelist",
        "auth_group_changelist",
        "polls_topic_add",
        "axes_accessattempt_changelist",
    ],
)
def test_an_editor_cannot_manage_accounts_topics_or_lockouts(url_name):
    assert editor_client().get(reverse(f"admin:{url_name}")).status_code == 403


def test_anyone_signed_out_is_sent_to_the_login_even_for_exports():
    poll = make_poll()
    anonymous = Client()
    response = anonymous.get(reverse("admin:polls_poll_change", args=[poll.pk]))
    assert response.status_code == 302 and "/login/" in response["Location"]
    for url_name in ("admin:polls_poll_results_csv", "admin:polls_poll_ballots_csv"):
        response = anonymous.get(reverse(url_name, args=[poll.pk]))
        assert response.status_code == 302 and "/login/" in response["Location"]
