"""CPU time per request in one process: /healthz, the widget, the share card, the seen beacon
and a widget vote.

Not a test: figures for people, to compare two versions of the code on a machine whose speed
drifts (bench/run.py measures the real thing, over HTTP). Requests go straight to Django's WSGI
handler, one at a time, with production settings, against the benchmark's embedded PostgreSQL
(.data/bench/, or DATABASE_URL) and with the poll cache's listener running as in a gunicorn
worker. The endpoints take turns in rounds; each figure is the median over rounds of this
thread's CPU time per request (PostgreSQL's own work is not in it).

    .venv/bin/python bench/inprocess.py              # 5 rounds of 300 requests per endpoint
    .venv/bin/python bench/inprocess.py --rounds 9 --requests 500

Where the machine is too noisy for a small change to show, count instructions instead: run one
endpoint under callgrind with two request counts; the difference over the difference in requests
is that endpoint's instructions per request (minting its token included), whatever else the
machine does. --steady keeps the listener's timers out of it (they run by the clock, and
valgrind slows the clock's share). Run it once beforehand: a first run creates the database.

    for n in 50 550; do valgrind --tool=callgrind --callgrind-out-file=/dev/null \
      .venv/bin/python bench/inprocess.py --only "widget vote" --rounds 1 --requests $n --steady
    done 2>&1 | grep Collected      # (second - first) / 500 = instructions per widget vote
"""

import argparse
import io
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import run  # noqa: E402  (bench/run.py: the same settings and database as the load benchmark)
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402

from polls import poll_cache, poll_listener  # noqa: E402
from polls.voters import vote_token_issue  # noqa: E402

HOST = f"127.0.0.1:{run.PORT}"
ENDPOINTS = ["/healthz", "widget", "share card", "seen beacon", "widget vote", "no-JS vote"]


def wsgi_environ(path: str, method: str = "GET", body: bytes = b"") -> dict:
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": str(run.PORT),
        "HTTP_HOST": HOST,
        "HTTP_ORIGIN": f"http://{HOST}",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=300, help="per endpoint and round")
    parser.add_argument("--only", choices=ENDPOINTS, help="one endpoint alone")
    parser.add_argument(
        "--steady", action="store_true", help="listener timers off, for instruction counts"
    )
    args = parser.parse_args()

    poll = run.prepare_database()
    run.store_ballots(poll, run.BALLOT_LEVELS[0])
    choice_ids = list(poll.choices.order_by("position", "id").values_list("pk", flat=True))
    poll_listener.KEEPALIVE_SECONDS = 0.2  # so that the listener stops promptly at the end
    if args.steady:
        poll_listener.KEEPALIVE_SECONDS = poll_listener.ANNOUNCE_SECONDS = 3600
    stop_listening = poll_listener.start_listening()
    while not poll_cache.polls.listening:
        time.sleep(0.05)
    app = WSGIHandler()
    statuses = []

    def start_response(status: str, headers: list) -> None:
        statuses.append(status)

    def healthz(_: int) -> dict:
        return wsgi_environ("/healthz")

    def widget(_: int) -> dict:
        return wsgi_environ(f"/polls/{poll.slug}/embed/")

    def share_card(_: int) -> dict:
        return wsgi_environ(f"/polls/{poll.slug}/card.png")

    def seen_beacon(_: int) -> dict:
        return wsgi_environ(f"/polls/{poll.slug}/seen/", "POST", run.SEEN_BEACON.encode())

    def form_vote(index: int) -> dict:
        """The widget's form posted without JavaScript: the answer is the widget page."""
        token = quote(vote_token_issue(poll), safe="")
        body = f"choice={choice_ids[index % len(choice_ids)]}&token={token}".encode()
        return wsgi_environ(f"/polls/{poll.slug}/embed/vote/", "POST", body)

    def vote(index: int) -> dict:
        """As the widget's script votes: the answer is JSON."""
        return {**form_vote(index), "HTTP_ACCEPT": "application/json"}

    endpoints = {
        "/healthz": healthz,
        "widget": widget,
        "share card": share_card,
        "seen beacon": seen_beacon,
        "widget vote": vote,
        "no-JS vote": form_vote,
    }

    def cpu_ms_per_request(make_environ, count: int) -> float:
        environs = [make_environ(index) for index in range(count)]  # tokens minted beforehand
        started = time.thread_time()
        for environ in environs:
            b"".join(app(environ, start_response))
        return (time.thread_time() - started) / count * 1000

    assert list(endpoints) == ENDPOINTS
    if args.only:
        endpoints = {args.only: endpoints[args.only]}
    for make_environ in endpoints.values():
        cpu_ms_per_request(make_environ, 50)  # warm-up
    figures: dict[str, list[float]] = {name: [] for name in endpoints}
    for _ in range(args.rounds):
        for name, make_environ in endpoints.items():
            figures[name].append(cpu_ms_per_request(make_environ, args.requests))
    stop_listening.set()
    # Before the embedded PostgreSQL stops at exit; a steady listener waits for an hour, and
    # its thread ends with the process.
    while poll_cache.polls.listening and not args.steady:
        time.sleep(0.05)
    refused = [status for status in statuses if not status.startswith(("200", "204"))]
    if refused:
        sys.exit(f"requests failed: {sorted(set(refused))}")
    report(figures)


def report(figures: dict[str, list[float]]) -> None:
    ceiling = statistics.median(figures["/healthz"]) if "/healthz" in figures else None
    print(f"CPU per request, median of {len(next(iter(figures.values())))} rounds:")
    for name, runs in figures.items():
        median = statistics.median(runs)
        ratio = f"  {median / ceiling:5.1f} x /healthz" if ceiling else ""
        print(f"  {name:<12} {median:6.3f} ms{ratio}")


if __name__ == "__main__":
    main()
