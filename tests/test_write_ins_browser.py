"""Write-ins in a real browser: our page without JavaScript, and the widget in WordPress's
sandboxed frame (no forms, no cookies, no origin), where it votes by fetch."""

import pytest

from polls.models import Ballot
from tests.cms_hosts import widget_frame, wordpress_host
from tests.helpers import write_in_poll

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

QUESTION = "Which proxy do you run at the edge?"


def test_without_javascript_a_reader_writes_in_on_our_page(browser, live_server):
    poll = write_in_poll()
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(live_server.url + poll.get_absolute_url())
    page.get_by_label("Other", exact=True).check()
    page.get_by_label("Other: your own answer").fill("Linkerd <b>2</b>")
    page.get_by_role("button", name="Vote").click()
    page.get_by_text("Thank you, your vote has been counted.").wait_for()
    ballot = Ballot.objects.get()
    assert (ballot.choice.text, ballot.write_in, ballot.write_in_status) == (
        "Other",
        "Linkerd <b>2</b>",
        "pending",
    )
    assert "Linkerd" not in page.content()
    context.close()


def test_a_reader_writes_in_inside_the_sandboxed_wordpress_frame(browser, live_server, host_site):
    poll = write_in_poll()
    page = browser.new_context().new_page()
    page.goto(wordpress_host(host_site, live_server, poll))
    frame = widget_frame(page)
    box = frame.get_by_label("Other: your own answer")
    box.wait_for()
    # Typing picks "Other"; Enter in the box votes, though the sandbox forbids forms.
    box.fill("Traefik")
    assert frame.get_by_label("Other", exact=True).is_checked()
    box.press("Enter")
    frame.get_by_text("Thank you, your vote was counted.").wait_for()
    ballot = Ballot.objects.get()
    assert (ballot.choice.text, ballot.write_in, ballot.source) == (
        "Other",
        "Traefik",
        Ballot.Source.EMBED_SANDBOXED,
    )
    assert "Traefik" not in frame.locator(".widget__results").inner_text()
    page.context.close()
