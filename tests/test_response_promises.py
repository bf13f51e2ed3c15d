"""What every kind of response promises, whichever middleware or view produced it: security
headers, private-unless-shared caching, the reader's language, and a 503 while the database is
unreachable. The kinds: a page, the widget, JSON, a vote's answer, the health check, the admin."""

import pytest
from django.db import OperationalError, connection
from django.test import Client

from tests.helpers import vote_form

pytestmark = pytest.mark.django_db

KINDS = ["page", "widget", "json", "vote answer", "health check", "admin"]


def request(kind: str, poll, client: Client | None = None, **headers):
    return prepared(kind, poll, client)(**headers)


def prepared(kind: str, poll, client: Client | None = None):
    """The request, ready to send: a vote's token and choice are read beforehand."""
    client = client or Client()
    form = vote_form(poll, choice=poll.choices.first().pk) if kind == "vote answer" else {}
    return lambda **headers: send(kind, poll, client, form, headers)


def send(kind: str, poll, client: Client, form: dict, headers: dict):
    if kind == "page":
        return client.get(f"/polls/{poll.slug}/", headers=headers)
    if kind == "widget":
        return client.get(f"/polls/{poll.slug}/embed/", headers=headers)
    if kind == "json":
        return client.get(f"/api/polls/{poll.slug}/results", headers=headers)
    if kind == "vote answer":
        return client.post(
            f"/polls/{poll.slug}/embed/vote/",
            form,
            headers={"Accept": "application/json", **headers},
        )
    if kind == "health check":
        return client.get("/healthz", headers=headers)
    if kind == "admin":
        return client.get("/admin/login/", headers=headers)
    raise ValueError(kind)


@pytest.mark.parametrize("kind", KINDS)
def test_every_response_carries_the_security_headers(kind, poll):
    response = request(kind, poll)
    assert response.status_code == 200
    assert all(type(name) is str for name, _ in response.items())  # as WSGI servers require
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    if kind in ("widget", "vote answer"):  # framed by publishers: EMBED_ALLOWED_ORIGINS
        assert "frame-ancestors *" in policy and "X-Frame-Options" not in response
    else:
        assert "frame-ancestors 'none'" in policy and response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


@pytest.mark.parametrize("kind", KINDS)
def test_every_response_is_private_unless_declared_shared(kind, poll):
    cache_control = request(kind, poll)["Cache-Control"]
    shared = "public" in cache_control
    assert shared or {"private", "no-store", "no-cache"} & {
        part.strip().split("=")[0] for part in cache_control.split(",")
    }
    if kind in ("vote answer", "health check", "admin"):
        assert not shared


@pytest.mark.parametrize("kind", KINDS)
def test_every_response_is_in_the_language_the_reader_asks_for(kind, poll):
    assert request(kind, poll, **{"Accept-Language": "de"})["Content-Language"] == "de"
    assert request(kind, poll, **{"Accept-Language": "fr"})["Content-Language"] == "en"


@pytest.mark.parametrize("kind", ["page", "widget", "json", "vote answer", "admin"])
def test_every_response_that_needs_the_database_is_a_503_while_it_is_unreachable(
    kind, poll, monkeypatch, django_user_model
):
    client = Client()
    if kind == "admin":
        client.force_login(django_user_model.objects.create_superuser("editor"))
    send_it = prepared(kind, poll, client)  # a vote's token is minted beforehand

    def unreachable(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", unreachable)
    monkeypatch.setattr(connection, "ensure_connection", unreachable)
    response = client.get("/admin/") if kind == "admin" else send_it()
    monkeypatch.undo()
    assert response.status_code == 503
    assert response["Retry-After"] == "5" and response["Cache-Control"] == "no-store"
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("kind", ["page", "widget", "json", "vote answer", "health check"])
def test_readers_get_no_session(kind, poll):
    response = request(kind, poll)
    assert "sessionid" not in response.cookies
    assert "Cookie" not in response.get("Vary", "") or kind != "health check"
