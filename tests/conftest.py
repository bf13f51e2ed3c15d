import os
import shutil
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from polls import poll_cache
from polls.models import Article, Choice, Poll, Topic
from tests.helpers import HostSite, eventually

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def pytest_configure(config) -> None:
    """TEST_CLOCK_AHEAD_DAYS=365 runs the suite with this process's clock a year on, ticking
    from there: no test may depend on today's date. (time-machine moves the wall clock of
    Python, not the monotonic clock that waits and timeouts use; faketime moves both, and
    Python's waits on threads then never end.)"""
    days = os.environ.get("TEST_CLOCK_AHEAD_DAYS")
    if days:
        import time_machine

        ahead = datetime.now(UTC) + timedelta(days=int(days))
        time_machine.travel(ahead, tick=True).start()


# CI sets REQUIRE_BROWSER=1 so that a missing Chromium fails the run instead of skipping.
REQUIRE_BROWSER = os.environ.get("REQUIRE_BROWSER") == "1"


def make_poll(
    question: str = "Which proxy do you run at the edge?",
    choices: tuple[str, ...] = ("Envoy", "NGINX", "HAProxy"),
    *,
    slug: str | None = None,
    state: str = "open",
) -> Poll:
    now = timezone.now()
    schedule = {
        "open": {"status": Poll.Status.PUBLISHED, "opens_at": now - timedelta(days=1)},
        "draft": {"status": Poll.Status.DRAFT, "opens_at": now - timedelta(days=1)},
        "scheduled": {"status": Poll.Status.PUBLISHED, "opens_at": now + timedelta(days=1)},
        "closed": {
            "status": Poll.Status.PUBLISHED,
            "opens_at": now - timedelta(days=3),
            "closes_at": now - timedelta(days=1),
        },
    }[state]
    poll = Poll.objects.create(
        question=question, slug=slug or f"{state}-{Poll.objects.count() + 1}", **schedule
    )
    for position, text in enumerate(choices, start=1):
        Choice.objects.create(poll=poll, text=text, position=position)
    return poll


def make_article(title: str, *, topics: tuple[str, ...] = (), days_ago: int = 1, **fields):
    article = Article.objects.create(
        title=title,
        slug=fields.pop("slug", title.lower().replace(" ", "-")),
        author=fields.pop("author", "Test desk"),
        published_on=timezone.localdate() - timedelta(days=days_ago),
        summary=fields.pop("summary", f"About {title}."),
        **fields,
    )
    for name in topics:
        topic, _ = Topic.objects.get_or_create(name=name, slug=name.lower().replace(" ", "-"))
        article.topics.add(topic)
    return article


def seed_reader_pages() -> Article:
    """The seeded poll and articles plus a closed poll, so every reader page has content.
    Returns the article that carries the seeded poll."""
    call_command("seed")
    make_poll("Did you move off Kubernetes last year?", ("Yes", "No"), state="closed")
    return Article.objects.select_related("poll").get(poll__isnull=False)


def snapshot() -> tuple:
    """Everything a vote could change: the counters, the ballots and the polls."""
    from polls.models import Ballot

    return (
        sorted(Choice.objects.values_list("pk", "votes")),
        sorted(Ballot.objects.values_list("pk", "poll_id", "choice_id", "voter_hash")),
        sorted(Poll.objects.values_list("pk", "question", "status")),
    )


def counts(poll: Poll) -> dict[str, int]:
    return {choice.text: choice.votes for choice in poll.choices.all()}


@pytest.fixture(scope="session", autouse=True)
def collected_static_files():
    """Pages are served as in production: hashed file names from the collectstatic manifest."""
    call_command("collectstatic", interactive=False, verbosity=0)


@pytest.fixture(scope="session", autouse=True)
def live_server_serves_static_files_like_production():
    """Let WhiteNoise serve /static/ in the live server, as gunicorn does.

    Django's live server otherwise puts its own static handler in front, which looks files up
    by their source names and cannot serve the hashed names of the production manifest.
    """
    from django.contrib.staticfiles import handlers

    original = handlers.StaticFilesHandler
    handlers.StaticFilesHandler = lambda application: application
    yield
    handlers.StaticFilesHandler = original


@pytest.fixture
def poll(db) -> Poll:
    return make_poll()


@pytest.fixture
def listener(monkeypatch):
    """This process's poll cache listening, as in a gunicorn worker (use in transaction tests:
    PostgreSQL announces a change when it commits)."""
    monkeypatch.setattr(poll_cache, "KEEPALIVE_SECONDS", 0.2)
    monkeypatch.setattr(poll_cache, "RECONNECT_SECONDS", 0.1)
    stop = poll_cache.start_listening()
    assert eventually(lambda: poll_cache.polls.listening), "the listener did not connect"
    yield poll_cache.polls
    stop.set()
    # The test database is dropped after the run: the listener's connection must be gone.
    assert eventually(lambda: not poll_cache.polls.listening)
    assert eventually(lambda: not listener_backends())


def listener_backends() -> list[int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s AND datname = %s",
            [poll_cache.APPLICATION_NAME, connection.settings_dict["NAME"]],
        )
        return [pid for (pid,) in cursor.fetchall()]


# The session's browser, once a test has asked for it.
launched_browsers: list = []


@pytest.fixture(autouse=True)
def no_page_left_open():
    """A page a test leaves open keeps running its scripts (the widget asks for its results
    every 5 s) through later tests, against the session's live server."""
    yield
    for browser in launched_browsers:
        for context in browser.contexts:
            context.close()


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        message = f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)"
        if REQUIRE_BROWSER:
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        launched_browsers.append(browser)
        yield browser
        launched_browsers.remove(browser)
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def host_site():
    """Someone else's news site, on another site than the live server (127.0.0.1 against
    localhost), so the widget is a cross-site iframe there."""
    site = HostSite()
    yield site
    site.server.shutdown()
