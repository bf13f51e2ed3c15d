"""Helpers for the editors' admin tests (kept out of conftest.py, which belongs to the readers)."""

import importlib

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from polls import voters
from polls.models import Ballot, Poll
from polls.services import ballot_cast

EDITOR_PASSWORD = "a-long-editor-passphrase-42"


def make_editor(username: str = "editor") -> User:
    user = User.objects.create_user(username, f"{username}@news.example", EDITOR_PASSWORD)
    user.is_staff = True
    user.save()
    user.groups.add(Group.objects.get(name="Poll editors"))
    return user


def editor_client() -> Client:
    client = Client()
    client.force_login(User.objects.filter(username="editor").first() or make_editor())
    return client


def vote(poll: Poll, choice_text: str, voter: str, **where) -> Ballot:
    return ballot_cast(
        poll=poll,
        choice=poll.choices.get(text=choice_text),
        voter_hash=voters.voter_hash(voter),
        **where,
    )


def change_form_data(poll: Poll, **overrides) -> dict:
    """The POST of the poll's change form as it is now, with `overrides` (field names as posted)."""
    opens_at = timezone.localtime(poll.opens_at)
    closes_at = timezone.localtime(poll.closes_at) if poll.closes_at else None
    choices = list(poll.choices.all())
    data = {
        "question": poll.question,
        "slug": poll.slug,
        "status": poll.status,
        "opens_at_0": opens_at.strftime("%Y-%m-%d"),
        "opens_at_1": opens_at.strftime("%H:%M:%S"),
        "closes_at_0": closes_at.strftime("%Y-%m-%d") if closes_at else "",
        "closes_at_1": closes_at.strftime("%H:%M:%S") if closes_at else "",
        "articles": [str(pk) for pk in poll.articles.values_list("pk", flat=True)],
        "choices-TOTAL_FORMS": str(len(choices)),
        "choices-INITIAL_FORMS": str(len(choices)),
        "choices-MIN_NUM_FORMS": "2",
        "choices-MAX_NUM_FORMS": "1000",
    }
    data["results_shown"] = poll.results_shown
    data["max_answers"] = str(poll.max_answers)
    if poll.shuffle_choices:
        data["shuffle_choices"] = "on"
    if poll.percentages_only:
        data["percentages_only"] = "on"
    for index, choice in enumerate(choices):
        data[f"choices-{index}-id"] = str(choice.pk)
        data[f"choices-{index}-poll"] = str(poll.pk)
        data[f"choices-{index}-position"] = str(choice.position)
        data[f"choices-{index}-text"] = choice.text
        if choice.stays_last:
            data[f"choices-{index}-stays_last"] = "on"
    data.update(overrides)
    return data


@pytest.fixture
def editors_group(transactional_db) -> None:
    """The "Poll editors" group, as its data migrations make it, for browser tests.

    The live server needs committed data, and the flush after each transactional test empties
    every table, the migration's group included (serialized_rollback does not help here: its
    snapshot hangs off a database connection that Playwright's event loop does not see).
    """
    migration = importlib.import_module("polls.migrations.0006_poll_editors_group")
    group, _ = Group.objects.get_or_create(name=migration.GROUP_NAME)
    group.permissions.set(
        Permission.objects.filter(
            content_type__app_label="polls",
            codename__in=[*migration.PERMISSIONS, "moderate_write_ins"],  # and 0018's
        )
    )


def signed_in_editor_page(
    browser, live_server, *, width: int = 1366, user: User | None = None, **context_options
):
    """A browser page signed in to the admin as a poll editor (`user`, or a new one), `width`
    CSS pixels wide."""
    user = user or make_editor()
    context = browser.new_context(viewport={"width": width, "height": 900}, **context_options)
    page = context.new_page()
    page.goto(live_server.url + reverse("admin:index"))
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(EDITOR_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Polls and articles").wait_for()
    return context, page
