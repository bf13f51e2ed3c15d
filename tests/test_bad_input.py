"""Malformed requests at every entry point: each gets a clear 4xx and changes nothing."""

import codecs
import contextlib
import encodings
import encodings.aliases
import ipaddress
import itertools
import pkgutil
import time
from dataclasses import dataclass, field
from unittest import mock
from urllib.parse import urlencode

import pytest
from axes.models import AccessAttempt
from django.apps import apps
from django.contrib.admin import site as admin_site
from django.contrib.auth.models import User
from django.core import signing
from django.http import QueryDict
from django.test import Client
from hypothesis import HealthCheck, assume, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from polls.forms import write_in_cleaned
from polls.models import Ballot, Choice, Poll
from polls.voters import TOKEN_SALT, vote_token_issue
from tests.helpers import make_article, make_poll, snapshot

pytestmark = pytest.mark.django_db

SAME_ORIGIN = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}


@dataclass
class World:
    poll: Poll
    other: Poll
    closed: Poll
    draft: Poll
    scheduled: Poll
    replayed_token: str
    admin: Client = field(default_factory=Client)

    def choice(self, poll: Poll | None = None) -> str:
        return str((poll or self.poll).choices.first().pk)

    def token(self, poll: Poll | None = None) -> str:
        return vote_token_issue(poll or self.poll)


@pytest.fixture
def world(db) -> World:
    poll = make_poll("Main?", slug="main")
    make_article("Host", poll=poll, slug="host")
    replayed = vote_token_issue(poll)
    assert (
        Client()
        .post("/polls/main/embed/vote/", {"choice": poll.choices.first().pk, "token": replayed})
        .status_code
        == 200
    )
    # With a write-in ("Other") choice; slug "writein".
    write_in_choice(make_poll("Written?", ("Envoy", "NGINX", "Other"), slug="writein"), "Other")
    staff = User.objects.create(username="editor", is_staff=True, is_superuser=True)
    admin = Client(enforce_csrf_checks=True)
    admin.force_login(staff)
    return World(
        poll=poll,
        other=make_poll("Other?", ("Yes", "No"), slug="other"),
        closed=make_poll("Closed?", slug="closed", state="closed"),
        draft=make_poll("Draft?", slug="draft", state="draft"),
        scheduled=make_poll("Future?", slug="future", state="scheduled"),
        replayed_token=replayed,
        admin=admin,
    )


def expired_token(world: World) -> str:
    with mock.patch("django.core.signing.time.time", return_value=time.time() - 3 * 3600):
        return vote_token_issue(world.poll)


def forged_token(world: World) -> str:
    return signing.dumps({"poll": world.poll.pk, "nonce": "x"}, salt=TOKEN_SALT, key="not-our-key")


def post(url, data=None, **kwargs):
    return lambda w, client: client.post(
        url(w) if callable(url) else url, data(w) if data else {}, **kwargs
    )


def raw(url, body: bytes, **kwargs):
    return lambda w, client: client.generic(
        "POST", url, body, content_type="application/x-www-form-urlencoded", **kwargs
    )


def with_csrf_cookie(content_type: str, url: str = "/polls/main/vote/", body: bytes = b""):
    """A form post from a browser that has our CSRF cookie, its body in another charset."""

    def request(w, client):
        client = Client(enforce_csrf_checks=True)
        client.cookies["csrftoken"] = "c" * 32
        form = body or f"choice={w.choice()}&csrfmiddlewaretoken={'c' * 32}".encode()
        return client.generic("POST", url, form, content_type=content_type)

    return request


CSRF = "c" * 32
CSRF_FIELD = {"csrfmiddlewaretoken": CSRF}

# Python codecs that are not text encodings ("is not a text encoding"), those that refuse to
# replace what they cannot decode, and a name that is no codec at all.
NOT_TEXT_CHARSETS = (
    *("rot13", "zlib", "hex", "base64", "bz2", "uu", "quopri"),
    *("idna", "punycode", "undefined"),
    "no-such-charset",
)
ODD_BODIES = ("multipart/form-data; boundary=x", "application/x-www-form-urlencoded", "text/plain")


