"""`manage.py create_editor` (and `make editor`): an editor account from the terminal."""

import os
import subprocess

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from tests.helpers import ROOT, manage

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-staple-7"


@pytest.fixture
def terminal(monkeypatch):
    """A person at a terminal: the command may ask for the password."""
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)


def test_without_a_terminal_it_points_to_editor_password(monkeypatch):
    monkeypatch.delenv("EDITOR_PASSWORD", raising=False)
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    with pytest.raises(CommandError, match="No terminal to ask for the password: set EDITOR_PA"):
        call_command("create_editor", "sam")
    assert not User.objects.filter(username="sam").exists()


def test_it_creates_a_staff_editor_who_can_run_polls(monkeypatch, capsys):
    monkeypatch.setenv("EDITOR_PASSWORD", PASSWORD)
    call_command("create_editor", "jane", "--email", "jane@news.example")
    assert "Created jane" in capsys.readouterr().out
    jane = User.objects.get(username="jane")
    assert jane.is_staff and not jane.is_superuser and jane.email == "jane@news.example"
    assert list(jane.groups.values_list("name", flat=True)) == ["Poll editors"]
    client = Client()
    response = client.post(reverse("admin:login"), {"username": "jane", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("admin:polls_poll_add")).status_code == 200


def test_it_asks_for_the_password_twice(monkeypatch, terminal):
    answers = iter([PASSWORD, PASSWORD])
    monkeypatch.delenv("EDITOR_PASSWORD", raising=False)
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    call_command("create_editor", "sam")
    assert User.objects.get(username="sam").check_password(PASSWORD)


def test_it_refuses_differing_or_weak_passwords(monkeypatch, terminal):
    monkeypatch.delenv("EDITOR_PASSWORD", raising=False)
    answers = iter([PASSWORD, PASSWORD + "x"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    with pytest.raises(CommandError, match="The two passwords differ"):
        call_command("create_editor", "sam")
    monkeypatch.setenv("EDITOR_PASSWORD", "12345678")
    with pytest.raises(CommandError, match="too common"):
        call_command("create_editor", "sam")
    assert not User.objects.filter(username="sam").exists()


def test_it_adds_an_existing_account_to_the_editors(monkeypatch, capsys):
    User.objects.create_user("kim", password="old-password-that-is-long")
    monkeypatch.setenv("EDITOR_PASSWORD", PASSWORD)
    call_command("create_editor", "kim")
    kim = User.objects.get(username="kim")
    assert "Updated kim" in capsys.readouterr().out
    assert kim.is_staff and kim.groups.filter(name="Poll editors").exists()
    assert kim.check_password(PASSWORD)


def test_with_data_dir_set_manage_py_finds_the_key_make_made_there(tmp_path):
    """`make editor` and `manage.py create_editor` agree on where the secret key is, with a
    DATA_DIR of the operator's (the command asked for SECRET_KEY where make did not)."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "DEBUG")
    }
    env["DATA_DIR"] = str(tmp_path)
    # -o: the virtual environment counts as set up, whatever its age.
    made = subprocess.run(
        ["make", "-s", "-o", ".venv/.installed", f"{tmp_path}/secret_key"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    key = (tmp_path / "secret_key").read_text().strip()
    show = "from django.conf import settings; print(settings.SECRET_KEY)"
    result = manage(
        "shell", "-c", show, **{"DATA_DIR": str(tmp_path), "DATABASE_URL": "postgres://x@db/x"}
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == key
