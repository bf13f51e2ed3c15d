"""Admin sign-in is throttled (django-axes, attempts stored in PostgreSQL)."""

import ipaddress

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client
from django.urls import reverse

from tests.test_editor_helpers import EDITOR_PASSWORD, make_editor

pytestmark = pytest.mark.django_db

LOGIN = reverse("admin:login")
AXES_LIMIT = settings.AXES_FAILURE_LIMIT


def sign_in(client: Client, password: str, username: str = "editor"):
    return client.post(LOGIN, {"username": username, "password": password, "next": "/admin/"})


def test_after_too_many_failures_even_the_right_password_is_refused():
    make_editor()
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = sign_in(client, "wrong")
        assert response.status_code == 200
        assert "Please enter the correct username and password" in response.content.decode()
    locked = sign_in(client, "wrong")
    assert locked.status_code == 429
    assert "Too many failed sign-in attempts" in locked.content.decode()
    still_locked = sign_in(client, EDITOR_PASSWORD)
    assert still_locked.status_code == 429
    assert "_auth_user_id" not in client.session
    attempt = AccessAttempt.objects.get()
    assert (attempt.username, attempt.failures_since_start) == (
        "editor",
        settings.AXES_FAILURE_LIMIT + 1,
    )


def test_another_username_from_the_same_address_is_not_locked_out():
    make_editor()
    make_editor("colleague")
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "wrong")
    response = sign_in(Client(), EDITOR_PASSWORD, username="colleague")
    assert response.status_code == 302 and response["Location"] == "/admin/"


def test_a_successful_sign_in_resets_the_failures():
    make_editor()
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(client, "wrong")
    assert sign_in(client, EDITOR_PASSWORD).status_code == 302
    assert not AccessAttempt.objects.exists()


def test_it_warns_before_the_lockout_and_the_lockout_page_is_branded():
    make_editor()
    client = Client()
    texts = [sign_in(client, "wrong").content.decode() for _ in range(AXES_LIMIT - 1)]
    assert "more failed attempt" not in texts[0]
    assert (
        "2 more failed attempts and signing in as “editor” from this network is paused"
        in (texts[-2])
    )
    assert "1 more failed attempt and signing in as “editor”" in texts[-1]
    assert "for 15 minutes" in texts[-1]
    locked = sign_in(client, "wrong").content.decode()
    assert "<title>Too many sign-in attempts | The Daily Stack polls</title>" in locked
    assert "The Daily Stack polls</a>" in locked and "Django administration" not in locked


def test_behind_a_proxy_forged_addresses_do_not_lift_the_lockout(settings):
    """A client that reaches the app directly cannot pose as a new address per attempt."""
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("10.0.0.0/8")]
    make_editor()
    statuses = [
        sign_in(
            Client(REMOTE_ADDR="203.0.113.66", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}"), "wrong"
        ).status_code
        for n in range(settings.AXES_FAILURE_LIMIT + 3)
    ]
    assert statuses[-1] == 429 and statuses.count(429) == 4
    assert AccessAttempt.objects.get().ip_address == "203.0.113.66"


def test_behind_a_proxy_each_reader_address_has_its_own_failures(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("10.0.0.0/8")]
    make_editor()
    via_proxy = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.7")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(via_proxy, "wrong")
    assert AccessAttempt.objects.get().ip_address == "198.51.100.7"
    other = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.8")
    assert sign_in(other, EDITOR_PASSWORD).status_code == 302
