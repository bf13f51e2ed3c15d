"""Print what the embedded widget costs a host page: requests, bytes, hosts, time to render.

Not a test: figures for people. Starts the site with gunicorn (production settings) unless
--url points at a running one, serves a host page from another origin, loads it in Chromium and
records every request the widget makes.

    .venv/bin/python bench/embed_weight.py            # uses the seeded poll
    .venv/bin/python bench/embed_weight.py --url http://127.0.0.1:8000 --slug SLUG
    .venv/bin/python bench/embed_weight.py --look "?theme=broadsheet&scheme=dark"  # a theme
"""

import argparse
import os
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
SEEDED_SLUG = "openai-turmoil-gpt-plans-2024"


def start_site(port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-secret-key"),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_COOKIES": "0",
        "SECURE_SSL_REDIRECT": "0",
        "BIND": f"127.0.0.1:{port}",
        "ACCESS_LOG": "off",
    }
    python = str(ROOT / ".venv" / "bin" / "python")
    for command in (
        ["migrate", "--no-input", "-v0"],
        ["seed"],
        ["collectstatic", "--no-input", "-v0"],
    ):
        subprocess.run([python, "manage.py", *command], cwd=ROOT, env=env, check=True)
    server = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "--config",
            "python:pollsite.gunicorn_conf",
            "pollsite.wsgi",
        ],
        cwd=ROOT,
        env=env,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/embed.js", timeout=1)
            return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    sys.exit("the site did not start")


def serve_host_page(html: str) -> str:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(html.encode())

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://localhost:{server.server_port}/article.html"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running site; default: start one with gunicorn")
    parser.add_argument("--slug", default=SEEDED_SLUG)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--look", default="", help="the widget's theme and scheme: ?theme=…")
    args = parser.parse_args()

    server = None
    site = args.url
    if not site:
        server = start_site(8731)
        site = "http://127.0.0.1:8731"
    try:
        host_page = serve_host_page(
            f'<!doctype html><title>Host</title><p>Article</p><div data-poll="{args.slug}"></div>'
        )
        widget_url = f"{site}/polls/{args.slug}/embed/{args.look}"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
            )
            timings = []
            for run in range(args.runs):
                context = browser.new_context()
                page = context.new_page()
                requests: list = []

                def record(request, requests=requests) -> None:
                    requests.append(request)

                page.on("requestfinished", record)
                page.goto(host_page)
                started = time.perf_counter()
                page.evaluate(
                    "url => { const f = document.createElement('iframe'); f.src = url;"
                    " document.body.append(f); }",
                    widget_url,
                )
                page.frame_locator("iframe").locator("button, .widget__results").first.wait_for()
                timings.append((time.perf_counter() - started) * 1000)
                page.wait_for_load_state("networkidle")
                if run == 0:
                    widget_requests = [r for r in requests if not r.url.startswith(host_page)]
                    rows = []
                    for request in widget_requests:
                        served = request.sizes()["responseBodySize"]
                        uncompressed = len(request.response().body())
                        rows.append((request.url, served, uncompressed))
                context.close()
            browser.close()
        hosts = sorted({urlsplit(url).netloc for url, _, _ in rows})
        print(f"widget: {widget_url}")
        print(f"requests made by the widget: {len(rows)}")
        print("  transferred  uncompressed  url")
        for url, served, uncompressed in rows:
            print(f"  {served:>9,} B  {uncompressed:>10,} B  {url}")
        print(
            f"total: {sum(r[1] for r in rows):,} B transferred,"
            f" {sum(r[2] for r in rows):,} B uncompressed (goal: under 15,360 B)"
        )
        print(f"hosts contacted: {', '.join(hosts)}")
        timings.sort()
        print(
            f"time to first render (iframe inserted -> form or results visible), {args.runs} runs:"
            f" median {timings[len(timings) // 2]:.0f} ms, best {timings[0]:.0f} ms"
        )
    finally:
        if server:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
