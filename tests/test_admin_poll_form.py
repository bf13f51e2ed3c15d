"""The poll form: every validation rule and guard rail, with the message the editor sees."""

import re

import pytest
from django.urls import reverse

from polls.models import Article, Choice, Poll
from tests.helpers import (
    editor_client,
    make_article,
    make_poll,
    poll_change,
    poll_form,
    refused,
    vote,
)

pytestmark = pytest.mark.django_db


def add(**overrides):
    return editor_client().post(reverse("admin:polls_poll_add"), poll_form(**overrides))


def test_it_needs_at_least_two_choices(admin_client):
    response = add(**{"choices-TOTAL_FORMS": "3", "choices-1-text": "", "choices-2-text": ""})
    assert refused(response, "Every choice needs a text.")
    assert not Poll.objects.exists()
    poll = make_poll(choices=("Envoy", "NGINX"))
    response = poll_change(poll, client=admin_client, **{"choices-1-DELETE": "on"})
    assert refused(response, "A poll needs at least two choices.")
    assert poll.choices.count() == 2


def test_it_refuses_a_blank_choice_text():
    # A row the editor touched (its position moved) but left blank; an untouched extra row
    # (its suggested position, no text) is not a choice and is left out.
    response = add(**{"choices-2-text": "   ", "choices-2-position": "4"})
    assert refused(response, "Every choice needs a text.")
    assert not Poll.objects.exists()


def test_it_refuses_duplicate_choices_even_in_other_case_or_spacing():
    response = add(**{"choices-2-text": "  linkerd "})
    assert refused(response, "every choice must be different.")
    assert not Poll.objects.exists()


def test_it_refuses_a_poll_that_closes_before_or_when_it_opens():
    for closes in ("08:00:00", "09:00:00"):
        response = add(closes_at_0="2024-01-01", closes_at_1=closes)
        assert refused(response, "The poll must close after it opens.")
    assert not Poll.objects.exists()


def test_bad_input_gets_messages_not_a_server_error():
    response = add(question="", slug="not a slug!", opens_at_0="someday", status="maybe")
    assert response.status_code == 200
    html = response.content.decode()
    assert "This field is required." in html
    assert "Enter a valid “slug”" in html
    assert "Enter a valid date." in html
    assert "Select a valid choice. maybe is not one of the available choices." in html


def test_a_taken_slug_is_refused():
    make_poll(slug="which-service-mesh")
    response = add()
    assert refused(response, "Poll with this Slug already exists.")


def test_it_saves_whether_readers_see_results_before_voting_and_its_articles():
    first, second, other = make_article("First"), make_article("Second"), make_article("Other")
    other_poll = make_poll(slug="other-poll")
    Article.objects.filter(pk=second.pk).update(poll=other_poll)
    response = add(results_shown="always", articles=[str(first.pk), str(second.pk)])
    assert response.status_code == 302
    poll = Poll.objects.get(slug="which-service-mesh")
    assert poll.results_shown == Poll.ResultsShown.ALWAYS
    assert set(poll.articles.all()) == {first, second}
    other.refresh_from_db()
    assert other.poll is None

    response = poll_change(poll, articles=[str(second.pk)])
    assert response.status_code == 302
    assert list(poll.articles.all()) == [second]
    first.refresh_from_db()
    assert first.poll is None


def test_choices_are_ordered_by_position_and_can_be_reordered():
    poll = make_poll(choices=("Envoy", "NGINX", "HAProxy"))
    response = poll_change(
        poll, **{"choices-0-position": "3", "choices-1-position": "1", "choices-2-position": "2"}
    )
    assert response.status_code == 302
    assert [c.text for c in poll.choices.all()] == ["NGINX", "HAProxy", "Envoy"]


def test_a_choice_with_votes_cannot_be_deleted_and_the_admin_says_why(admin_client):
    poll = make_poll(choices=("Envoy", "NGINX", "HAProxy"))
    vote(poll, "HAProxy", voter="reader-1")
    response = poll_change(poll, client=admin_client, **{"choices-2-DELETE": "on"})
    assert refused(response, "“HAProxy” cannot be deleted: 1 reader voted for it")
    assert poll.choices.filter(text="HAProxy").exists()


def test_a_choice_without_votes_can_be_deleted_by_an_admin(admin_client):
    poll = make_poll(choices=("Envoy", "NGINX", "HAProxy"))
    vote(poll, "Envoy", voter="reader-1")
    response = poll_change(poll, client=admin_client, **{"choices-2-DELETE": "on"})
    assert response.status_code == 302
    assert [c.text for c in poll.choices.all()] == ["Envoy", "NGINX"]


