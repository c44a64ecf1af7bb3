"""Settings, read only from the environment (django-environ, optionally a `.env` file).

Development defaults are safe and need nothing set: SQLite in the project folder, DEBUG on.
Production is `DEBUG=False`, which refuses to start without `SECRET_KEY`.
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.templatetags.static import static
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env(
    DEBUG=(bool, True),
    ALLOWED_HOSTS=(list, ["127.0.0.1", "localhost", "testserver"]),
    CSRF_TRUSTED_ORIGINS=(list, []),
    LOG_LEVEL=(str, "INFO"),
    LOYALTY_JOB_BATCH_SIZE=(int, 500),
    LOYALTY_IDEMPOTENCY_TTL_HOURS=(int, 48),
    API_RATE_LIMIT=(int, 1200),
    API_CACHE_SECONDS=(int, 30),
    DB_POOL=(bool, True),
    DB_POOL_MIN_SIZE=(int, 2),
    DB_POOL_MAX_SIZE=(int, 20),
    DB_POOL_TIMEOUT=(float, 10.0),
    DB_PREPARED_STATEMENTS=(bool, True),
    TASKS_BACKEND=(str, "django_tasks_db.DatabaseBackend"),
    WEBHOOKS_ALLOW_PRIVATE_NETWORKS=(bool, False),
    WEBHOOKS_TIMEOUT=(float, 10.0),
    WEBHOOKS_DISABLE_AFTER_DAYS=(int, 5),
    EVENTS_RETENTION_DAYS=(int, 30),
    AXES_FAILURE_LIMIT=(int, 5),
    AXES_COOLOFF_MINUTES=(int, 30),
    SECURE_HSTS_SECONDS=(int, 31536000),
    SECURE_HSTS_INCLUDE_SUBDOMAINS=(bool, True),
    SECURE_HSTS_PRELOAD=(bool, True),
    SESSION_COOKIE_AGE=(int, 60 * 60 * 12),
    EMAIL_HOST=(str, ""),
    EMAIL_PORT=(int, 587),
    EMAIL_HOST_USER=(str, ""),
    EMAIL_HOST_PASSWORD=(str, ""),
    EMAIL_USE_TLS=(bool, True),
    DEFAULT_FROM_EMAIL=(str, "Loyalty <no-reply@localhost>"),
)
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env("DEBUG")
_DEV_SECRET = "django-insecure-development-only-key-never-use-in-production"
SECRET_KEY = env("SECRET_KEY", default=_DEV_SECRET if DEBUG else None)
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is False.")
ALLOWED_HOSTS = env("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "unfold",
    "unfold.contrib.filters",
    "unfold.contrib.import_export",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework_api_key",
    "django_filters",
    "import_export",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "pgtrigger",
    "loyaltysite",
    "members",
    "ledger",
    "rules",
    "tiers",
    "rewards",
    "referrals",
    "events",
    "analytics",
    "accounts",
    "axes",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_tasks",
    "django_tasks_db",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "accounts.middleware.ContentSecurityPolicyMiddleware",
    "members.middleware.TenantScopeMiddleware",
    "members.middleware.ProgramLocaleMiddleware",
    "accounts.middleware.ConsoleTwoFactorMiddleware",
    # Last: turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "loyaltysite.urls"

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
                "django.template.context_processors.i18n",
            ],
        },
    },
]

WSGI_APPLICATION = "loyaltysite.wsgi.application"

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env("DB_POOL"):
    # Django's psycopg pool: each process keeps connections open and hands them out per
    # request (opening one per request cost two thirds of an earn's throughput).
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env("DB_POOL_MIN_SIZE"),
        "max_size": env("DB_POOL_MAX_SIZE"),
        "timeout": env("DB_POOL_TIMEOUT"),
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps the connections
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The hot paths' own statements (``loyaltysite.db.prepared_cursor``) are prepared once per
    # connection and executed by name: PostgreSQL parses and plans an earn's statement in more
    # time than it runs it. The ORM's queries bind on the client and are never prepared.
    # A pooler in transaction mode that does not track prepared statements (PgBouncer before
    # 1.21) needs DB_PREPARED_STATEMENTS=False.
    options = DATABASES["default"].setdefault("OPTIONS", {})
    options["prepare_threshold"] = 1 if env("DB_PREPARED_STATEMENTS") else None
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the dev server and jobs share the file.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"}
    )
    DATABASES["default"]["TEST"] = {"NAME": None}

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
# The console and the portal in each (a program's ``language`` picks its default; the portal
# has a switch). English (UK) takes its date and time formats from loyaltysite/formats.
LANGUAGES = [("en", "English"), ("en-gb", "English (UK)"), ("de", "Deutsch")]
FORMAT_MODULE_PATH = ["loyaltysite.formats"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
LOCALE_PATHS = [BASE_DIR / "locale"]

STATIC_URL = "static/"
STATIC_ROOT = env("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
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
# Uploads (reward images): served by Django itself only with DEBUG on; in production the web
# server in front serves MEDIA_ROOT at MEDIA_URL.
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(BASE_DIR / "media")))
# Uploads above this size are refused (a reward image).
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

LOGIN_URL = "accounts:login"
# A sign-in without ``next`` lands customers on the portal, staff on the console (on either
# door: ``accounts.views.landing``).
LOGIN_REDIRECT_URL = "accounts:landing"
LOGOUT_REDIRECT_URL = "accounts:login"

# Bodies above this are refused with 413 before any parsing.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

# -- The two front doors (SPEC 13, 14): sign-in throttling, sessions, CSP -----------------------
# django-axes: AXES_FAILURE_LIMIT failed sign-ins for one username from one address lock that
# pair out for AXES_COOLOFF_MINUTES, on the console and the portal alike; the lockout page is
# ``accounts/lockout.html`` (HTTP 429). A successful sign-in clears the count.
AUTHENTICATION_BACKENDS = [
    "accounts.backends.ThrottledSignInBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env("AXES_FAILURE_LIMIT")
AXES_COOLOFF_TIME = timedelta(minutes=env("AXES_COOLOFF_MINUTES"))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/lockout.html"
AXES_VERBOSE = False

SESSION_COOKIE_AGE = env("SESSION_COOKIE_AGE")
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if not DEBUG:
    # HTTPS only: secure cookies, HSTS (a year, subdomains, preload by default) and a redirect
    # to https (SECURE_SSL_REDIRECT=False when a proxy in front already redirects).
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env("SECURE_HSTS_SECONDS")
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env("SECURE_HSTS_INCLUDE_SUBDOMAINS")
    SECURE_HSTS_PRELOAD = env("SECURE_HSTS_PRELOAD")
    # /healthz is probed over plain http inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# django-csp: this origin only. The portal runs no inline script or style at all; the console
# (django-unfold) needs Alpine.js's evaluated attributes and its inline styles, which
# ``accounts.middleware.ContentSecurityPolicyMiddleware`` allows under /admin/ only. Images may
# also come from https (a reward's image URL) and data: URIs (QR codes). The API docs set their
# own header (loyaltysite/api/docs.py), which the middleware leaves alone.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "https:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# Two-factor sign-in for staff (django-otp, TOTP): ``accounts`` owns enrolment and the policy.
OTP_TOTP_ISSUER = "Loyalty console"

# E-mail (password reset): printed to the console unless EMAIL_HOST names an SMTP server.
EMAIL_HOST = env("EMAIL_HOST")
EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_PORT = env("EMAIL_PORT")
EMAIL_HOST_USER = env("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env("EMAIL_USE_TLS")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["loyaltysite.api.auth.MerchantApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["loyaltysite.api.auth.HasMerchantApiKey"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["loyaltysite.api.parsers.BoundedJSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "loyaltysite.api.schema.ContractAutoSchema",
    "EXCEPTION_HANDLER": "loyaltysite.api.exceptions.problem_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["loyaltysite.api.throttling.ApiKeyRateThrottle"],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_PAGINATION_CLASS": "loyaltysite.api.pagination.PagePagination",
    "PAGE_SIZE": 50,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Loyalty platform API",
    "DESCRIPTION": (
        "Per-merchant loyalty programs: members, the points ledger, earning, rewards. "
        "Authenticate with `Authorization: Api-Key <key>`. Writes accept `Idempotency-Key`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a `kind` or `status`: name each choice set after its model.
    "ENUM_NAME_OVERRIDES": {
        "EntryKindEnum": "ledger.models.Entry.Kind",
        "HoldStatusEnum": "ledger.models.Hold.Status",
        "MemberStatusEnum": "members.models.Member.Status",
        "RuleKindEnum": "rules.models.EarningRule.Kind",
        "OrderStatusEnum": "rules.models.Order.Status",
        "RewardKindEnum": "rewards.models.Reward.Kind",
        "RedemptionKindEnum": "rewards.models.Redemption.Kind",
        "RedemptionStatusEnum": "rewards.models.Redemption.Status",
        "VoucherStatusEnum": "rewards.models.Voucher.Status",
        "ReferralStatusEnum": "referrals.models.Referral.Status",
        "ReferralRewardKindEnum": "referrals.models.RewardKind",
        "ReferralChannelEnum": "referrals.models.Referral.Channel",
        "ReferralDecisionEnum": "referrals.models.Referral.Decision",
        "ReferralSideEnum": "referrals.models.ReferralReward.Side",
        "ReferralGivenKindEnum": "referrals.models.ReferralReward.Kind",
        "ReferralGivenStatusEnum": "referrals.models.ReferralReward.Status",
    },
}

API_KEY_CUSTOM_HEADER = None  # `Authorization: Api-Key <key>`
API_RATE_LIMIT = env("API_RATE_LIMIT")  # requests per minute per API key (a key may override)
# How long a process keeps API keys and programs it read (loyaltysite/api/cache.py); 0: off.
API_CACHE_SECONDS = env("API_CACHE_SECONDS")

UNFOLD = {
    "SITE_TITLE": "Loyalty console",
    "SITE_HEADER": "Loyalty console",
    "SITE_SYMBOL": "loyalty",
    "SHOW_HISTORY": True,
    "DASHBOARD_CALLBACK": "members.dashboard.dashboard_callback",
    "SITE_FAVICONS": [
        {"rel": "icon", "type": "image/svg+xml", "href": lambda request: static("favicon.svg")},
    ],
    "ACCOUNT": {
        "navigation": [
            {"title": _("Two-factor sign-in"),
             "link": reverse_lazy("accounts:two_factor")},
        ],
    },
    "ENVIRONMENT": "members.dashboard.environment_callback",
}

LOYALTY = {
    "JOB_BATCH_SIZE": env("LOYALTY_JOB_BATCH_SIZE"),
    "IDEMPOTENCY_TTL_HOURS": env("LOYALTY_IDEMPOTENCY_TTL_HOURS"),
}

# Background work (SPEC 10): Django's task framework (the django-tasks backport). The database
# backend is the embedded default: workers run `manage.py db_worker`, several at once, on several
# machines. TASKS_BACKEND swaps in another backend (Redis through RQ, Celery: see the README).
TASKS = {
    "default": {
        "BACKEND": env("TASKS_BACKEND"),
        "QUEUES": ["default", "webhooks", "jobs"],
    },
}

# Webhooks (SPEC 11): private, loopback and link-local receivers are refused unless allowed
# (development and tests); a delivery attempt gives up after WEBHOOKS_TIMEOUT seconds; an endpoint
# failing for WEBHOOKS_DISABLE_AFTER_DAYS is disabled; events are kept EVENTS_RETENTION_DAYS.
WEBHOOKS_ALLOW_PRIVATE_NETWORKS = env("WEBHOOKS_ALLOW_PRIVATE_NETWORKS")
WEBHOOKS_TIMEOUT = env("WEBHOOKS_TIMEOUT")
WEBHOOKS_DISABLE_AFTER_DAYS = env("WEBHOOKS_DISABLE_AFTER_DAYS")
EVENTS_RETENTION_DAYS = env("EVENTS_RETENTION_DAYS")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain",
                             "level": env("LOG_LEVEL")}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL")},
    "loggers": {"django.db.backends": {"level": "WARNING"},
                # Failed sign-ins and lockouts are WARNING; every success would be INFO.
                "axes": {"level": "WARNING"}},
}
