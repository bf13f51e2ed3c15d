"""Counters are written only by the database: saving a stale instance never erases votes."""

import pytest

from polls.models import Choice
from polls.services import ballot_cast

pytestmark = pytest.mark.django_db


def test_saving_a_stale_choice_keeps_the_votes_cast_meanwhile(poll):
    stale = Choice.objects.get(poll=poll, text="Envoy")  # an editor opens the form...
    ballot_cast(poll=poll, choice=stale, voter_hash="a" * 64)  # ...a reader votes...
    stale.text = "Envoy proxy"
    stale.save()  # ...and the editor saves.
    fresh = Choice.objects.get(pk=stale.pk)
    assert (fresh.text, fresh.votes) == ("Envoy proxy", 1)


def test_an_editor_saving_the_poll_in_the_admin_keeps_the_votes(admin_client, poll):
    from django.urls import reverse

    from tests.helpers import poll_form

    choices = list(poll.choices.all())
    form = poll_form(
        question=poll.question,
        slug=poll.slug,
        **{
            "choices-TOTAL_FORMS": "3",
            "choices-INITIAL_FORMS": "3",
            **{f"choices-{n}-id": str(choice.pk) for n, choice in enumerate(choices)},
            **{f"choices-{n}-poll": str(poll.pk) for n in range(3)},
            **{f"choices-{n}-text": choice.text for n, choice in enumerate(choices)},
            **{f"choices-{n}-position": str(n + 1) for n in range(3)},
        },
    )
    ballot_cast(poll=poll, choice=choices[0], voter_hash="b" * 64)
    response = admin_client.post(reverse("admin:polls_poll_change", args=[poll.pk]), form)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Choice.objects.get(pk=choices[0].pk).votes == 1