def test_rewording_the_question_after_voting_started_asks_for_confirmation():
    poll = make_poll("Which proxy do you run?")
    vote(poll, "Envoy", voter="reader-1")
    vote(poll, "NGINX", voter="reader-2")
    response = poll_change(poll, question="Which proxy do you hate?")
    assert refused(response, "2 readers have already voted on this question.")
    assert "Change it anyway" in response.content.decode()
    poll.refresh_from_db()
    assert poll.question == "Which proxy do you run?"

    response = poll_change(
        poll, question="Which proxy do you hate?", confirm_change_after_voting="on"
    )
    assert response.status_code == 302
    poll.refresh_from_db()
    assert poll.question == "Which proxy do you hate?"


def test_rewording_a_choice_after_voting_started_asks_for_confirmation():
    poll = make_poll(choices=("Envoy", "NGINX"))
    vote(poll, "Envoy", voter="reader-1")
    response = poll_change(poll, **{"choices-0-text": "Envoy proxy"})
    assert refused(response, "you changed the text of “Envoy”")
    assert poll.choices.filter(text="Envoy").exists()

    response = poll_change(
        poll, **{"choices-0-text": "Envoy proxy", "confirm_change_after_voting": "on"}
    )
    assert response.status_code == 302
    assert list(poll.choices.values_list("text", "votes")) == [("Envoy proxy", 1), ("NGINX", 0)]


def test_before_any_vote_rewording_needs_no_confirmation():
    poll = make_poll(choices=("Envoy", "NGINX"))
    response = poll_change(poll, question="New wording?", **{"choices-1-text": "NGINX Plus"})
    assert response.status_code == 302
    assert Choice.objects.filter(text="NGINX Plus").exists()
    html = editor_client().get(reverse("admin:polls_poll_change", args=[poll.pk])).content
    assert b"confirm_change_after_voting" not in html


def test_vote_counts_cannot_be_set_from_the_form():
    poll = make_poll(choices=("Envoy", "NGINX"))
    response = poll_change(poll, **{"choices-0-votes": "1000"})
    assert response.status_code == 302
    assert poll.choices.get(text="Envoy").votes == 0


def test_the_add_form_numbers_new_choices_and_gives_the_question_several_lines():
    page = editor_client().get(reverse("admin:polls_poll_add")).content.decode()
    positions = re.findall(r'type="number" name="choices-(\d+)-position" value="(\d+)"', page)
    assert positions == [("0", "1"), ("1", "2"), ("2", "3"), ("3", "4")]
    assert re.search(r'<textarea name="question" cols="60" rows="3"', page)


def test_new_choices_of_an_existing_poll_come_after_the_others():
    poll = make_poll(choices=("Envoy", "NGINX"))
    page = editor_client().get(reverse("admin:polls_poll_change", args=[poll.pk]))
    positions = re.findall(r'name="choices-(\d+)-position" value="(\d+)"', page.content.decode())
    assert positions == [("0", "1"), ("1", "2"), ("2", "3")]


def test_a_new_poll_starts_with_four_choice_rows_and_a_saved_one_with_one_empty_row():
    html = editor_client().get(reverse("admin:polls_poll_add")).content.decode()
    assert 'name="choices-TOTAL_FORMS" value="4"' in html
    assert 'id="id_choices-3-text"' in html and 'id="id_choices-4-text"' not in html
    poll = make_poll(choices=("Envoy", "NGINX", "HAProxy"))
    page = editor_client().get(reverse("admin:polls_poll_change", args=[poll.pk]))
    assert 'name="choices-TOTAL_FORMS" value="4"' in page.content.decode()


def test_saving_stays_on_the_poll_s_page():
    response = add(_save="Save")
    poll = Poll.objects.get(slug="which-service-mesh")
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:polls_poll_change", args=[poll.pk])
    response = poll_change(poll, question="Which service mesh, then?", _save="Save")
    assert response["Location"] == reverse("admin:polls_poll_change", args=[poll.pk])


def test_the_same_choice_twice_is_refused_in_words():
    response = add(**{"choices-2-text": "Linkerd"})
    assert refused(response, "“Linkerd” is there twice (as “Linkerd” too)")
    assert "Please correct the duplicate data" not in response.content.decode()
    assert not Poll.objects.exists()


def test_the_write_ins_pages_have_the_admin_s_breadcrumb_band():
    poll = make_poll(choices=("Envoy", "NGINX"))
    Choice.objects.create(poll=poll, text="Other", position=3, is_write_in=True, stays_last=True)
    url = reverse("admin:polls_poll_write_ins", args=[poll.pk])
    html = editor_client().get(url).content.decode()
    assert '<ol class="breadcrumbs">' in html and '<li aria-current="page">Write-ins</li>' in html


@pytest.mark.parametrize(
    "twin", ["\uff2cinkerd", "LINKERD", "Link\u200berd", "\u2062linkerd"], ids=ascii
)
def test_choices_that_look_alike_are_refused_as_the_same(twin):
    response = add(**{"choices-2-text": twin})
    assert refused(response, f"“{twin}” is there twice (as “Linkerd” too)")
    assert not Poll.objects.exists()
