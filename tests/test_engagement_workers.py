"""Seen beacons over real HTTP against gunicorn with two workers: every beacon is counted, and
the database is written once per worker, poll, site, page and hour, not once per beacon.

The site runs as production does (gunicorn, DEBUG off) in a database of its own on the
suite's PostgreSQL server, made afresh for the test, so its table statistics count only the
writes of this run.
"""

import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote, urlencode

import psycopg
import pytest
from django.db import connection

from tests.helpers import eventually, gunicorn

ROOT = Path(__file__).resolve().parent.parent
SLUG = "openai-turmoil-gpt-plans-2024"
BEACONS = 10_000
PAGES = ["/2026/edge", "/2026/mesh", "/2026/sidecars", ""]  # "": a page unknown


def server_url(database: str) -> str:
    """A database on the tests' PostgreSQL server: DATABASE_URL's, or the embedded one."""
    params = connection.get_connection_params()  # starts the embedded server if need be
    credentials = quote(params.get("user") or "", safe="")
    if params.get("password"):
        credentials += ":" + quote(params["password"], safe="")
    host = quote(params.get("host") or "localhost", safe="")
    return f"postgres://{credentials}@{host}:{params.get('port') or 5432}/{database}"


class Site:
    def __init__(self, database: str, flush_seconds: int) -> None:
        with psycopg.connect(server_url("postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{database}"')
        self.database_url = server_url(database)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "BIND": f"127.0.0.1:{self.port}",
            "WEB_CONCURRENCY": "2",
            "ACCESS_LOG": "off",
            "SECURE_SSL_REDIRECT": "0",
            "SECURE_COOKIES": "0",
            # Every beacon comes from 127.0.0.1: no cap for this test.
            "SEEN_PER_MINUTE": "1000000",
            "SEEN_FLUSH_SECONDS": str(flush_seconds),
        }
        env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        for command in (["migrate", "--no-input", "-v0"], ["seed"]):
            subprocess.run(
                [sys.executable, "manage.py", *command],
                cwd=ROOT,
                env=env,
                check=True,
                capture_output=True,
            )
        self.gunicorn = gunicorn(env, stderr=subprocess.DEVNULL)
        assert eventually(self.answers, seconds=30), "gunicorn did not start"

    def answers(self) -> bool:
        try:
            return urllib.request.urlopen(self.url + "/healthz", timeout=1).status == 200
        except OSError:
            return False

    def beacon(self, host_path: str) -> int:
        body = urlencode(
            {"source": "embed", "host_origin": "https://news.example", "host_path": host_path}
        ).encode()
        request = urllib.request.Request(
            f"{self.url}/polls/{SLUG}/seen/",
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    def query(self, sql: str) -> list[tuple]:
        with psycopg.connect(self.database_url) as conn:
            return conn.execute(sql).fetchall()

    def inserts_and_updates(self) -> tuple[int, int]:
        """Rows PostgreSQL inserted and updated in the seen table, as its statistics say. Two
        workers flushing at once may both try to insert a row: the loser's attempt counts as
        an insert too, before it updates the row instead."""
        return self.query(
            "SELECT n_tup_ins, n_tup_upd FROM pg_stat_user_tables WHERE relname = 'polls_seencount'"
        )[0]

    def stop(self) -> None:
        """gunicorn's graceful stop (docker stop): each worker flushes on its way out."""
        self.gunicorn.send_signal(signal.SIGTERM)
        self.gunicorn.wait(timeout=60)


@pytest.fixture
def site(request):
    database = "pollsite_engagement_workers_" + str(os.getpid())
    # By default no timed flush during the run: the only writes are the flushes at exit.
    site = Site(database, getattr(request, "param", 3600))
    yield site
    if site.gunicorn.poll() is None:
        site.gunicorn.kill()
        site.gunicorn.wait()
    with psycopg.connect(server_url("postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def test_ten_thousand_beacons_across_two_workers_are_all_counted_in_few_writes(site):
    paths = [PAGES[n % len(PAGES)] for n in range(BEACONS)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = Counter(pool.map(site.beacon, paths))
    assert answers == {204: BEACONS}
    # Counted in the workers' memory: nothing written yet.
    assert site.query("SELECT count(*) FROM polls_seencount") == [(0,)]

    site.stop()

    rows = site.query("SELECT host_path, hour, seen FROM polls_seencount")
    per_page = Counter()
    for host_path, _hour, seen in rows:
        per_page[host_path] += seen
    assert per_page == Counter({path: BEACONS // len(PAGES) for path in PAGES})
    # One row per page and hour (a run that spans the turn of an hour has more rows); each
    # worker wrote each row at most once, in its one flush: one inserted it, the other at
    # most updated it.
    assert eventually(lambda: site.inserts_and_updates()[0] >= len(rows), seconds=10)
    _, updates = site.inserts_and_updates()
    assert updates <= len(rows)


@pytest.mark.parametrize("site", [1], indirect=True)
def test_the_workers_write_what_they_counted_every_few_seconds_while_running(site):
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = Counter(pool.map(site.beacon, ["/2026/edge"] * 200))
    assert answers == {204: 200}
    assert eventually(
        lambda: site.query("SELECT coalesce(sum(seen), 0) FROM polls_seencount") == [(200,)],
        seconds=20,
    )
