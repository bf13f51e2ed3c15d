"""Where a request's CPU goes under load: PostgreSQL, the gunicorn workers, and wrk.

Not a test: figures for people. Starts the site as bench/run.py does (2 gthread workers), and
the Django tutorial's app where a tutorial row is named, warms an endpoint up, then drives it for
a few seconds and reads the CPU time each side used: the embedded PostgreSQL's processes (both
apps' databases live in it) and the app's gunicorn from /proc (Linux), wrk's as this process's
child. Needs the embedded PostgreSQL (DATABASE_URL unset).

    DATA_DIR=/tmp/bench-mine .venv/bin/python bench/cpu_shares.py vote_spread_many vote_hot
    .venv/bin/python bench/cpu_shares.py vote_spread tutorial_vote vote_spread tutorial_vote
"""

import argparse
import os
import resource
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run  # bench/run.py: the same settings, database and server
from django.conf import settings


def cpu_ticks(server_pid: int, leave_out: frozenset[int] = frozenset()) -> dict[str, int]:
    """CPU time (clock ticks) of our PostgreSQL and of the gunicorn master with its workers;
    leave_out: processes not to count (the wait sampler's own backend)."""
    data_dir = settings.DATABASES["default"]["HOST"] or ""
    processes = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue  # ended meanwhile
        processes[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]), command)
    # The embedded postmaster runs with -D <data dir>, which is also its socket directory (HOST).
    postmasters = {
        pid
        for pid, (_, _, command) in processes.items()
        if "bin/postgres" in command and f"-D {data_dir} " in command
    }
    ticks = {"postgres": 0, "gunicorn": 0}
    for pid, (parent, used, _) in processes.items():
        if pid in leave_out:
            continue
        if pid in postmasters or parent in postmasters:
            ticks["postgres"] += used
        elif server_pid in (pid, parent):
            ticks["gunicorn"] += used
    return ticks


def machine_ticks() -> tuple[int, int]:
    """Busy and idle (idle + iowait) clock ticks of the whole machine (/proc/stat)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, idle


def children_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class WaitSampler(threading.Thread):
    """What the database's client backends are doing, sampled every few milliseconds.

    Each sample reads pg_stat_activity; a backend is active (running or waiting on a lock, on
    the WAL's flush, ...) or idle (waiting for the app's next statement: ClientRead).
    """

    def __init__(self, interval: float = 0.005) -> None:
        super().__init__(daemon=True)
        self.interval, self.samples, self.states = interval, 0, Counter()
        self.stopping = threading.Event()
        # Its own backend's CPU is left out of PostgreSQL's figure (cpu_ticks).
        self.backend_pids: frozenset[int] = frozenset()

    def run(self) -> None:
        import psycopg

        database = settings.DATABASES["default"]
        with psycopg.connect(
            host=database["HOST"],
            port=database["PORT"] or None,
            user=database["USER"],
            dbname=database["NAME"],
            autocommit=True,
        ) as connection:
            self.backend_pids = frozenset({connection.info.backend_pid})
            while not self.stopping.wait(self.interval):
                rows = connection.execute(
                    "SELECT state, wait_event_type, wait_event FROM pg_stat_activity"
                    " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
                ).fetchall()
                self.samples += 1
                for state, wait_type, wait in rows:
                    key = f"{state}: {wait_type}/{wait}" if wait_type else f"{state}: on CPU"
                    self.states[key] += 1

    def report(self) -> None:
        self.stopping.set()
        self.join()
        print(f"  database backends, on average over {self.samples} samples:")
        for key, count in self.states.most_common(8):
            print(f"    {count / self.samples:5.2f}  {key}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("endpoints", nargs="+", help="names from bench/run.py, e.g. vote_hot")
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument(
        "--waits", action="store_true", help="also sample what the database backends wait on"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", default="gthread", choices=["gthread", "sync"])
    parser.add_argument(
        "--threads", type=int, default=run.GTHREAD_THREADS, help="per gthread worker"
    )
    args = parser.parse_args()
    if os.environ.get("DATABASE_URL"):
        sys.exit("needs the embedded PostgreSQL: unset DATABASE_URL")
    poll = run.prepare_database()
    run.store_ballots(poll, run.BALLOT_LEVELS[0])
    known = {endpoint.name: endpoint for endpoint in run.endpoints(poll.slug)}
    hertz = os.sysconf("SC_CLK_TCK")
    run.GTHREAD_THREADS = args.threads
    config = run.Config(args.worker_class, args.workers)
    server = run.start_server(config)
    print(f"pollsite: {config.label}")
    tutorial = None
    try:
        if any(known[name].tutorial for name in args.endpoints):
            tutorial = run.start_tutorial()
        for name in args.endpoints:
            endpoint = known[name]
            app = tutorial if endpoint.tutorial else server
            run.measure(poll, app, endpoint, 1, run.MAX_VOTE_RPS)
            machine_before = machine_ticks()
            sampler = WaitSampler() if args.waits else None
            before, wrk_before, started = cpu_ticks(app.pid), children_seconds(), time.time()
            if sampler:
                sampler.start()
            figure = run.measure(poll, app, endpoint, args.seconds, run.MAX_VOTE_RPS)
            leave_out = sampler.backend_pids if sampler else frozenset()
            after, wall = cpu_ticks(app.pid, leave_out), time.time() - started
            busy, idle = (b - a for b, a in zip(machine_ticks(), machine_before, strict=True))
            used = {side: (after[side] - before[side]) / hertz for side in after}
            used["wrk"] = children_seconds() - wrk_before
            requests = figure.rps * args.seconds
            print(
                f"{endpoint.label}: {figure.rps:,.0f} req/s; the machine's {os.cpu_count()} cores"
                f" {busy / hertz / wall:.2f} busy, {idle / hertz / wall:.2f} idle"
            )
            for side, seconds in used.items():
                print(
                    f"  {side:<9} {seconds / wall:5.2f} cores"
                    f"  {seconds / requests * 1000:6.3f} ms CPU per request"
                )
            if sampler:
                sampler.report()
    finally:
        run.stop_server(server)
        if tutorial is not None:
            run.stop_server(tutorial)


if __name__ == "__main__":
    main()
