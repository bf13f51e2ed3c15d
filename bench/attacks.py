"""An outsider's attacks on a running pollsite, printing what came of them. Not a test.

    make run &     # or any deployment you own; never someone else's
    python bench/attacks.py http://127.0.0.1:8000 repeats   # 1,000 repeat votes, one cookie
    python bench/attacks.py http://127.0.0.1:8000 forged    # a new X-Forwarded-For each time
    python bench/attacks.py http://127.0.0.1:8000 straddle 5/20  # under VOTE_RATE_LIMIT=5/20
    python bench/attacks.py http://127.0.0.1:8000 csrf      # forms in other charsets
    python bench/attacks.py http://127.0.0.1:8000 head      # HEAD on every page
    python bench/attacks.py http://127.0.0.1:8000 trust     # networks, odd bodies, NUL, frames
                                  # (TRUSTED_PROXIES=127.0.0.1 VOTE_RATE_LIMIT=5/60 make run)

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


def wrong_password(forwarded_for):
    """One failed admin sign-in, with the CSRF cookie and field of a fresh visit; the status."""
    op, _ = opener()
    html = call(op, "/admin/login/")[2]
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    body = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": csrf, "username": "admin", "password": "wrong", "next": "/admin/"}
    ).encode()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Referer": BASE + "/admin/login/",
        "X-Forwarded-For": forwarded_for,
    }
    return call(op, "/admin/login/", body, headers)[0]


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
    results = [wrong_password(f"203.0.113.{n}") for n in range(8)]
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
elif MODE == "trust":
    rows = []

    def row(attack, result):
        rows.append((attack, result))

    def network_votes(addresses):
        """One vote per address (a new reader each time), forwarded by the trusted proxy."""
        statuses = collections.Counter()
        for address in addresses:
            op, jar = opener()
            token, choices = form(op, jar)
            statuses[vote(op, token, choices[0], {"X-Forwarded-For": address})] += 1
        return dict(statuses)

    row(
        "30 votes from 30 addresses of one IPv6 /64",
        network_votes([f"2001:db8:1:2::{n:x}" for n in range(1, 31)]),
    )
    row(
        "one IPv6 address in 3 spellings, 4 times each",
        network_votes(["2001:db8:9::1", "2001:DB8:9:0:0:0:0:1", "2001:0db8:0009::0001"] * 4),
    )
    row(
        "7.7.7.7 as is, with ports, and as ::ffff:7.7.7.7",
        network_votes(["7.7.7.7", "7.7.7.7:1234", "7.7.7.7:999", "::ffff:7.7.7.7"] * 3),
    )
    row("garbage X-Forwarded-For, 10 strings", network_votes([f"x{n}" for n in range(10)]))
    wrong = [wrong_password(f"2001:db8:7:7::{n + 1:x}") for n in range(8)]
    row("8 wrong passwords from 8 addresses of one /64", wrong)
    for charset in ("rot13", "zlib", "base64", "quopri", "no-such-charset"):
        statuses = []
        for url in (f"/polls/{SLUG}/vote/", f"/polls/{SLUG}/embed/vote/", "/admin/login/"):
            op, _ = opener()
            body = b'--x\r\nContent-Disposition: form-data; name="choice"\r\n\r\n1\r\n--x--\r\n'
            statuses.append(
                call(
                    op,
                    url,
                    body,
                    {
                        "Content-Type": f"multipart/form-data; boundary=x; charset={charset}",
                        "Cookie": "csrftoken=" + "c" * 32,
                        "X-CSRFToken": "c" * 32,
                    },
                )[0]
            )
        row(f"multipart charset={charset} on vote, widget vote, sign-in", statuses)
    op, _ = opener()
    row(
        "NUL in a query: /articles/?page=%00, oEmbed url=%00",
        [call(op, "/articles/?page=%00")[0], call(op, "/oembed?url=%00")[0]],
    )
    # The widget's vote flow. The reader's cookie is Secure, which Python's cookie jar keeps
    # only over HTTPS: it is carried by hand here, as a browser keeps it for localhost too.
    _, choices = form(opener()[0], None)
    # Each of these from an address of its own, so that the rows above leave their budget alone.
    json_headers = {"Origin": BASE, "Accept": "application/json", "X-Forwarded-For": "192.0.2.50"}
    op, _ = opener()
    answer = call(op, f"/polls/{SLUG}/embed/token/", b"", {"Origin": BASE}, method="POST")
    json_headers["Cookie"] = answer[1]["Set-Cookie"].split(";")[0]
    statuses = []
    for _ in range(2):  # the first answer lost on the way: the reader tries again
        body = urllib.parse.urlencode(
            {"token": json.loads(answer[2])["token"], "choice": choices[0]}
        ).encode()
        statuses.append(call(op, f"/polls/{SLUG}/embed/vote/", body, json_headers)[0])
        answer = call(op, f"/polls/{SLUG}/embed/token/", b"", json_headers, method="POST")
    first, retry = statuses
    row("widget vote, then the same reader's retry (answer lost)", [first, retry])
    sandboxed = {
        "Origin": "null",
        "Sec-Fetch-Site": "cross-site",
        "Sec-Fetch-Mode": "cors",
        "Sec-Fetch-Dest": "empty",
        "Accept": "application/json",
        "X-Forwarded-For": "192.0.2.51",
    }
    omitted = []
    for _ in range(5):
        op, _ = opener()  # credentials "omit": no cookie kept between the calls
        token = json.loads(
            call(opener()[0], f"/polls/{SLUG}/embed/token/", b"", sandboxed, method="POST")[2]
        )["token"]
        body = urllib.parse.urlencode({"token": token, "choice": choices[0]}).encode()
        omitted.append(call(op, f"/polls/{SLUG}/embed/vote/", body, sandboxed)[0])
    row("sandboxed page, credentials omit, 5 votes", omitted)
    op, _ = opener()
    token = json.loads(
        call(op, f"/polls/{SLUG}/embed/token/", b"", {"Origin": BASE}, method="POST")[2]
    )["token"]
    body = urllib.parse.urlencode({"token": token, "choice": choices[0]}).encode()
    framed = {
        "Origin": BASE,
        "Sec-Fetch-Site": "same-origin",
        "Sec-Fetch-Mode": "navigate",
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Forwarded-For": "192.0.2.52",
    }
    in_frame = call(op, f"/polls/{SLUG}/embed/vote/", body, {**framed, "Sec-Fetch-Dest": "iframe"})
    new_tab = call(op, f"/polls/{SLUG}/embed/vote/", body, {**framed, "Sec-Fetch-Dest": "document"})
    row(
        "widget form without script: in the frame, in a new tab",
        [in_frame[0], new_tab[0], new_tab[1].get("Location")],
    )
    print("| attack | statuses |\n| --- | --- |")
    for attack, result in rows:
        print(f"| {attack} | {result} |")
