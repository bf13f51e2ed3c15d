"""Instructions per request that each middleware adds to a bare request, counted by callgrind.

Not a test: figures for people. A middleware's cost is what a request costs with the full
MIDDLEWARE setting less what it costs with that one left out, so each is measured in the
request it really runs in (the same URL, production settings, the views' own headers). Counted
by valgrind's callgrind, which the machine's load does not move: the script runs itself under
valgrind, marks each measured batch with a call to getppid() (where callgrind dumps its
counters), and reads the dumps back.

    .venv/bin/python bench/middleware_cost.py                 # /healthz, 200 requests each
    .venv/bin/python bench/middleware_cost.py --path /polls/<slug>/embed/ --requests 100

Run bench/inprocess.py once beforehand: it creates the benchmark's database, which pages need.
"""

import argparse
import gc
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UNDER_VALGRIND = "BENCH_UNDER_CALLGRIND"
# Left out together: the authentication middleware refuses to run without sessions.
NEEDS = {
    "django.contrib.sessions.middleware.SessionMiddleware": [
        "django.contrib.auth.middleware.AuthenticationMiddleware"
    ]
}


def short(name: str) -> str:
    return name.rsplit(".", 1)[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", default="/healthz")
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    if os.environ.get(UNDER_VALGRIND):
        measure(args.path, args.requests)
    else:
        report(args)


def report(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "callgrind.out"
        command = [
            *("valgrind", "--tool=callgrind", "--dump-before=getppid"),
            f"--callgrind-out-file={out}",
            *(sys.executable, __file__, "--path", args.path, "--requests", str(args.requests)),
        ]
        env = {**os.environ, UNDER_VALGRIND: "1"}
        run = subprocess.run(command, env=env, capture_output=True, text=True)
        if run.returncode:
            sys.exit(run.stderr[-3000:])
        labels = run.stdout.split("\n")
        labels = [line.removeprefix("BATCH ") for line in labels if line.startswith("BATCH ")]
        # Dumps are numbered from 1 in the order of the calls: the first of each pair closes
        # the warm-up, the second the measured batch.
        totals = [dump_total(Path(f"{out}.{n}")) for n in range(2, 2 * len(labels) + 1, 2)]
    per_request = dict(zip(labels, (t / args.requests for t in totals), strict=True))
    full = per_request.pop("all middleware")
    bare = per_request.pop("no middleware")
    print(f"{args.path}, instructions per request (callgrind, {args.requests} requests each)")
    print(f"  {'all middleware':<50} {full:>10,.0f}")
    print(f"  {'no middleware (the handler, URL and view)':<50} {bare:>10,.0f}")
    for name, without in per_request.items():
        print(f"  {name.removeprefix('without '):<50} {full - without:>10,.0f}")


def dump_total(path: Path) -> int:
    for line in path.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise ValueError(f"no totals in {path}")


def measure(path: str, count: int) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    import inprocess  # the same settings, database and environ as the other in-process figures
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler

    everything = list(settings.MIDDLEWARE)
    batches = {"all middleware": everything, "no middleware": []}
    for name in everything:
        left_out = {name, *NEEDS.get(name, ())}
        label = " + ".join(short(n) for n in everything if n in left_out)
        batches[f"without {label}"] = [other for other in everything if other not in left_out]
    statuses = []

    def start_response(status: str, headers: list) -> None:
        statuses.append(status)

    for label, middleware in batches.items():
        settings.MIDDLEWARE = middleware
        app = WSGIHandler()
        for _ in range(20):  # warm-up: caches, lazy imports
            b"".join(app(inprocess.wsgi_environ(path), start_response))
        environs = [inprocess.wsgi_environ(path) for _ in range(count)]
        # No garbage collection inside a batch: a full collection of Django's heap costs as
        # much as hundreds of requests, and would land in whichever batch it happened to.
        gc.collect()
        gc.disable()
        os.getppid()
        for environ in environs:
            b"".join(app(environ, start_response))
        os.getppid()
        gc.enable()
        print(f"BATCH {label}", flush=True)
    settings.MIDDLEWARE = everything
    if refused := {status for status in statuses if not status.startswith(("200", "304"))}:
        sys.exit(f"requests failed: {sorted(refused)}")


if __name__ == "__main__":
    main()
