"""Close now, reopen and duplicate: from the poll list and from a poll's page."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from polls.models import Ballot, Poll
from tests.helpers import change_form_data, editor_client, make_poll, vote, vote_form

pytestmark = pytest.mark.django_db


def on_list(name: str, *polls: Poll):
    return editor_client().post(
        reverse("admin:polls_poll_changelist"),
        {"action": name, "_selected_action": [str(p.pk) for p in polls]},
        follow=True,
    )


def on_page(name: str, poll: Poll):
    """Django 6.1's change-form actions: the action menu above a poll's form."""
    return editor_client().post(
        reverse("admin:polls_poll_change", args=[poll.pk]),
        {"CHANGE_FORM-action": name, "_selected_action": [str(poll.pk)]},
        follow=True,
    )


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_close_now_closes_an_open_poll_and_readers_can_no_longer_vote(client):
    poll = make_poll()
    response = on_page("close_now", poll)
    assert f"“{poll}” is closed." in messages_of(response)
    poll.refresh_from_db()
    assert poll.state() == "closed" and poll.closes_at <= timezone.now()
    vote_url = reverse("polls:vote", args=[poll.slug])
    refused = client.post(vote_url, vote_form(poll, choice=poll.choices.first().pk))
    assert refused.status_code == 409
    assert not Ballot.objects.exists()


def test_close_now_leaves_drafts_and_scheduled_polls_alone_and_says_so():
    draft, scheduled = make_poll(state="draft"), make_poll(state="scheduled")
    response = on_list("close_now", draft, scheduled)
    assert f"“{draft}” is draft, not open, so there is nothing to close." in messages_of(response)
    assert f"“{scheduled}” is scheduled, not open" in " ".join(messages_of(response))
    assert Poll.objects.filter(closes_at__isnull=False).count() == 0


def test_reopen_opens_a_closed_poll_without_a_closing_time():
    closed, open_poll = make_poll(state="closed"), make_poll(state="open")
    response = on_list("reopen", closed, open_poll)
    assert f"“{closed}” is reopened." in messages_of(response)
    assert f"“{open_poll}” is open, not closed, so it cannot be reopened." in messages_of(response)
    closed.refresh_from_db()
    assert closed.state() == "open" and closed.closes_at is None


def test_duplicate_copies_question_settings_and_choices_but_not_votes():
    poll = make_poll("Which proxy?", choices=("Envoy", "NGINX"), slug="which-proxy")
    poll.results_shown = Poll.ResultsShown.AFTER_CLOSE
    poll.percentages_only = True
    poll.closes_at = timezone.now() + timedelta(days=3)
    poll.save()
    vote(poll, "Envoy", voter="reader")
    response = on_page("duplicate", poll)
    copy = Poll.objects.get(slug="which-proxy-2")
    assert response.redirect_chain[-1][0] == reverse("admin:polls_poll_change", args=[copy.pk])
    assert (copy.question, copy.status, copy.results_shown, copy.percentages_only) == (
        "Which proxy?",
        Poll.Status.DRAFT,
        Poll.ResultsShown.AFTER_CLOSE,
        True,
    )
    assert list(copy.choices.values_list("text", "position", "votes")) == [
        ("Envoy", 1, 0),
        ("NGINX", 2, 0),
    ]
    assert not copy.ballots.exists() and copy.closes_at is None
    on_page("duplicate", poll)
    assert Poll.objects.filter(slug="which-proxy-3").exists()
    longest = make_poll("Q" * 300, slug="longest")
    on_page("duplicate", longest)
    assert Poll.objects.filter(question="Q" * 300).count() == 2
    assert poll.choices.get(text="Envoy").votes == 1


def test_a_draft_s_slug_follows_its_retyped_question_until_it_is_published():
    poll = make_poll("Which proxy?", choices=("Envoy", "NGINX"), slug="which-proxy")
    on_page("duplicate", poll)
    copy = Poll.objects.get(slug="which-proxy-2")
    client = editor_client()
    url = reverse("admin:polls_poll_change", args=[copy.pk])
    response = client.post(url, change_form_data(copy, question="Which mesh?"))
    assert response.status_code == 302
    copy.refresh_from_db()
    assert (copy.question, copy.slug) == ("Which mesh?", "which-mesh")
    # As the admin's script sends it, taken by another poll: made unique.
    make_poll("Which cache?", slug="which-cache")
    client.post(url, change_form_data(copy, question="Which cache?", slug="which-cache"))
    copy.refresh_from_db()
    assert copy.slug == "which-cache-2"
    # A slug the editor typed stays; so does a published poll's.
    client.post(url, change_form_data(copy, question="Which CDN?", slug="cdn-2027"))
    copy.refresh_from_db()
    assert copy.slug == "cdn-2027"
    client.post(url, change_form_data(copy, status="published"))
    client.post(url, change_form_data(Poll.objects.get(pk=copy.pk), question="Which DNS?"))
    copy.refresh_from_db()
    assert (copy.question, copy.slug) == ("Which DNS?", "cdn-2027")


def test_the_actions_are_recorded_in_the_poll_history():
    poll = make_poll()
    on_page("close_now", poll)
    history = editor_client().get(reverse("admin:polls_poll_history", args=[poll.pk]))
    assert "Closed from the admin." in history.content.decode()


def test_a_viewer_without_change_permission_gets_no_close_action():
    from django.contrib.auth.models import Permission, User
    from django.test import Client

    viewer = User.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_poll"))
    client = Client()
    client.force_login(viewer)
    poll = make_poll()
    page = client.get(reverse("admin:polls_poll_change", args=[poll.pk])).content.decode()
    assert 'value="export_results_csv"' in page
    assert 'value="close_now"' not in page
    client.post(
        reverse("admin:polls_poll_changelist"),
        {"action": "close_now", "_selected_action": [str(poll.pk)]},
    )
    poll.refresh_from_db()
    assert poll.state() == "open"


def test_the_poll_s_actions_are_at_the_top_of_its_page_before_its_results():
    open_poll, closed = make_poll(), make_poll(state="closed")
    vote(open_poll, "Envoy", voter="reader")
    page = editor_client().get(reverse("admin:polls_poll_change", args=[open_poll.pk]))
    html = page.content.decode()
    top = html[: html.index('id="poll-results"')]
    assert (
        '<button type="submit" class="button" name="CHANGE_FORM-action" value="close_now">' in top
    )
    assert 'value="duplicate">Duplicate this poll (without votes)</button>' in top
    assert 'value="reopen"' not in top
    html = editor_client().get(reverse("admin:polls_poll_change", args=[closed.pk])).content
    top = html.decode()[: html.decode().index('id="poll-results"')]
    assert 'value="reopen">Reopen this poll</button>' in top and 'value="close_now"' not in top


@pytest.mark.parametrize("selected", ["abc", "1\x00", "", "\u0661"])
def test_an_action_on_a_selection_that_names_no_row_is_a_400(selected):
    """An editor's forged or garbled form (or a browser add-on's): a clear 400, nothing
    changed, not the 500 of a primary key that is not a number."""
    poll = make_poll()
    response = editor_client().post(
        reverse("admin:polls_poll_changelist"),
        {"action": "close_now", "_selected_action": [str(poll.pk), selected]},
    )
    assert response.status_code == 400
    poll.refresh_from_db()
    assert poll.state() == "open"