def multipart(fields: dict) -> bytes:
    """A multipart/form-data body, boundary x, as a browser sends a form."""
    parts = [
        f'--x\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    ]
    return ("".join(parts) + "--x--\r\n").encode()


# Every URL that takes a POST (pollsite/urls.py, polls/urls.py, the admin's): the form a
# browser sends there, with its CSRF token where one is needed, and whether an editor sends it.
POST_FORMS = {
    "vote": (False, lambda w: ("/polls/main/vote/", {"choice": w.choice(), **CSRF_FIELD})),
    "vote token": (False, lambda w: ("/polls/main/token/", {})),
    "widget vote": (
        False,
        lambda w: ("/polls/main/embed/vote/", {"choice": w.choice(), "token": w.token()}),
    ),
    "widget token": (False, lambda w: ("/polls/main/embed/token/", {})),
    "admin login": (
        False,
        lambda w: ("/admin/login/", {"username": "editor", "password": "x", **CSRF_FIELD}),
    ),
    "admin logout": (True, lambda w: ("/admin/logout/", CSRF_FIELD)),
    "admin add poll": (
        True,
        lambda w: ("/admin/polls/poll/add/", {"question": "Q?", **CSRF_FIELD}),
    ),
    "admin action": (
        True,
        lambda w: (
            "/admin/polls/poll/",
            {
                "action": "delete_selected",
                "_selected_action": w.poll.pk,
                "post": "yes",
                **CSRF_FIELD,
            },
        ),
    ),
    "admin write-in moderation": (
        True,
        lambda w: (
            f"/admin/polls/poll/{w.poll.pk}/write-ins/",
            {"action": "approve", "ballot": "1", **CSRF_FIELD},
        ),
    ),
}


def odd_body(endpoint: str, content_type: str):
    """The form of a POST endpoint under the given Content-Type (multipart or urlencoded as it
    says), from a browser holding our CSRF cookie: anyone who loaded one of our pages."""

    def request(w, client):
        signed_in, form = POST_FORMS[endpoint]
        url, fields = form(w)
        client = w.admin if signed_in else Client(enforce_csrf_checks=True)
        client.cookies["csrftoken"] = CSRF
        body = multipart(fields) if content_type.startswith("multipart/") else urlencode(fields)
        # Content-Type as a header too: the test client leaves it out with an empty body.
        headers = {"Accept": "application/json", "Content-Type": content_type}
        return client.generic("POST", url, body, headers=headers)

    return request


# The list of every model the admin shows, searched or not.
ADMIN_CHANGELISTS = [
    f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
    for model in apps.get_models()
    if admin_site.is_registered(model)
]


def get(url):
    return lambda w, client: client.get(url(w) if callable(url) else url)


def get_in_charset(url: str, charset: str):
    """A GET with a Content-Type: Django decodes its query string in the charset named."""
    headers = {"Content-Type": f"text/plain; charset={charset}"}
    return lambda w, client: client.get(url, headers=headers)


def method(name: str, url: str):
    return lambda w, client: client.generic(name, url)


def embed(data, headers=SAME_ORIGIN, slug="main"):
    return post(f"/polls/{slug}/embed/vote/", data, headers=headers)


def admin(request):
    return lambda w, client: request(w, w.admin)


def write_in_choice(poll: Poll, text: str) -> Choice:
    choice = poll.choices.get(text=text)
    choice.is_write_in = choice.stays_last = True
    choice.save()
    return choice


def pick(text: str, **fields):
    """A vote for the write-in poll's choice named text, with more fields."""
    return lambda w: {
        "choice": str(Choice.objects.get(poll__slug="writein", text=text).pk),
        **fields,
    }


def written(text: str, **fields):
    """pick(), for the widget: with a fresh token."""

    def data(w: World) -> dict:
        token = vote_token_issue(Poll.objects.get(slug="writein"))
        return {**pick(text)(w), "token": token, **fields}

    return data


CASES = {
    # Our own vote form
    "vote: unknown poll": (
        post("/polls/no-such-poll/vote/", lambda w: {"choice": w.choice()}),
        404,
    ),
    "vote: malformed slug": (post("/polls/bad%20slug!/vote/", lambda w: {"choice": "1"}), 404),
    "vote: absurdly long slug": (
        post("/polls/" + "a" * 400 + "/vote/", lambda w: {"choice": "1"}),
        404,
    ),
    "vote: missing choice": (post("/polls/main/vote/"), 400),
    "vote: empty choice": (post("/polls/main/vote/", lambda w: {"choice": ""}), 400),
    "vote: non-number choice": (post("/polls/main/vote/", lambda w: {"choice": "envoy"}), 400),
    "vote: negative choice": (post("/polls/main/vote/", lambda w: {"choice": "-1"}), 400),
    "vote: fractional choice": (post("/polls/main/vote/", lambda w: {"choice": "1.5"}), 400),
    "vote: huge choice": (post("/polls/main/vote/", lambda w: {"choice": "9" * 40}), 400),
    "vote: unknown choice": (post("/polls/main/vote/", lambda w: {"choice": "99999999"}), 400),
    "vote: over-long token": (
        post("/polls/main/vote/", lambda w: {"choice": w.choice(), "token": "t" * 600}),
        403,
    ),
    "vote: choice of another poll": (
        post("/polls/main/vote/", lambda w: {"choice": w.choice(w.other)}),
        400,
    ),
    "vote: several choices": (
        post("/polls/main/vote/", lambda w: {"choice": [w.choice(), w.poll.choices.last().pk]}),
        400,
    ),
    "vote: GET": (get("/polls/main/vote/"), 405),
    "vote: PUT": (method("PUT", "/polls/main/vote/"), 405),
    "vote: DELETE": (method("DELETE", "/polls/main/vote/"), 405),
    "vote: OPTIONS": (method("OPTIONS", "/polls/main/vote/"), 405),
    "vote: oversized body": (raw("/polls/main/vote/", b"choice=1&pad=" + b"x" * 200_000), 400),
    "vote: too many fields": (
        raw("/polls/main/vote/", b"&".join(b"f%d=1" % n for n in range(500))),
        400,
    ),
    "vote: invalid UTF-8": (raw("/polls/main/vote/", b"choice=%FF%FE%FD"), 400),
    "vote: control characters": (raw("/polls/main/vote/", b"choice=1%00%07"), 400),
    "vote: JSON body": (
        lambda w, c: c.post("/polls/main/vote/", '{"choice": 1}', content_type="application/json"),
        400,
    ),
    "vote: unknown article": (
        post("/polls/main/vote/", lambda w: {"choice": w.choice(), "article": "nope"}),
        400,
    ),
    "vote: article slug with control characters": (
        post("/polls/main/vote/", lambda w: {"choice": w.choice(), "article": "ho\x00st"}),
        400,
    ),
    "vote: draft poll": (post("/polls/draft/vote/", lambda w: {"choice": w.choice(w.draft)}), 404),
    "vote: future poll": (
        post("/polls/future/vote/", lambda w: {"choice": w.choice(w.scheduled)}),
        404,
    ),
    "vote: closed poll": (
        post(
            "/polls/closed/vote/",
            lambda w: {"choice": w.choice(w.closed), "token": w.token(w.closed)},
        ),
        409,
    ),
    "vote: no vote token": (
        lambda w, c: Client(enforce_csrf_checks=True).post(
            "/polls/main/vote/", {"choice": w.choice()}
        ),
        403,
    ),
    # A form in a charset other than UTF-8, which Django refuses, with a CSRF cookie: the vote
    # needs none (its token proves the form), the admin's check reads the body for its token
    **{
        f"vote: form in {charset} with a CSRF cookie": (
            with_csrf_cookie(f"application/x-www-form-urlencoded; charset={charset}"),
            400,
        )
        for charset in ("latin-1", "utf-16", "ascii")
    },
    "admin login: form in latin-1 with a CSRF cookie": (
        with_csrf_cookie(
            "application/x-www-form-urlencoded; charset=latin-1",
            "/admin/login/",
            b"username=a&password=b&csrfmiddlewaretoken=" + b"c" * 32,
        ),
        400,
    ),
    "unknown page: form in latin-1 with a CSRF cookie": (
        with_csrf_cookie("application/x-www-form-urlencoded; charset=latin-1", "/no/such/page/"),
        404,
    ),
    "vote: multipart without a boundary": (
        with_csrf_cookie("multipart/form-data", body=b"choice=1"),
        400,
    ),
    "vote: malformed CSRF cookie": (
        lambda w, c: Client(enforce_csrf_checks=True, cookies={"csrftoken": "\x00;;"}).post(
            "/polls/main/vote/", {"choice": w.choice()}
        ),
        403,
    ),
    "vote: unknown host": (
        post("/polls/main/vote/", lambda w: {"choice": w.choice()}, headers={"Host": "evil:1"}),
        400,
    ),
    "widget: form in utf-16": (
        lambda w, c: c.generic(
            "POST",
            "/polls/main/embed/vote/",
            f"choice={w.choice()}&token={w.token()}".encode("utf-16"),
            content_type="application/x-www-form-urlencoded; charset=utf-16",
            headers=SAME_ORIGIN,
        ),
        400,
    ),
    # A charset that is not a text encoding, at every POST endpoint (more in
    # test_a_body_in_a_charset_that_is_not_text_gets_a_400_everywhere)
    **{
        f"{endpoint}: multipart in rot13": (
            odd_body(endpoint, "multipart/form-data; boundary=x; charset=rot13"),
            400,
        )
        for endpoint in POST_FORMS
    },
    # ... and under a GET's query string, which Django decodes in the same charset
    # ... or a Content-Type Django cannot parse, which it refused with a bare 500
    "vote: Content-Type with a parameter in an unknown encoding": (
        odd_body("vote", "multipart/form-data; boundary=x; name*=bogus''x"),
        400,
    ),
    "vote: Content-Type over 10,000 characters": (
        odd_body("vote", "multipart/form-data; boundary=x; pad=" + "x" * 10_000),
        400,
    ),
    "oembed: query under a Content-Type in rot13": (
        get_in_charset("/oembed?url=http://testserver/polls/main/", "rot13"),
        400,
    ),
    "articles: page under a Content-Type in zlib": (
        get_in_charset("/articles/?page=2", "zlib"),
        400,
    ),
    "admin: search under a Content-Type in hex": (
        admin(get_in_charset("/admin/polls/poll/?q=x", "hex")),
        400,
    ),
    # The widget's vote
    "widget: missing token": (embed(lambda w: {"choice": w.choice()}), 403),
    "widget: forged token": (
        embed(lambda w: {"choice": w.choice(), "token": forged_token(w)}),
        403,
    ),
    "widget: garbage token": (embed(lambda w: {"choice": w.choice(), "token": "%%%\x01"}), 403),
    "widget: over-long token": (embed(lambda w: {"choice": w.choice(), "token": "t" * 600}), 403),
    "widget: expired token": (
        embed(lambda w: {"choice": w.choice(), "token": expired_token(w)}),
        403,
    ),
    "widget: replayed token": (
        embed(lambda w: {"choice": w.choice(), "token": w.replayed_token}),
        409,
    ),
    "widget: token of another poll": (
        embed(lambda w: {"choice": w.choice(), "token": w.token(w.other)}),
        403,
    ),
    "widget: cross-site origin": (
        embed(
            lambda w: {"choice": w.choice(), "token": w.token()},
            headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
        ),
        403,
    ),
    "widget: bogus host origin": (
        embed(lambda w: {"choice": w.choice(), "token": w.token(), "host_origin": "data:x"}),
        400,
    ),
    "widget: host path with control characters": (
        embed(lambda w: {"choice": w.choice(), "token": w.token(), "host_path": "/a\x07b"}),
        400,
    ),
    "widget: several choices": (
        embed(lambda w: {"choice": [w.choice(), w.poll.choices.last().pk], "token": w.token()}),
        400,
    ),
    "widget: choice of another poll": (
        embed(lambda w: {"choice": w.choice(w.other), "token": w.token()}),
        400,
    ),
    "widget: invalid UTF-8": (raw("/polls/main/embed/vote/", b"choice=%FF&token=%FE"), 400),
    "widget: GET on the vote URL": (get("/polls/main/embed/vote/"), 405),
    "widget: closed poll": (
        embed(lambda w: {"choice": w.choice(w.closed), "token": w.token(w.closed)}, slug="closed"),
        409,
    ),
    "widget: draft poll": (get("/polls/draft/embed/"), 404),
    "widget: unknown poll": (get("/polls/nope/embed/"), 404),
    "widget: POST to the widget page": (post("/polls/main/embed/"), 405),
    "token: GET": (get("/polls/main/embed/token/"), 405),
    "token: closed poll": (post("/polls/closed/embed/token/"), 404),
    # oEmbed
    "oembed: format=xml (501 by the oEmbed spec)": (
        get("/oembed?url=http://testserver/polls/main/&format=xml"),
        501,
    ),
    "oembed: maxwidth=-1": (get("/oembed?url=http://testserver/polls/main/&maxwidth=-1"), 400),
    "oembed: maxwidth=wide": (get("/oembed?url=http://testserver/polls/main/&maxwidth=wide"), 400),
    "oembed: absurd maxheight": (
        get("/oembed?url=http://testserver/polls/main/&maxheight=" + "9" * 30),
        400,
    ),
    "oembed: no url": (get("/oembed"), 400),
    "oembed: unknown poll": (get("/oembed?url=http://testserver/polls/nope/"), 404),
    "oembed: another site": (get("/oembed?url=https://evil.example/polls/main/"), 404),
    "oembed: draft poll": (get("/oembed?url=http://testserver/polls/draft/"), 404),
    "oembed: garbage url": (get("/oembed?url=%FF%FE"), 404),
    # NUL, which PostgreSQL text cannot hold, in a query parameter
    "oembed: url with NUL": (get("/oembed?url=%FF%FE%00"), 400),
    "oembed: poll url with NUL": (get("/oembed?url=http://testserver/polls/ma%00in/"), 400),
    "oembed: maxwidth NUL": (get("/oembed?url=http://testserver/polls/main/&maxwidth=%00"), 400),
    "home page: parameter NUL": (get("/?x=%00"), 400),
    "home page: NUL in a parameter's name": (get("/?%00=1"), 400),
    "archive: page NUL": (get("/polls/archive/?page=%00"), 400),
    "articles: page NUL": (get("/articles/?page=1%00"), 400),
    "article: parameter NUL": (get("/articles/host/?utm_source=%00"), 400),
    "poll: parameter NUL": (get("/polls/main/?x=%00"), 400),
    "results: parameter NUL": (get("/polls/main/results/?x=%00"), 400),
    "widget: parameter NUL": (get("/polls/main/embed/?x=%00"), 400),
    "json: parameter NUL": (get("/api/polls/main/results?x=%00"), 400),
    "vote: NUL in the query string": (
        post("/polls/main/vote/?x=%00", lambda w: {"choice": w.choice()}),
        400,
    ),
    "admin: autocomplete NUL": (
        admin(
            get("/admin/autocomplete/?app_label=polls&model_name=article&field_name=poll&term=%00")
        ),
        400,
    ),
    "admin: write-ins status NUL": (
        admin(get(lambda w: f"/admin/polls/poll/{w.poll.pk}/write-ins/?status=%00")),
        400,
    ),
    "admin: changelist filter NUL": (admin(get("/admin/polls/ballot/?host_origin=%00")), 400),
    "admin: login next NUL": (get("/admin/login/?next=/admin/%00"), 400),
    **{
        f"admin: search of {url} for NUL": (admin(get(f"{url}?q=%00")), 400)
        for url in ADMIN_CHANGELISTS
    },
    # JSON results
    "json: unknown poll": (get("/api/polls/nope/results"), 404),
    "json: draft poll": (get("/api/polls/draft/results"), 404),
    "json: future poll": (get("/api/polls/future/results"), 404),
    "json: POST": (post("/api/polls/main/results"), 405),
    "json: malformed slug": (get("/api/polls/%00%FF/results"), 404),
    # Write-ins ("Other" with a text box)
    "write-in: over 100 characters": (
        post("/polls/writein/vote/", pick("Other", write_in="x" * 101)),
        400,
    ),
    "write-in: 100 characters and markup over the limit": (
        post("/polls/writein/vote/", pick("Other", write_in="<b>" * 40)),
        400,
    ),
    "write-in: a megabyte of it": (
        post("/polls/writein/vote/", pick("Other", write_in="x" * 1_000_000)),
        400,
    ),
    "write-in: with another choice": (
        post("/polls/writein/vote/", pick("Envoy", write_in="Linkerd")),
        400,
    ),
    "write-in: to a poll without one": (
        post("/polls/main/vote/", lambda w: {"choice": w.choice(), "write_in": "Linkerd"}),
        400,
    ),
    "widget write-in: over 100 characters": (
        embed(written("Other", write_in="\u202e" + "y" * 120), slug="writein"),
        400,
    ),
    "widget write-in: with another choice": (
        embed(written("NGINX", write_in="Linkerd"), slug="writein"),
        400,
    ),
    "admin: write-ins of an unknown poll": (
        admin(lambda w, c: c.get("/admin/polls/poll/999999/write-ins/")),
        404,
    ),
    "admin: moderation without the CSRF token": (
        admin(
            lambda w, c: c.post(
                f"/admin/polls/poll/{w.poll.pk}/write-ins/", {"action": "approve", "ballot": "1"}
            )
        ),
        403,
    ),
    # The admin
    "admin: POST without the CSRF token": (
        admin(lambda w, c: c.post("/admin/polls/poll/add/", {"question": "Sneaky?"})),
        403,
    ),
    "admin: delete a ballot": (
        admin(lambda w, c: c.get(f"/admin/polls/ballot/{Ballot.objects.first().pk}/delete/")),
        403,
    ),
    "admin: add a ballot": (admin(lambda w, c: c.get("/admin/polls/ballot/add/")), 403),
    "admin: unknown model": (admin(lambda w, c: c.get("/admin/polls/nosuchthing/")), 404),
    "anonymous: ballots list": (
        lambda w, c: Client(enforce_csrf_checks=True).post("/admin/polls/ballot/", {"x": 1}),
        403,
    ),
}


@pytest.mark.parametrize(("request_fn", "status"), CASES.values(), ids=CASES.keys())
def test_malformed_requests_get_a_clear_4xx_and_change_nothing(world, client, request_fn, status):
    before = snapshot()
    response = request_fn(world, client)
    assert response.status_code == status
    assert response.status_code != 500
    assert snapshot() == before


def test_the_battery_is_at_least_forty_requests():
    assert len(CASES) >= 40


@pytest.mark.parametrize("endpoint", POST_FORMS)
def test_a_body_in_a_charset_that_is_not_text_gets_a_400_everywhere(world, endpoint):
    before = snapshot()
    for body in ODD_BODIES:
        for charset in NOT_TEXT_CHARSETS:
            response = odd_body(endpoint, f"{body}; charset={charset}")(world, None)
            assert response.status_code == 400, (body, charset)
    assert snapshot() == before


def every_codec_python_has() -> list[str]:
    names = {module.name for module in pkgutil.iter_modules(encodings.__path__)}
    found = set()
    for name in names | set(encodings.aliases.aliases):
        # Not every name is a codec: helper modules, codecs of other platforms (mbcs).
        with contextlib.suppress(LookupError):
            found.add(codecs.lookup(name).name)
    return sorted(found)


def test_no_charset_python_knows_breaks_a_form_or_a_query(world):
    """Whatever charset a form or a query claims, refused or read, never a 500."""
    junk = bytes(range(256)).replace(b"\\", b"")  # a backslash only makes escape codecs warn
    form = multipart({"choice": "0", **CSRF_FIELD}).replace(
        b"--x--",
        b'--x\r\nContent-Disposition: form-data; name="note"\r\n\r\n' + junk + b"\r\n--x--",
    )
    client = Client(enforce_csrf_checks=True)
    client.cookies["csrftoken"] = CSRF
    before = snapshot()
    charsets = every_codec_python_has()
    assert len(charsets) > 100
    for charset in charsets:
        vote = client.generic(
            "POST",
            "/polls/main/vote/",
            form,
            headers={"Content-Type": f"multipart/form-data; boundary=x; charset={charset}"},
        )
        query = client.get(
            "/articles/?page=2", headers={"Content-Type": f"text/plain; charset={charset}"}
        )
        assert vote.status_code < 500 and query.status_code < 500, charset
    assert snapshot() == before


@pytest.mark.parametrize(
    "content_type",
    [
        "application/x-www-form-urlencoded;charset=UTF-8",  # the widget's fetch sends this
        "multipart/form-data; boundary=x; charset=utf-8",
        "multipart/form-data; boundary=x; charset=latin-1",
    ],
)
def test_a_vote_in_a_declared_text_charset_still_counts(world, content_type):
    before = world.poll.choices.get(pk=world.choice()).votes
    response = odd_body("widget vote", content_type)(world, None)
    assert response.status_code == 200
    assert world.poll.choices.get(pk=world.choice()).votes == before + 1


SANDBOXED_FETCH = {
    "Origin": "null",
    "Sec-Fetch-Mode": "cors",
    "Sec-Fetch-Dest": "empty",
    "Sec-Fetch-Site": "cross-site",
    "Accept": "application/json",
}


@pytest.mark.parametrize("url", ["/polls/main/embed/vote/", "/polls/main/embed/token/"])
def test_the_sandboxed_widget_can_read_its_400(world, url):
    form = multipart({"choice": world.choice(), "token": world.token()})
    response = Client().generic(
        "POST",
        url,
        form,
        content_type="multipart/form-data; boundary=x; charset=rot13",
        headers=SANDBOXED_FETCH,
    )
    assert response.status_code == 400
    assert response["Access-Control-Allow-Origin"] == "null"
    assert response["Access-Control-Allow-Credentials"] == "true"
    assert response.json()["ok"] is False
    assert response.json()["message"] == "We could not understand that request"


def test_the_widget_form_without_script_gets_its_400_inside_the_article(world):
    form = multipart({"choice": world.choice(), "token": world.token()})
    response = Client().generic(
        "POST",
        "/polls/main/embed/vote/",
        form,
        content_type="multipart/form-data; boundary=x; charset=base64",
        headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
    )
    assert response.status_code == 400
    assert "We could not understand that request" in response.content.decode()
    assert "X-Frame-Options" not in response  # framed by the article, like the widget itself
    assert "frame-ancestors" in response["Content-Security-Policy"]


def test_an_unreadable_sign_in_changes_nothing_and_the_real_one_still_works(world):
    """The 400 comes before the CSRF check and django-axes: no failure is counted against
    the editor, and their next sign-in, CSRF token and all, goes through."""
    editor = User.objects.get(username="editor")
    editor.set_password("a long editor password")
    editor.save()
    browser = Client(enforce_csrf_checks=True)
    browser.get("/admin/login/")
    token = browser.cookies["csrftoken"].value
    fields = {"username": "editor", "password": "wrong", "csrfmiddlewaretoken": token}
    for charset in NOT_TEXT_CHARSETS:
        response = browser.generic(
            "POST",
            "/admin/login/",
            multipart(fields),
            content_type=f"multipart/form-data; boundary=x; charset={charset}",
        )
        assert response.status_code == 400
        assert "We could not understand that request" in response.content.decode()
    assert not AccessAttempt.objects.exists()
    signed_in = browser.post(
        "/admin/login/?next=/admin/",
        {**fields, "password": "a long editor password"},
    )
    assert signed_in.status_code == 302 and signed_in["Location"] == "/admin/"


JUNK_FIELDS = st.dictionaries(
    keys=st.sampled_from(["choice", "token", "article", "host_origin", "host_path", "vote", "x"]),
    values=st.one_of(
        st.text(max_size=60),
        st.integers(min_value=-(10**30), max_value=10**30).map(str),
        st.lists(st.text(max_size=8), min_size=2, max_size=4),
    ),
    max_size=6,
)


# What a WSGI server can hand over: header bytes decoded as latin-1 (PEP 3333).
HEADER_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=0xFF), max_size=40)
CHARSETS = st.one_of(
    st.sampled_from(["utf-8", "UTF-8"]),  # a third of the cases, where a vote can count
    st.sampled_from(["utf8", "latin-1", "utf-16", "ascii", "cp1252", "utf-7", "", "x;y"]),
    HEADER_TEXT,
)
JUNK_HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "Accept-Language": HEADER_TEXT,
        "Accept": HEADER_TEXT,
        "X-Forwarded-For": HEADER_TEXT,
        # Our own origin now and then, so that some votes pass the origin check and count.
        "Origin": st.one_of(st.just("http://testserver"), HEADER_TEXT),
        "Sec-Fetch-Site": st.one_of(st.sampled_from(["same-origin", "none"]), HEADER_TEXT),
        "If-None-Match": HEADER_TEXT,
    },
)


