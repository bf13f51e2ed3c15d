"""An outsider's attacks on a running pollsite, printing what came of them. Not a test.

    make run &     # or any deployment you own; never someone else's
    python bench/attacks.py http://127.0.0.1:8000 repeats   # 1,000 repeat votes, one cookie
    python bench/attacks.py http://127.0.0.1:8000 forged    # a new X-Forwarded-For each time
    python bench/attacks.py http://127.0.0.1:8000 straddle 5/20  # under VOTE_RATE_LIMIT=5/20
    python bench/attacks.py http://127.0.0.1:8000 csrf      # forms in other charsets
    python bench/attacks.py http://127.0.0.1:8000 head      # HEAD on every page

What a database crash does is measured by tests/test_faults.py (pytest -s prints it).
"""

import collections
import http.cookiejar
import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

BASE = sys.argv[1]
MODE = sys.argv[2]
SLUG = "openai-turmoil-gpt-plans-2024"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None


def opener():
    jar = http.cookiejar.CookieJar()
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect), jar


def call(op, url, data=None, headers=None, method=None):
    req = urllib.request.Request(BASE + url, data=data, headers=headers or {}, method=method)
    try:
        r = op.open(req)
        return r.status, dict(r.headers), r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode("utf-8", "replace")


def form(op, jar):
    """The poll page's form: its single-use token (a fresh one in every response) and choices."""
    _, _, html = call(op, f"/polls/{SLUG}/")
    token = re.search(r'name="token" value="([^"]+)"', html)
    choices = re.findall(r'name="choice" value="(\d+)"', html)
    return (token.group(1) if token else None), choices


def fresh_token(op):
    """A new single-use token from the endpoint our pages' script asks (the page of a reader
    who voted has no form)."""
    _, _, body = call(op, f"/polls/{SLUG}/token/", b"", {"Origin": BASE}, method="POST")
    return json.loads(body)["token"]


def vote(op, token, choice, headers=None):
    body = urllib.parse.urlencode({"token": token, "choice": choice}).encode()
    return call(
        op,
        f"/polls/{SLUG}/vote/",
        body,
        {
            "Content-Type": "application/x-www-form-urlencoded",
            "Referer": BASE + "/",
            **(headers or {}),
        },
    )[0]


def integrity(op):
    html = call(op, f"/polls/{SLUG}/results/")[2]
    m = re.search(r'poll-results__integrity">(.*?)</p>', html, re.S)
    total = re.search(r"data-total>([^<]*)<", html)
    return (m.group(1) if m else None), (total.group(1) if total else None)


if MODE == "repeats":
    op, jar = opener()
    token, choices = form(op, jar)
    print("first vote:", vote(op, token, choices[0]))
    etag0 = call(opener()[0], f"/polls/{SLUG}/embed/")[1]["ETag"]
    print("before:", integrity(op), "ETag", etag0)
    t = time.monotonic()
    # Each repeat with a fresh token, as vote.js asks for one before it sends the form.
    statuses = collections.Counter(vote(op, fresh_token(op), choices[1]) for _ in range(1000))
    junk = collections.Counter(vote(op, fresh_token(op), "x") for _ in range(100))
    reused = collections.Counter(vote(op, token, choices[1]) for _ in range(10))
    print(f"1000 repeats in {time.monotonic() - t:.1f}s:", dict(statuses), "100 junk:", dict(junk))
    print("10 with the first vote's spent token:", dict(reused))
    etag1 = call(opener()[0], f"/polls/{SLUG}/embed/")[1]["ETag"]
    print("after:", integrity(op), "ETag", etag1, "unchanged" if etag0 == etag1 else "CHANGED")
elif MODE == "forged":
    statuses = collections.Counter()
    for n in range(80):
        op, jar = opener()
        token, choices = form(op, jar)
        statuses[
            vote(op, token, choices[n % len(choices)], {"X-Forwarded-For": f"198.51.100.{n}"})
        ] += 1
    print("80 votes, each with its own X-Forwarded-For:", dict(statuses))
    # Admin: 8 wrong passwords, each with its own X-Forwarded-For.
    results = []
    for n in range(8):
        op, jar = opener()
        html = call(op, "/admin/login/")[2]
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
        body = urllib.parse.urlencode(
            {
                "csrfmiddlewaretoken": token,
                "username": "admin",
                "password": "wrong",
                "next": "/admin/",
            }
        ).encode()
        results.append(
            call(
                op,
                "/admin/login/",
                body,
                {
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Referer": BASE + "/admin/login/",
                    "X-Forwarded-For": f"203.0.113.{n}",
                },
            )[0]
        )
    print("8 wrong admin passwords:", results)
elif MODE == "straddle":
    limit, seconds = map(int, sys.argv[3].split("/"))
    # Start just before a multiple of the window, where a fixed window would begin anew.
    now = time.time()
    start = now - now % seconds + seconds - 3
    if start < now:
        start += seconds
    time.sleep(start - now)
    admitted = []
    t_end = time.time() + seconds + 6
    while time.time() < t_end:
        op, jar = opener()
        token, choices = form(op, jar)
        at = time.time()
        s = vote(op, token, choices[0])
        if s == 303:
            admitted.append(at)
        time.sleep(0.25)
    worst = max(len([a for a in admitted if b <= a < b + seconds]) for b in admitted)
    print(
        f"{limit}/{seconds}: {len(admitted)} admitted over {seconds + 6}s straddling a window"
        f" boundary; most in any {seconds}s window: {worst}"
    )
elif MODE == "csrf":
    for url, body in (
        (f"/polls/{SLUG}/vote/", b"choice=1&csrfmiddlewaretoken=" + b"c" * 32),
        ("/admin/login/", b"username=a&password=b&csrfmiddlewaretoken=" + b"c" * 32),
    ):
        for cs in ("latin-1", "utf-16", "ascii"):
            op, _ = opener()
            print(
                url,
                cs,
                call(
                    op,
                    url,
                    body,
                    {
                        "Content-Type": f"application/x-www-form-urlencoded; charset={cs}",
                        "Cookie": "csrftoken=" + "c" * 32,
                    },
                )[0],
            )
elif MODE == "head":
    op, _ = opener()
    for url in (
        "/",
        f"/polls/{SLUG}/",
        f"/polls/{SLUG}/results/",
        f"/polls/{SLUG}/embed/",
        f"/api/polls/{SLUG}/results",
        "/embed.js",
        f"/oembed?url={BASE}/polls/{SLUG}/",
        "/healthz",
    ):
        s, h, body = call(op, url, method="HEAD")
        print("HEAD", url, s, len(body), h.get("Cache-Control"))
    op, jar = opener()
    token, choices = form(op, jar)
    vote(op, token, choices[0])
    s, h, body = call(op, f"/polls/{SLUG}/results/")
    print(
        "results with voter cookie:", s, "Your vote" in body, h.get("Cache-Control"), h.get("Vary")
    )
