"""The admin shows and takes times in the newsroom's zone (TIME_ZONE), and names it."""

from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from polls import editing
from polls.models import Ballot, WriteInMove
from tests.helpers import editor_client, make_editor, vote, write_in_poll

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def newsroom_in_berlin(settings):
    settings.TIME_ZONE = "Europe/Berlin"


def berlin(moment, clock: str = "%H:%M") -> str:
    local = moment.astimezone(ZoneInfo("Europe/Berlin"))
    return f"{local.strftime(clock)} {local.tzname()}"


def test_every_time_in_the_poll_pages_names_the_zone():
    poll = write_in_poll()
    ballot = vote(poll, "Other", voter="a", write_in="Linkerd")
    client = editor_client()
    listing = client.get(reverse("admin:polls_poll_changelist")).content.decode()
    assert f"{berlin(poll.opens_at)} → until closed" in listing
    assert berlin(ballot.cast_at) in listing  # the last vote
    change = client.get(reverse("admin:polls_poll_change", args=[poll.pk])).content.decode()
    assert f"Opened {poll.opens_at.astimezone(ZoneInfo('Europe/Berlin')):%b}" in change
    assert "In Europe/Berlin time." in change and "(times in Europe/Berlin)" in change
    write_ins = client.get(reverse("admin:polls_poll_write_ins", args=[poll.pk]))
    assert berlin(ballot.cast_at) in write_ins.content.decode()


def test_ballots_and_moves_name_the_zone_too():
    poll = write_in_poll()
    ballot = vote(poll, "Other", voter="a", write_in="Linkerd")
    editing.write_ins_merge(poll=poll, ballot_ids=[ballot.pk], text="Linkerd", editor=make_editor())
    client = editor_client()
    for url in (
        reverse("admin:polls_ballot_changelist"),
        reverse("admin:polls_ballot_change", args=[ballot.pk]),
    ):
        assert berlin(Ballot.objects.get().cast_at, "%H:%M:%S") in client.get(url).content.decode()
    move = WriteInMove.objects.get()
    client.force_login(User.objects.create_superuser("admin"))  # the audit list is theirs
    for url in (
        reverse("admin:polls_writeinmove_changelist"),
        reverse("admin:polls_writeinmove_change", args=[move.pk]),
    ):
        assert berlin(move.moved_at, "%H:%M:%S") in client.get(url).content.decode()