ADDRESS_NUMBERS = itertools.count(1)


def reader_at_an_address_of_their_own() -> Client:
    """A new reader, at an address no other generated case used: the rate limit counts every
    attempt, and would otherwise answer 429 for the code under test after the first few cases."""
    return Client(REMOTE_ADDR=str(ipaddress.IPv4Address("198.18.0.0") + next(ADDRESS_NUMBERS)))


def names_a_choice(value: object, poll: Poll) -> bool:
    """Whether a posted value could be read as one of the poll's choices ("3", " 3", "+03")."""
    try:
        return int(str(value).strip()) in set(poll.choices.values_list("pk", flat=True))
    except ValueError:
        return False


@hypothesis_settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    fields=JUNK_FIELDS,
    raw_body=st.binary(max_size=300),
    widget=st.booleans(),
    valid_token=st.booleans(),
)
def test_generated_junk_never_counts_a_vote_or_breaks(world, fields, raw_body, widget, valid_token):
    """Half the cases carry a valid token, so that the junk is what must be refused: with
    only junk tokens, the token check would refuse every case whatever the code after it."""
    posted = fields.get("choice", [])
    posted = posted if isinstance(posted, list) else [posted]
    assume(not any(names_a_choice(value, world.poll) for value in posted))
    assume(
        not any(
            names_a_choice(value, world.poll) for value in QueryDict(raw_body).getlist("choice")
        )
    )
    if valid_token:
        fields = {**fields, "token": world.token()}
        # The last of a repeated field is the one read.
        raw_body += b"&token=" + world.token().encode()
    url = "/polls/main/embed/vote/" if widget else "/polls/main/vote/"
    client = reader_at_an_address_of_their_own()
    before = snapshot()
    form = client.post(url, fields, headers=SAME_ORIGIN)
    body = client.generic(
        "POST", url, raw_body, content_type="application/x-www-form-urlencoded", headers=SAME_ORIGIN
    )
    for response in (form, body):
        assert 400 <= response.status_code < 500, (response.status_code, fields, raw_body)
    assert snapshot() == before


