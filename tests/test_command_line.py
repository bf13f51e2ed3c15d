"""What an operator meets at the command line: manage.py in a local checkout, set-up mistakes
told in one line, and gunicorn's start and stop as `make run` drives them."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from tests.helpers import gunicorn as start_gunicorn

ROOT = Path(__file__).resolve().parent.parent
# What pytest-env and CI put in the environment, gone: a newcomer's shell.
CONFIGURATION = {"SECRET_KEY", "ALLOWED_HOSTS", "DEBUG", "DATABASE_URL", "DATA_DIR"}


def shell_env(**variables: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in CONFIGURATION}
    return {**env, **variables}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


def local_checkout(tmp_path: Path) -> Path:
    """A data folder as `make run` leaves it: the secret key it generated."""
    (tmp_path / "secret_key").write_text("a-key-make-generated-for-this-checkout\n")
    return tmp_path


def test_manage_py_runs_in_a_local_checkout_as_make_run_does(tmp_path):
    env = shell_env(DATA_DIR=str(local_checkout(tmp_path)), DATABASE_URL="postgres://x@db/x")
    show = "from django.conf import settings as s; print(s.ALLOWED_HOSTS, s.SECURE_SSL_REDIRECT)"
    result = manage("shell", "-c", show, env=env)
    assert result.returncode == 0, result.stderr
    assert "['127.0.0.1', 'localhost'] False" in result.stdout


def test_without_make_s_key_production_s_checks_stand_and_say_so_in_one_line(tmp_path):
    env = shell_env(DATA_DIR=str(tmp_path), DATABASE_URL="postgres://x@db/x")
    result = manage("check", env=env)
    assert result.returncode == 1
    assert "pollsite: SECRET_KEY must be set when DEBUG is off" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreachable_database_url_is_one_short_message_naming_host_and_port(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free, and nothing listens on it
    env = shell_env(
        DATA_DIR=str(local_checkout(tmp_path)),
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{port}/pollsite",
    )
    result = manage("migrate", env=env)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"cannot connect to PostgreSQL at 127.0.0.1:{port} (from DATABASE_URL)" in result.stderr
    assert "unset DATABASE_URL to use the embedded PostgreSQL" in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 3


def database_url() -> str:
    """The test database, for a subprocess."""
    db = connection.settings_dict
    host = quote(db["HOST"] or "localhost", safe="")
    return f"postgres://{db['USER']}@{host}:{db['PORT']}/{db['NAME']}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def gunicorn(bind: str, tmp_path: Path, **variables: str) -> subprocess.Popen:
    env = shell_env(
        DATA_DIR=str(local_checkout(tmp_path)),
        DATABASE_URL=database_url(),
        SECRET_KEY="tests-only",
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="0",
        BIND=bind,
        **variables,
    )
    return start_gunicorn(env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.django_db
def test_a_busy_port_names_bind(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = gunicorn(f"127.0.0.1:{port}", tmp_path)
        output, _ = server.communicate(timeout=120)
    assert server.returncode != 0
    assert f"127.0.0.1:{port} is already in use" in output
    assert f"BIND=127.0.0.1:{port + 1} make run" in output


@pytest.mark.django_db(transaction=True)
def test_the_access_log_names_no_reader_address_and_no_referring_page(tmp_path):
    port = free_port()
    server = gunicorn(f"127.0.0.1:{port}", tmp_path, WEB_CONCURRENCY="1")
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/healthz",
            # From the trusted proxy (127.0.0.1): gunicorn's default line would log this address.
            headers={"X-Forwarded-For": "203.0.113.9", "Referer": "https://news.example/secret"},
        )
        for _ in range(300):
            try:
                urllib.request.urlopen(request, timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=120)
    logged = [line for line in output.splitlines() if '"GET /healthz HTTP/1.1" 200' in line]
    assert logged, output
    assert "203.0.113.9" not in output and "news.example" not in output
    assert not any(line.startswith("127.0.0.1") for line in logged), logged


@pytest.mark.django_db(transaction=True)
def test_ctrl_c_stops_every_worker_without_waiting_for_idle_connections(tmp_path):
    port = free_port()
    # Many threads: each connection a worker accepts while Ctrl-C lands may start one, which
    # is when gunicorn's own quick-stop handler deadlocked (it waits for a lock that the
    # interrupted thread start holds): this test hung in 2 runs of 6 before the fix.
    server = gunicorn(f"127.0.0.1:{port}", tmp_path, WEB_THREADS="300")
    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    for _ in range(50):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).read()
    workers = subprocess.run(
        ["pgrep", "-P", str(server.pid)], capture_output=True, text=True
    ).stdout.split()
    # Connections a browser opens ahead of time and never uses, still arriving at the stop.
    idle: list[socket.socket] = []

    def open_idle_connections() -> None:
        for _ in range(200):
            try:
                idle.append(socket.create_connection(("127.0.0.1", port), timeout=1))
            except OSError:
                return  # the server has stopped listening

    opener = threading.Thread(target=open_idle_connections)
    opener.start()
    time.sleep(0.05)
    # A terminal's Ctrl-C reaches the master and every worker.
    for pid in [server.pid, *map(int, workers)]:
        os.kill(pid, signal.SIGINT)
    opener.join()
    output, _ = server.communicate(timeout=120)
    for connection_ in idle:
        connection_.close()
    assert server.returncode == 0, output
    assert "SIGKILL" not in output and "Shutting down: Master" in output
