"""Plain functions the test modules share; fixtures live in conftest.py."""

import csv
import io
import json
import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.http import HttpResponse, StreamingHttpResponse
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from polls import poll_listener, voters
from polls.models import Article, Ballot, Choice, Poll, Topic
from polls.services import ballot_cast
from polls.voters import vote_token_issue

ROOT = Path(__file__).resolve().parent.parent
# Settings a production run reads; manage() leaves them out unless a test passes them.
PRODUCTION_VARIABLES = (
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "SITE_URL",
    "SECURE_COOKIES",
    "SECURE_SSL_REDIRECT",
)


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    # Only the test process relaxes Django's async guard (see pyproject.toml).
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in PRODUCTION_VARIABLES and k != "DJANGO_ALLOW_ASYNC_UNSAFE"
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**environment, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


class HostSite:
    """A news site of someone else's, serving the article pages the test writes."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = site.pages.get(self.path.split("?")[0])
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write((body or "not found").encode())

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def article(self, path: str, embeds: str, *, head: str = "", column: int = 680) -> str:
        self.pages[path] = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Host article</title>{head}
<style>body{{font:18px/1.5 Georgia,serif;max-width:{column}px;margin:0 auto;padding:16px}}
@media (prefers-color-scheme: dark){{body{{background:#111;color:#eee}}}}</style></head>
<body><h1>Elsewhere News: the service mesh, five years on</h1>
<p>An article on another site that embeds a reader poll.</p>{embeds}
<p>The article continues below the poll.</p></body></html>"""
        return self.url + path


def gunicorn(env: dict, **popen) -> subprocess.Popen:
    """The site under gunicorn with the project's settings (pollsite/gunicorn_conf.py), as
    `make run` serves it; popen: where its output goes."""
    command = [str(Path(sys.executable).parent / "gunicorn"), "--config"]
    return subprocess.Popen(
        [*command, "python:pollsite.gunicorn_conf", "pollsite.wsgi"], cwd=ROOT, env=env, **popen
    )


