"""Settings, read only from the environment (django-environ, optionally a `.env` file).

Development defaults are safe and need nothing set: SQLite in the project folder, DEBUG on.
Production is `DEBUG=False`, which refuses to start without `SECRET_KEY`.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env(
    DEBUG=(bool, True),
    ALLOWED_HOSTS=(list, ["127.0.0.1", "localhost", "testserver"]),
    CSRF_TRUSTED_ORIGINS=(list, []),
    LOG_LEVEL=(str, "INFO"),
    LOYALTY_JOB_BATCH_SIZE=(int, 500),
    LOYALTY_IDEMPOTENCY_TTL_HOURS=(int, 48),
    SECURE_SSL_REDIRECT=(bool, False),
    API_RATE_LIMIT=(int, 1200),
    DB_POOL=(bool, True),
    DB_POOL_MIN_SIZE=(int, 2),
    DB_POOL_MAX_SIZE=(int, 20),
    DB_POOL_TIMEOUT=(float, 10.0),
    TASKS_BACKEND=(str, "django_tasks_db.DatabaseBackend"),
    WEBHOOKS_ALLOW_PRIVATE_NETWORKS=(bool, False),
    WEBHOOKS_TIMEOUT=(float, 10.0),
    WEBHOOKS_DISABLE_AFTER_DAYS=(int, 5),
    EVENTS_RETENTION_DAYS=(int, 30),
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
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "members.middleware.TenantScopeMiddleware",
    "members.middleware.ProgramLocaleMiddleware",
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
MEDIA_URL = "media/"
MEDIA_ROOT = BASE_DIR / "media"

LOGIN_URL = "portal:login"
LOGIN_REDIRECT_URL = "portal:home"
LOGOUT_REDIRECT_URL = "portal:login"

# Bodies above this are refused with 413 before any parsing.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

if not DEBUG:
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_SSL_REDIRECT = env("SECURE_SSL_REDIRECT")
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_CONTENT_TYPE_NOSNIFF = True

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

UNFOLD = {
    "SITE_TITLE": "Loyalty console",
    "SITE_HEADER": "Loyalty console",
    "SITE_SYMBOL": "loyalty",
    "SHOW_HISTORY": True,
    "DASHBOARD_CALLBACK": "members.dashboard.dashboard_callback",
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
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
