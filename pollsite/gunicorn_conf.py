"""gunicorn settings shared by `make run` and docker-compose; values come from the environment."""

import contextlib
import errno
import os
import signal
import socket
import sys

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Threads: a vote waits for PostgreSQL to flush its commit, and every widget view waits for a
# query; a worker's other threads use the CPU meanwhile. bench/run.py measures it against sync.
worker_class = os.environ.get("WORKER_CLASS", "gthread")
# gunicorn turns sync into gthread when threads > 1, so sync gets one thread unless told.
threads = int(os.environ.get("WEB_THREADS", "4" if worker_class == "gthread" else "1"))
# No keep-alive by default: a kept-alive connection stays with the worker that accepted it, and
# connections opened together (a proxy's pool, a load generator) often all land on one worker
# while the others idle. Measured with 2 workers: 16 connections at once went all to one worker
# in 6 runs of 14, at 40 % of the balanced rate (bench/run.py warns when it sees it). A proxy in
# front keeps its own connections to the readers; behind it, a new one per request is cheap.
keepalive = int(os.environ.get("KEEP_ALIVE", "0"))
# Load Django once in the master: workers fork ready to serve, and with the embedded database the
# master holds the server for the whole run and stops it cleanly on exit.
preload_app = True
# "-" logs requests to stdout; ACCESS_LOG=off turns the access log off (benchmarks).
accesslog = None if os.environ.get("ACCESS_LOG") == "off" else os.environ.get("ACCESS_LOG", "-")
# gunicorn's default line starts with the client's address (or the X-Forwarded-For it trusts)
# and carries the Referer, the article a reader came from. We store no reader's address, and a
# log that Docker or journald keeps is stored: the line says what was asked and how it went.
access_log_format = '%(t)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn's control socket (for gunicornc) sits at one path per user, shared by every checkout
# on the machine; nothing here uses it.
control_socket_disable = True


def on_starting(server) -> None:
    # gunicorn retries a busy address five times and exits without saying what to change.
    host, _, port = bind.rpartition(":")
    family = socket.AF_INET6 if host.startswith("[") else socket.AF_INET
    probe = socket.socket(family, socket.SOCK_STREAM)
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        probe.bind((host.strip("[]"), int(port)))
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        server.log.error(
            "%s is already in use (another pollsite, or another server?). Stop it, or choose "
            "another address: BIND=%s:%d make run",
            bind,
            host,
            int(port) + 1,
        )
        sys.exit(1)
    finally:
        probe.close()


def when_ready(server) -> None:
    # The master owns the embedded database, started before the workers fork: it restarts it
    # if it dies, and stops it when the run ends.
    from django.conf import settings

    from pollsite.embedded_postgres import keep_running, started

    if settings.DATABASES["default"].get("EMBEDDED_DATA_DIR"):
        started(settings.DATABASES["default"])
        keep_running()
    host, _, port = bind.rpartition(":")
    server.log.info("pollsite is ready: open http://%s:%s/ (Ctrl-C stops it)", host, port)


def worker_int(worker) -> None:
    # Ctrl-C (SIGINT) or SIGQUIT asks for a quick stop: leave now instead of waiting for the
    # worker's threads, one of which may sit on a connection a browser opened and never used
    # until the master's graceful timeout SIGKILLs the worker. SIGTERM (docker stop) is the
    # graceful stop and still lets requests in flight finish.
    for stream in (sys.stdout, sys.stderr):
        # RuntimeError: the signal came while this stream was being flushed.
        with contextlib.suppress(OSError, RuntimeError, ValueError):
            stream.flush()
    os._exit(0)


def post_worker_init(worker) -> None:
    # gunicorn's own quick-stop handler first shuts the thread pool down, which takes the pool's
    # lock. A signal that lands while the worker's main thread is handing a new connection to
    # the pool (inside submit(), holding that lock while a new thread starts) runs the handler
    # in that same thread, and it waits for the lock forever, until the master SIGKILLs the
    # worker 30 s later (seen with py-spy). Nothing needs shutting down when we leave at once.
    for quick_stop in (signal.SIGINT, signal.SIGQUIT):
        signal.signal(quick_stop, lambda signum, frame: worker_int(worker))


def post_fork(server, worker) -> None:
    # Each worker keeps the polls readers see in memory, dropped when PostgreSQL announces a
    # change (polls/poll_cache.py); the listener is a thread of the worker.
    from polls.poll_listener import start_listening
    from polls.upkeep import start_upkeep

    start_listening()
    # And its periodic jobs, off the readers' path: the rate limit's trim, and the seen counts
    # written every few seconds (polls/upkeep.py).
    start_upkeep()


def worker_exit(server, worker) -> None:
    # A worker stopping gracefully (SIGTERM, max_requests, a reload) writes what it counted
    # since its last flush; one killed outright loses that.
    from polls.engagement import flush_at_exit

    flush_at_exit()
