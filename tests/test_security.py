import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from tests.helpers import make_article, manage, vote_form

pytestmark = pytest.mark.django_db

PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "x7-Production-like-secret-key-for-the-deploy-check-0123456789-abcdef",
    "ALLOWED_HOSTS": "polls.example",
    "SITE_URL": "https://polls.example",
    "SECURE_COOKIES": "1",
    "SECURE_SSL_REDIRECT": "1",
}


def test_the_deploy_check_passes_with_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS"])
def test_production_refuses_to_start_without_its_secrets(missing, tmp_path):
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    # A deployment has no .data/secret_key, from which a local checkout takes its defaults.
    result = manage("check", DATA_DIR=str(tmp_path), **env)
    assert result.returncode != 0
    assert f"{missing} must be set when DEBUG is off" in result.stderr


def csp(response) -> dict[str, str]:
    directives = [d.strip() for d in response["Content-Security-Policy"].split(";") if d.strip()]
    return {d.split()[0]: d for d in directives}


def assert_common_headers(response) -> None:
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    policy = csp(response)
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert policy["default-src"] == "default-src 'self'"
    # A nonce joins script-src only on pages that use one; none needs to today.
    assert policy["script-src"].startswith("script-src 'self'")
    assert policy["object-src"] == "object-src 'none'"


@pytest.mark.parametrize(
    "url",
    ["/", "/polls/archive/", "/polls/{slug}/", "/polls/{slug}/results/", "/articles/host/"],
)
def test_reader_pages_send_the_security_headers_and_refuse_framing(client, poll, url):
    make_article("Host", poll=poll, slug="host")
    response = client.get(url.format(slug=poll.slug))
    assert response.status_code == 200
    assert_common_headers(response)
    assert csp(response)["frame-ancestors"] == "frame-ancestors 'none'"
    assert response["X-Frame-Options"] == "DENY"


def test_the_widget_sends_the_headers_and_may_be_framed(client, poll):
    response = client.get(f"/polls/{poll.slug}/embed/")
    assert_common_headers(response)
    assert csp(response)["frame-ancestors"] == "frame-ancestors *"
    assert "X-Frame-Options" not in response


def test_error_pages_and_json_send_the_headers(client, poll):
    for response in (client.get("/polls/nope/"), client.get(f"/api/polls/{poll.slug}/results")):
        assert_common_headers(response)
        assert csp(response)["frame-ancestors"] == "frame-ancestors 'none'"


def test_the_admin_sends_the_headers(client):
    client.force_login(User.objects.create(username="editor", is_staff=True, is_superuser=True))
    response = client.get("/admin/polls/poll/")
    assert response.status_code == 200
    assert_common_headers(response)
    assert response["X-Frame-Options"] == "DENY"


def test_production_redirects_to_https_sends_hsts_and_secures_cookies(settings, poll):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_COOKIES = True
    settings.CSRF_COOKIE_SECURE = True
    client = Client()
    plain = client.get(f"/polls/{poll.slug}/")
    assert plain.status_code == 301 and plain["Location"].startswith("https://")
    assert client.get("/healthz").status_code == 200  # load balancers probe over plain HTTP
    secure = client.get(f"/polls/{poll.slug}/", secure=True)
    assert secure["Strict-Transport-Security"].startswith("max-age=31536000")
    assert secure.cookies == {}  # the poll page sets none; the admin's sign-in page does
    csrf_cookie = client.get(reverse("admin:login"), secure=True).cookies["csrftoken"]
    assert csrf_cookie["secure"] and csrf_cookie["httponly"]
    vote = client.post(
        f"/polls/{poll.slug}/vote/", vote_form(poll, choice=poll.choices.first().pk), secure=True
    )
    voter_cookie = vote.cookies["pollsite_voter"]
    assert voter_cookie["secure"] and voter_cookie["httponly"]


def test_the_admin_lives_at_the_configured_path():
    result = manage(
        "shell",
        "-c",
        "from django.urls import reverse; print(reverse('admin:index'))",
        DEBUG="1",
        ADMIN_URL="newsroom-desk/",
    )
    assert result.stdout.strip().splitlines()[-1] == "/newsroom-desk/", result.stderr


def test_the_deploy_check_asks_for_the_site_url():
    env = {k: v for k, v in PRODUCTION.items() if k != "SITE_URL"}
    result = manage("check", "--deploy", "--fail-level", "WARNING", **env)
    assert result.returncode != 0 and "polls.W001" in result.stdout + result.stderr


def test_the_deploy_check_warns_that_embedding_needs_https():
    insecure = manage("check", "--deploy", **{**PRODUCTION, "SITE_URL": "http://polls.example"})
    assert "polls.W002" in insecure.stdout + insecure.stderr
    secure = manage("check", "--deploy", **{**PRODUCTION, "SITE_URL": "https://polls.example"})
    assert "polls.W002" not in secure.stdout + secure.stderr


def test_a_site_url_that_is_not_an_origin_is_refused(tmp_path):
    result = manage("check", **{**PRODUCTION, "SITE_URL": "https://polls.example/path"})
    assert result.returncode != 0 and "SITE_URL must be an origin" in result.stderr


def test_production_hsts_binds_only_this_host_unless_told_otherwise(tmp_path):
    """A poll site on polls.news.example must not bind every subdomain of news.example."""
    script = (
        "from django.test import Client; "
        "print(Client().get('/healthz', secure=True, HTTP_HOST='polls.example')"
        "['Strict-Transport-Security'])"
    )
    default = manage("shell", "-c", script, **PRODUCTION)
    assert default.stdout.splitlines()[-1] == "max-age=31536000", default.stderr
    chosen = manage(
        "shell",
        "-c",
        script,
        **PRODUCTION,
        SECURE_HSTS_INCLUDE_SUBDOMAINS="1",
        SECURE_HSTS_PRELOAD="1",
    )
    assert chosen.stdout.splitlines()[-1] == "max-age=31536000; includeSubDomains; preload"
