"""Fixtures; the plain functions the tests share are in tests/helpers.py."""

import importlib
import os
import shutil
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command

from polls import poll_cache, poll_listener
from polls.models import Poll
from tests.helpers import (
    REQUIRE_BROWSER,
    HostSite,
    eventually,
    listener_backends,
    make_poll,
    vnu_jar,
)

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
THEME_PERMISSIONS = importlib.import_module("polls.migrations.0022_themes").PERMISSIONS


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
    monkeypatch.setattr(poll_listener, "KEEPALIVE_SECONDS", 0.2)
    monkeypatch.setattr(poll_listener, "RECONNECT_SECONDS", 0.1)
    stop = poll_listener.start_listening()
    assert eventually(lambda: poll_cache.polls.listening), "the listener did not connect"
    yield poll_cache.polls
    stop.set()
    # The test database is dropped after the run: the listener's connection must be gone.
    assert eventually(lambda: not poll_cache.polls.listening)
    assert eventually(lambda: not listener_backends())


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
            # and 0018's and 0022's
            codename__in=[*migration.PERMISSIONS, "moderate_write_ins", *THEME_PERMISSIONS],
        )
    )


@pytest.fixture(scope="module")
def checker() -> list[str]:
    """The Nu HTML Checker's command line (vnu.jar, on Java)."""
    jar = vnu_jar()
    if not jar.exists() or not shutil.which("java"):
        message = f"The Nu HTML Checker needs Java and {jar} (make test fetches it)"
        if REQUIRE_BROWSER:
            pytest.fail(message)
        pytest.skip(message)
    return ["java", "-jar", str(jar)]
