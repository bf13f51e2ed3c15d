"""CPU time per request in one process: /healthz, the widget and a widget vote, side by side.

Not a test: figures for people, to compare two versions of the code on a machine whose speed
drifts (bench/run.py measures the real thing, over HTTP). Requests go straight to Django's WSGI
handler, one at a time, with production settings, against the benchmark's embedded PostgreSQL
(.data/bench/, or DATABASE_URL) and with the poll cache's listener running as in a gunicorn
worker. The endpoints take turns in rounds; each figure is the median over rounds of this
thread's CPU time per request (PostgreSQL's own work is not in it).

    .venv/bin/python bench/inprocess.py              # 5 rounds of 300 requests per endpoint
    .venv/bin/python bench/inprocess.py --rounds 9 --requests 500
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

from polls import poll_cache  # noqa: E402
from polls.vote_tokens import vote_token_issue  # noqa: E402

HOST = f"127.0.0.1:{run.PORT}"


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
    args = parser.parse_args()

    poll = run.prepare_database()
    run.store_ballots(poll, run.BALLOT_LEVELS[0])
    choice_ids = list(poll.choices.order_by("position", "id").values_list("pk", flat=True))
    poll_cache.KEEPALIVE_SECONDS = 0.2  # so that the listener stops promptly at the end
    stop_listening = poll_cache.start_listening()
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
        "widget vote": vote,
        "no-JS vote": form_vote,
    }

    def cpu_ms_per_request(make_environ, count: int) -> float:
        environs = [make_environ(index) for index in range(count)]  # tokens minted beforehand
        started = time.thread_time()
        for environ in environs:
            b"".join(app(environ, start_response))
        return (time.thread_time() - started) / count * 1000

    for make_environ in endpoints.values():
        cpu_ms_per_request(make_environ, 50)  # warm-up
    figures: dict[str, list[float]] = {name: [] for name in endpoints}
    for _ in range(args.rounds):
        for name, make_environ in endpoints.items():
            figures[name].append(cpu_ms_per_request(make_environ, args.requests))
    stop_listening.set()
    while poll_cache.polls.listening:  # before the embedded PostgreSQL stops at exit
        time.sleep(0.05)
    refused = [status for status in statuses if not status.startswith("200")]
    if refused:
        sys.exit(f"requests failed: {sorted(set(refused))}")
    ceiling = statistics.median(figures["/healthz"])
    print(f"CPU per request, median of {args.rounds} rounds of {args.requests}:")
    for name, runs in figures.items():
        median = statistics.median(runs)
        print(f"  {name:<12} {median:6.3f} ms  {median / ceiling:5.1f} x /healthz")


if __name__ == "__main__":
    main()
