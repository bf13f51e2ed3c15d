"""Helpers shared by several test modules."""

import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Settings a production run reads; manage() leaves them out unless a test passes them.
PRODUCTION_VARIABLES = (
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "SITE_URL",
    "SECURE_COOKIES",
    "SECURE_SSL_REDIRECT",
)


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    # Only the test process relaxes Django's async guard (see pyproject.toml).
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in PRODUCTION_VARIABLES and k != "DJANGO_ALLOW_ASYNC_UNSAFE"
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**environment, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


class HostSite:
    """A news site of someone else's, serving the article pages the test writes."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = site.pages.get(self.path.split("?")[0])
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write((body or "not found").encode())

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def article(self, path: str, embeds: str, *, head: str = "", column: int = 680) -> str:
        self.pages[path] = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Host article</title>{head}
<style>body{{font:18px/1.5 Georgia,serif;max-width:{column}px;margin:0 auto;padding:16px}}
@media (prefers-color-scheme: dark){{body{{background:#111;color:#eee}}}}</style></head>
<body><h1>Elsewhere News: the service mesh, five years on</h1>
<p>An article on another site that embeds a reader poll.</p>{embeds}
<p>The article continues below the poll.</p></body></html>"""
        return self.url + path


def eventually(condition, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def vote_form(poll, **fields) -> dict:
    """A vote form's fields as our pages send them: with a fresh single-use token."""
    from polls.vote_tokens import vote_token_issue

    return {"token": vote_token_issue(poll), **fields}