def eventually(condition, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


# CI sets REQUIRE_BROWSER=1 so that a missing Chromium fails the run instead of skipping.
REQUIRE_BROWSER = os.environ.get("REQUIRE_BROWSER") == "1"


# Readers' side: polls, articles, votes.


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


def write_in_poll(max_answers: int = 1, **kwargs) -> Poll:
    """A poll of Envoy and NGINX with "Other", where readers write their own answer."""
    poll = make_poll(choices=("Envoy", "NGINX"), **kwargs)
    Choice.objects.create(poll=poll, text="Other", position=3, is_write_in=True, stays_last=True)
    if max_answers > 1:
        poll.max_answers = max_answers
        poll.save()
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


def vote_form(poll: Poll, **fields) -> dict:
    """A vote form's fields as our pages send them: with a fresh single-use token."""
    return {"token": vote_token_issue(poll), **fields}


def vote(
    poll: Poll,
    *choice_texts: str,
    voter: str | None = None,
    client: Client | None = None,
    widget: bool = False,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    follow: bool = False,
    **fields,
) -> Ballot | HttpResponse:
    """A vote for the choices named `choice_texts` (none: a vote that picks nothing).

    With `voter`, a reader's name: their ballot, cast straight into the database and returned;
    `fields` go with it (`source`, `article`, `write_in`, ...).

    With `client`: the vote as that reader's browser posts it, from our poll page's form or,
    with `widget=True`, from the widget (same origin, as its script sends it), with a fresh
    token unless `token` is given; `fields` are more form fields. Returns the response (with
    `follow=True`, the page it redirects to).
    """
    if (voter is None) == (client is None):
        raise TypeError("vote() takes a voter's name or a client, one of the two")
    choices = [poll.choices.get(text=text) for text in choice_texts]
    if voter is not None:
        return ballot_cast(
            poll=poll, choices=choices, voter_hash=voters.voter_hash(voter), **fields
        )
    form = {"token": vote_token_issue(poll) if token is None else token}
    if choices:
        form["choice"] = [str(choice.pk) for choice in choices]
    form.update(fields)
    if widget:
        url = reverse("polls:embed_vote", args=[poll.slug])
        headers = {
            "Origin": "http://testserver",
            "Sec-Fetch-Site": "same-origin",
            **(headers or {}),
        }
    else:
        url = reverse("polls:vote", args=[poll.slug])
    return client.post(url, form, headers=headers, follow=follow)


def counts(poll: Poll) -> dict[str, int]:
    return {choice.text: choice.votes for choice in poll.choices.all()}


def snapshot() -> tuple:
    """Everything a vote could change: the counters, the ballots and the polls."""
    return (
        sorted(Choice.objects.values_list("pk", "votes")),
        sorted(Ballot.objects.values_list("pk", "poll_id", "choice_id", "voter_hash")),
        sorted(Poll.objects.values_list("pk", "question", "status")),
    )


def listener_backends() -> list[int]:
    """The PostgreSQL connections of the poll cache's listener in this test database."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s AND datname = %s",
            [poll_listener.APPLICATION_NAME, connection.settings_dict["NAME"]],
        )
        return [pid for (pid,) in cursor.fetchall()]


# Editors' side: the admin.

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


def poll_form(**overrides) -> dict:
    """The POST of the admin's form for a new poll, with `overrides` (field names as posted)."""
    data = {
        "question": "Which service mesh do you run?",
        "slug": "which-service-mesh",
        "status": "published",
        "max_answers": "1",
        "results_shown": "after_voting",
        "opens_at_0": "2024-01-01",
        "opens_at_1": "09:00:00",
        "closes_at_0": "",
        "closes_at_1": "",
        "choices-TOTAL_FORMS": "3",
        "choices-INITIAL_FORMS": "0",
        "choices-MIN_NUM_FORMS": "2",
        "choices-MAX_NUM_FORMS": "1000",
        "choices-0-position": "2",
        "choices-0-text": "Linkerd",
        "choices-1-position": "1",
        "choices-1-text": "Istio",
        "choices-2-position": "3",
        "choices-2-text": "None yet",
    }
    data.update(overrides)
    return data


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


def poll_change(poll: Poll, client: Client | None = None, **overrides) -> HttpResponse:
    """The poll's change form posted by an editor, as it is now but for `overrides`."""
    client = client or editor_client()
    url = reverse("admin:polls_poll_change", args=[poll.pk])
    return client.post(url, change_form_data(poll, **overrides))


def refused(response: HttpResponse, message: str) -> bool:
    """The admin answered with its form again, saying `message`."""
    return response.status_code == 200 and message in response.content.decode()


def export(url_name: str, poll: Poll) -> HttpResponse:
    return editor_client().get(reverse(url_name, args=[poll.pk]))


def csv_rows(response: HttpResponse) -> list[list[str]]:
    """The rows of a CSV export, checked to be one as spreadsheets open it (UTF-8, with BOM)."""
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:])))


# The Nu HTML Checker (`make test` fetches it from the npm registry into .data/).


def vnu_jar() -> Path:
    """Where vnu.jar is: VNU_JAR, or the newest one under .data/."""
    if os.environ.get("VNU_JAR"):
        jar = Path(os.environ["VNU_JAR"])
        return jar if jar.is_absolute() else ROOT / jar
    found = sorted(ROOT.glob(".data/vnu-*/vnu.jar"))
    return found[-1] if found else ROOT / ".data" / "vnu.jar"


def validation_errors(checker: list[str], pages: dict[str, str], folder: Path) -> dict:
    """The checker's errors per page name, for `pages` (name: HTML) written into `folder`."""
    files = []
    for name, html in pages.items():
        path = folder / f"{name}.html"
        path.write_text(html)
        files.append(str(path))
    run = subprocess.run(
        [*checker, "--format", "json", "--exit-zero-always", *files],
        capture_output=True,
        text=True,
        check=True,
    )
    errors: dict[str, list[str]] = {}
    for message in json.loads(run.stderr)["messages"]:
        if message["type"] in ("error", "non-document-error"):
            name = Path(message.get("url", "?")).stem
            errors.setdefault(name, []).append(
                f"line {message.get('lastLine')}: {message['message']} {message.get('extract', '')}"
            )
    return errors
