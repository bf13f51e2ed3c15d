"""A newsroom editor's day in a real Chromium, on a desktop (1280 px) and a phone (390 px):
write-ins, the newsroom's time, the figures, the actions, embedding a scheduled poll,
duplicates, the phone layout and the spreadsheet export."""

import pytest
from django.urls import reverse

from polls.models import WriteInMove
from tests.conftest import counts
from tests.test_editor_helpers import (  # noqa: F401 (a fixture)
    editors_group,
    signed_in_editor_page,
    vote,
)
from tests.test_write_ins import write_in, write_in_poll

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("editors_group"),
]

DESKTOP, PHONE = 1280, 390


@pytest.mark.parametrize("width", [DESKTOP, PHONE])
def test_an_editor_merges_a_later_write_in_into_an_existing_choice(browser, live_server, width):
    poll = write_in_poll()
    first = write_in(poll, "a", "Platformer")
    context, page = signed_in_editor_page(browser, live_server, width=width)
    write_ins = live_server.url + reverse("admin:polls_poll_write_ins", args=[poll.pk])
    page.goto(write_ins)
    page.get_by_role("checkbox", name="Platformer").check()
    page.get_by_label("Merge the selected into").fill("Platformer")
    page.get_by_role("button", name="Merge…").click()
    page.get_by_text("1 ballot will move from “Other” (1 vote now) to a new choice").wait_for()
    page.get_by_role("button", name="Yes, merge 1 ballot into “Platformer”").click()
    page.get_by_text("1 write-in merged into “Platformer”").wait_for()

    later = [write_in(poll, "b", "platformer "), write_in(poll, "c", "PLATFORMER")]
    page.goto(write_ins)
    for ballot in later:
        page.locator(f"#write-in-{ballot.pk}").check()
    page.get_by_label("Merge the selected into").fill("Platformer")
    page.get_by_role("button", name="Merge…").click()
    page.get_by_text(
        "2 ballots will move from “Other” (2 votes now) to the existing choice “Platformer” "
        "(1 vote now)."
    ).wait_for()
    assert counts(poll)["Platformer"] == 1  # nothing moves before the editor confirms
    page.get_by_role("button", name="Yes, merge 2 ballots into “Platformer”").click()
    page.get_by_text("2 write-ins merged into “Platformer”: 2 votes moved there").wait_for()
    assert counts(poll) == {"Envoy": 0, "NGINX": 0, "Platformer": 3, "Other": 0}
    assert WriteInMove.objects.count() == 2
    assert {b.pk for b in WriteInMove.objects.get(votes_moved=2).ballots.all()} == {
        b.pk for b in later
    }
    assert first.pk not in [b.pk for b in later]
    context.close()