@hypothesis_settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    charset=CHARSETS,
    headers=JUNK_HEADERS,
    csrf_cookie=st.one_of(st.none(), st.just("c" * 32), HEADER_TEXT),
    url=st.sampled_from(["/polls/main/vote/", "/polls/main/embed/vote/", "/admin/login/"]),
)
def test_generated_headers_and_charsets_never_break(world, charset, headers, csrf_cookie, url):
    """A vote in any charset, with junk headers and cookies: a clear answer, never a 500, and
    a vote counted exactly when the answer says so, and only in UTF-8 (Django refuses a form
    in any other charset). Each case is sent twice, by two readers: with a valid token, so
    that the vote can count, and without one, so that it stops at the token check."""
    for token in (world.token(), None):
        client = reader_at_an_address_of_their_own()
        client.enforce_csrf_checks = True
        if csrf_cookie is not None:
            client.cookies["csrftoken"] = csrf_cookie
        fields = {"choice": world.choice(), "csrfmiddlewaretoken": "c" * 32}
        if token:
            fields["token"] = token
        body = urlencode(fields)
        ballots = Ballot.objects.count()
        before = snapshot()
        try:
            encoded = body.encode(charset or "utf-8")
        except (LookupError, UnicodeError, ValueError):
            encoded = body.encode()
        response = client.generic(
            "POST",
            url,
            encoded,
            content_type=f"application/x-www-form-urlencoded; charset={charset}",
            headers=headers,
        )
        assert response.status_code != 500, (charset, headers, csrf_cookie)
        assert response.status_code < 500 or response.status_code == 503
        says_counted = url != "/admin/login/" and response.status_code < 400
        assert Ballot.objects.count() - ballots == (1 if says_counted else 0), response.status_code
        if says_counted:
            assert token and codecs.lookup(charset).name == "utf-8"
        else:
            assert snapshot() == before


