"""LabelHub settings: one module, configured by environment variables.

Every knob a deployment turns is an environment variable, documented in README.md. Without any,
the app runs on a SQLite file under var/ for a zero-setup trial; production sets DATABASE_URL
to PostgreSQL and must set SECRET_KEY.
"""

import contextlib
import os
import secrets
import tempfile
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


DEBUG = env_bool("DEBUG")

# Where an installation keeps its own files (the SQLite database, development keys, imports).
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))


def installation_key(name: str) -> str:
    """A random key made on first start and kept in VAR_DIR, readable by its owner only, so that
    a development server never runs under a key anyone can read in the source."""
    path = VAR_DIR / f"{name}.key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        fd, draft = tempfile.mkstemp(dir=VAR_DIR, prefix=f".{name}.key.")  # mode 0600
        with os.fdopen(fd, "w", encoding="ascii") as file:
            file.write(secrets.token_urlsafe(64) + "\n")
        # A hard link appears whole or not at all: of two processes starting together, the
        # second finds the first one's key.
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
        os.unlink(draft)
    key = path.read_text(encoding="ascii").strip()
    if len(key) < 50:
        raise ImproperlyConfigured(f"{path} holds no usable key (under 50 characters); delete it.")
    return key


SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        # A default key in production would let anyone forge sessions and pseudonyms.
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = installation_key("secret")

# Pseudonymous annotator ids, and the fingerprints in guidelines, are HMACs under this key.
# Rotating it renames every annotator in later exports, so it may be set apart from SECRET_KEY.
PSEUDONYM_KEY = os.environ.get("PSEUDONYM_KEY") or SECRET_KEY

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "projects.apps.LabelHubAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "guardian",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "labelhub",
    "projects",
    "annotations",
    "quality",
    "costs",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Runs the view after CSRF and authentication: retries what is safe when the database drops.
    "labelhub.resilience.DatabaseRestartMiddleware",
    # Last, as django-axes asks: it turns a lockout raised during login into its response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "labelhub.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "labelhub.wsgi.application"

# DATABASE_URL selects PostgreSQL (postgres://user@host:port/name, psycopg 3); unset means a
# SQLite file under var/ so that `make run` needs nothing installed.
_default_sqlite = f"sqlite:///{VAR_DIR / 'labelhub.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", _default_sqlite),
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if (
    DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    and os.environ.get("DB_PREPARED_STATEMENTS", "1") == "1"
):
    # Statements run often enough on one connection are prepared once and then only executed:
    # PostgreSQL spent about half of a labelling request's time parsing and planning them.
    # Needs parameters bound by the server. Turn off (0) behind a pooler that cannot carry
    # prepared statements across connections (PgBouncer in transaction mode before 1.21).
    # Added to what DATABASE_URL sets (e.g. ?sslmode=require).
    DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=5)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # Writers queue for the lock instead of failing at once when two requests write together.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "labelhub.User"

AUTHENTICATION_BACKENDS = [
    # First, so that a locked-out login is refused before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
# Nobody anonymous ever holds a project permission; guardian needs no anonymous user row.
ANONYMOUS_USER_NAME = None
GUARDIAN_MONKEY_PATCH_USER = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Login throttling (django-axes): after AXES_FAILURE_LIMIT failures for one username from one
# address, that pair is locked out for the cool-off time. Unknown usernames count the same way,
# so the response never tells a real account from a made-up one.
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# The client's address, for lock-outs as for the API's rate limits and the audit trail (see NUM_PROXIES).
AXES_CLIENT_IP_CALLABLE = "labelhub.audit.client_ip"

# How many proxies in front of the app append the address they saw to X-Forwarded-For. With 0,
# the default, that header is whatever the client made up, so rate limits, login lock-outs and
# the audit trail go by the connection's own address; behind N proxies, by the address the
# outermost one saw (the Nth entry from the right).
NUM_PROXIES = int(os.environ.get("NUM_PROXIES", "0"))
if NUM_PROXIES < 0:
    raise ImproperlyConfigured(f"NUM_PROXIES must be 0 or more, got {NUM_PROXIES}.")

# Where the admin keeps an uploaded item file between its check and its confirmation (an hour).
# On several web hosts this must be a shared folder.
ITEM_IMPORT_DIR = Path(os.environ.get("ITEM_IMPORT_DIR", VAR_DIR / "imports"))

# Conflict of interest: how far back a membership in a competitor's project still counts.
CONFLICT_WINDOW_DAYS = int(os.environ.get("CONFLICT_WINDOW_DAYS", "365"))

# Items skipped by at least this many experts are flagged on the project page.
SKIP_FLAG_MIN = int(os.environ.get("SKIP_FLAG_MIN", "2"))

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "annotations:home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "static"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Security headers. Scripts and styles come only from our own static files: task data is
# untrusted text, so an injected inline script must have nowhere to run.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_COOKIE_AGE", str(60 * 60 * 12)))
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(60 * 60 * 24 * 365)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

REST_FRAMEWORK = {
    # Tokens for the ML engineers' scripts (one per user, made and revoked on /account/tokens/);
    # the session for the browser, where CSRF still guards every write.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "labelhub.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # The API reads JSON bodies (the item import reads its own); a form-encoded body cannot say
    # null or a number, so it is refused with 415 rather than read loosely. The parser refuses a
    # body nested too deep with a 400.
    "DEFAULT_PARSER_CLASSES": ["labelhub.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "labelhub.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    # The labelling pages count against the same rates (labelhub.throttling).
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("API_RATE_ANON", "60/min"),
        "user": os.environ.get("API_RATE_USER", "600/min"),
    },
    "NUM_PROXIES": NUM_PROXIES,
}
# DRF's throttles count requests in the default cache. Local memory counts per process, so with
# N gunicorn workers a client may make up to N times the rate; a shared cache (Redis, memcached)
# here would make the limit exact.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

SPECTACULAR_SETTINGS = {
    "TITLE": "LabelHub API",
    "DESCRIPTION": "Projects, exports and item imports for ML engineers. Send `Authorization: Token <key>`.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI's files come from our own static files (drf-spectacular-sidecar), never a CDN:
    # the CSP allows scripts from this site only.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # `<pk:…>` (labelhub.converters): a row's id, digits within the primary keys' (BigAutoField) range.
    "PATH_CONVERTER_OVERRIDES": {"pk": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}},
    # A name that says whose status it is (an expert's in a project's quality report).
    "ENUM_NAME_OVERRIDES": {"ExpertStatusEnum": "quality.api.EXPERT_STATUSES"},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # django-axes logs every successful login's reset at INFO; failures and lockouts are WARNING.
    "loggers": {"axes": {"level": "WARNING"}},
}
