"""Admin sign-in is throttled (django-axes, attempts stored in PostgreSQL)."""

import ipaddress
from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from polls.sign_in_throttle import address_stand_in, expired_attempts_forget
from tests.helpers import EDITOR_PASSWORD, make_editor

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
    assert AccessAttempt.objects.get().ip_address == address_stand_in("203.0.113.66")


def test_behind_a_proxy_each_reader_address_has_its_own_failures(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("10.0.0.0/8")]
    make_editor()
    via_proxy = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.7")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(via_proxy, "wrong")
    assert AccessAttempt.objects.get().ip_address == address_stand_in("198.51.100.7")
    other = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.8")
    assert sign_in(other, EDITOR_PASSWORD).status_code == 302


def test_the_addresses_of_one_ipv6_64_share_one_lockout():
    """Every IPv6 host has a /64 of its own: a new address per guess buys nothing."""
    make_editor()
    statuses = [
        sign_in(Client(REMOTE_ADDR=f"2001:db8:1:2::{n:x}"), "wrong").status_code
        for n in range(1, 21)
    ]
    assert statuses.count(200) == AXES_LIMIT - 1 and statuses[-1] == 429
    assert sign_in(Client(REMOTE_ADDR="2001:db8:1:2::abcd"), EDITOR_PASSWORD).status_code == 429
    # Another /64 is another network.
    assert sign_in(Client(REMOTE_ADDR="2001:db8:1:3::1"), EDITOR_PASSWORD).status_code == 302


def test_behind_a_proxy_the_addresses_of_one_ipv6_64_share_one_lockout(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("127.0.0.1/32")]
    make_editor()
    statuses = [
        sign_in(
            Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=f"2001:db8:7:8:{n:x}::1"), "wrong"
        ).status_code
        for n in range(1, 21)
    ]
    assert statuses[-1] == 429
    right = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="[2001:db8:7:8::99]:443")
    assert sign_in(right, EDITOR_PASSWORD).status_code == 429
    assert "_auth_user_id" not in right.session


def test_one_address_however_it_is_written_shares_one_lockout(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("10.0.0.0/8")]
    make_editor()
    spellings = ["198.51.100.9", "::ffff:198.51.100.9", "198.51.100.9:4711", "[::ffff:c633:6409]"]
    for spelling in spellings:
        via_proxy = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=spelling)
        assert sign_in(via_proxy, "wrong").status_code == 200
    # The fifth failure, from the address itself as a dual-stack socket reports it.
    assert sign_in(Client(REMOTE_ADDR="::ffff:198.51.100.9"), "wrong").status_code == 429
    assert sign_in(Client(REMOTE_ADDR="198.51.100.10"), EDITOR_PASSWORD).status_code == 302


def test_forwarded_entries_that_are_not_addresses_share_the_proxys_lockout(settings):
    """Garbage in X-Forwarded-For does not buy a lockout per string: the request is known by
    the proxy that wrote it."""
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("10.0.0.0/8")]
    make_editor()
    for n in range(AXES_LIMIT):
        sign_in(Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=f"garbage-{n}"), "wrong")
    via_garbage = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="unknown")
    assert sign_in(via_garbage, EDITOR_PASSWORD).status_code == 429
    assert AccessAttempt.objects.get().ip_address == address_stand_in("10.0.0.2")
    # A reader the proxy names properly is not affected.
    named = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.11")
    assert sign_in(named, EDITOR_PASSWORD).status_code == 302


def axes_rows() -> str:
    """Every row of django-axes' tables, as PostgreSQL stores it."""
    tables = ["axes_accessattempt", "axes_accesslog", "axes_accessfailurelog"]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(f"SELECT {table}::text FROM {table}" for table in tables))
        return "\n".join(row for (row,) in cursor.fetchall())


@pytest.mark.parametrize(
    ("address", "network_text"),
    [("203.0.113.66", "203.0.113"), ("2001:db8:abcd:12::66", "2001:db8:abcd:12")],
)
def test_a_failed_sign_in_keeps_neither_the_address_nor_the_form(address, network_text):
    make_editor()
    client = Client(REMOTE_ADDR=address)
    response = client.post(
        f"{LOGIN}?from=a-query-value",
        {
            "username": "editor",
            "password": "wrong-guess",
            "next": "/admin/",
            "csrfmiddlewaretoken": "a-csrf-token-value",
            "anything": "a-value-of-the-attackers-choosing",
        },
    )
    assert response.status_code == 200
    attempt = AccessAttempt.objects.get()
    assert attempt.failures_since_start == 1
    assert (attempt.get_data, attempt.post_data) == ("", "")
    stored = axes_rows()
    assert address not in stored and network_text not in stored
    for value in ("a-csrf-token-value", "a-value-of-the-attackers", "a-query-value", "wrong-guess"):
        assert value not in stored
    # A second failure adds no form data either.
    sign_in(client, "wrong-again")
    attempt.refresh_from_db()
    assert attempt.failures_since_start == 2 and attempt.post_data == ""


def test_successful_sign_ins_are_not_logged_by_default():
    make_editor()
    client = Client(REMOTE_ADDR="203.0.113.70")
    sign_in(client, "wrong")
    assert sign_in(client, EDITOR_PASSWORD).status_code == 302
    client.post(reverse("admin:logout"))
    assert not AccessLog.objects.exists() and not AccessFailureLog.objects.exists()
    assert "203.0.113" not in axes_rows()


def test_an_access_log_an_operator_turns_on_keeps_no_address(settings):
    settings.AXES_DISABLE_ACCESS_LOG = False
    make_editor()
    assert sign_in(Client(REMOTE_ADDR="203.0.113.71"), EDITOR_PASSWORD).status_code == 302
    assert AccessLog.objects.get().username == "editor"
    assert "203.0.113" not in axes_rows()


def test_the_upkeep_deletes_failed_sign_ins_once_their_cool_off_has_passed():
    """Without a later sign-in anywhere, axes would keep the typed username for good."""
    for username in ("typed-long-ago", "typed-just-now"):
        assert sign_in(Client(), "wrong", username=username).status_code == 200
    cool_off_ended = timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1)
    AccessAttempt.objects.filter(username="typed-long-ago").update(attempt_time=cool_off_ended)
    assert expired_attempts_forget() == 1
    assert list(AccessAttempt.objects.values_list("username", flat=True)) == ["typed-just-now"]