# Safe storage: what a reader writes in is kept only as text, on one line, without the
# characters that could hide or reorder it, and shown escaped everywhere.
NASTY_WRITE_IN = '\u202e<img src=x onerror=alert(1)>\u202c\x00\x07\u2066=HYPERLINK("x")\n\x85ok'


def test_a_nasty_write_in_is_stored_clean_and_rendered_inert(world):
    reader = Client()
    choice = pick("Other")(world)["choice"]
    form = {"choice": choice, "write_in": NASTY_WRITE_IN}
    form["token"] = world.token(Poll.objects.get(slug="writein"))
    response = reader.post("/polls/writein/vote/", form)
    assert response.status_code == 303
    ballot = Ballot.objects.get(write_in_status="pending")
    assert ballot.write_in == '<img src=x onerror=alert(1)>=HYPERLINK("x") ok'
    # Readers never see it; the editor sees it escaped, and the CSV defuses the formula.
    assert "onerror" not in reader.get("/polls/writein/results/").content.decode()
    poll = Poll.objects.get(slug="writein")
    moderation = world.admin.get(f"/admin/polls/poll/{poll.pk}/write-ins/").content.decode()
    assert "&lt;img src=x onerror=alert(1)&gt;" in moderation and "<img src=x" not in moderation
    listing = world.admin.get("/admin/polls/ballot/").content.decode()
    assert "<img src=x" not in listing
    ballot.write_in = '=HYPERLINK("https://evil.example")'
    ballot.save()
    export = world.admin.get(f"/admin/polls/poll/{poll.pk}/ballots.csv")
    csv_text = b"".join(export.streaming_content).decode()
    assert '"\'=HYPERLINK(""https://evil.example"")"' in csv_text


@hypothesis_settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=300))
def test_any_write_in_is_cleaned_to_one_line_without_controls(text):
    cleaned = write_in_cleaned(text)
    assert cleaned == cleaned.strip() and "  " not in cleaned
    assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in cleaned)
    assert not set(cleaned) & set(
        "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
    )
    assert write_in_cleaned(cleaned) == cleaned
