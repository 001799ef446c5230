"""Settings of dangjian, read from DANGJIAN_* environment variables only.

The defaults are the embedded set-up: SQLite, local-memory cache and files on local disk, all under
one data directory (./var). A bad value stops the start with a message naming the variable.
"""

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

PACKAGE_DIR = Path(__file__).resolve().parent


class SettingError(ImproperlyConfigured):
    """A DANGJIAN_* variable holds a value we cannot use."""


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise SettingError(f"{name}={raw!r}: expected one of true/false/1/0/yes/no/on/off")


def env_int(name: str, default: int, *, minimum: int = 0, maximum: int = 2**31) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingError(f"{name}={raw!r}: expected a whole number") from None
    if not minimum <= value <= maximum:
        raise SettingError(f"{name}={raw!r}: expected a number from {minimum} to {maximum}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [part.strip() for part in raw.split(",") if part.strip()]


def _secret_from_file(path: Path, nbytes: int) -> str:
    """Read a generated secret, creating it (mode 0600) on first start."""
    if path.exists():
        value = path.read_text().strip()
        if value:
            return value
    value = secrets.token_urlsafe(nbytes)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value


DATA_DIR = Path(env_str("DANGJIAN_DATA_DIR", "var")).expanduser().resolve()
try:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
except OSError as exc:
    raise SettingError(f"DANGJIAN_DATA_DIR={str(DATA_DIR)!r}: cannot create it ({exc})") from None

DEBUG = env_bool("DANGJIAN_DEBUG", False)
SECRET_KEY = env_str("DANGJIAN_SECRET_KEY") or _secret_from_file(DATA_DIR / "secret_key", 48)
if len(SECRET_KEY) < 32:
    raise SettingError("DANGJIAN_SECRET_KEY: must be at least 32 characters long")
# Personal data is encrypted with a key of its own, so that rotating SECRET_KEY (sessions) never
# makes stored ID numbers unreadable.
DATA_KEY = env_str("DANGJIAN_DATA_KEY") or _secret_from_file(DATA_DIR / "data_key", 32)
if len(DATA_KEY) < 32:
    raise SettingError("DANGJIAN_DATA_KEY: must be at least 32 characters long")

ALLOWED_HOSTS = env_list("DANGJIAN_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DANGJIAN_CSRF_TRUSTED_ORIGINS", [])
for origin in CSRF_TRUSTED_ORIGINS:
    if not origin.startswith(("http://", "https://")):
        raise SettingError(
            f"DANGJIAN_CSRF_TRUSTED_ORIGINS: {origin!r} must start with http:// or https://"
        )

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "treebeard",
    "ninja",
    "django_tasks",
    "django_tasks_db",
    "dangjian.core",
    "dangjian.members",
    "dangjian.committees",
    "dangjian.transfers",
    "dangjian.dues",
    "dangjian.feedback",
    "dangjian.meetings",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "dangjian.core.middleware.RequestContextMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "dangjian.urls"
WSGI_APPLICATION = "dangjian.wsgi.application"
AUTH_USER_MODEL = "core.User"
AUTHENTICATION_BACKENDS = ["dangjian.core.auth.UsernameOrMobileBackend"]
LOGIN_URL = "core:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "core:login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "dangjian.core.context_processors.navigation",
            ],
        },
    },
]


def _database(url: str) -> dict:
    import dj_database_url

    try:
        config = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    except Exception as exc:  # dj-database-url raises several kinds for a malformed URL
        raise SettingError(f"DANGJIAN_DATABASE_URL={url!r}: {exc}") from None
    engine = config.get("ENGINE", "")
    if engine == "django.db.backends.sqlite3":
        config["CONN_MAX_AGE"] = 0
        config["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
            "PRAGMA busy_timeout=10000;",
            "transaction_mode": "IMMEDIATE",
        }
    elif engine != "django.db.backends.postgresql":
        raise SettingError(
            f"DANGJIAN_DATABASE_URL={url!r}: only sqlite:/// and postgres:// URLs are supported"
        )
    return config


DATABASE_URL = env_str("DANGJIAN_DATABASE_URL") or f"sqlite:///{DATA_DIR / 'dangjian.sqlite3'}"
DATABASES = {"default": _database(DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("DANGJIAN_REDIS_URL")
if REDIS_URL:
    if not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
        raise SettingError(f"DANGJIAN_REDIS_URL={REDIS_URL!r}: expected redis://host:port/db")
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("DANGJIAN_CACHE_PREFIX", "dangjian"),
        }
    }
else:
    # Local memory keeps 300 entries by default and culls the oldest: a flood of CAPTCHA
    # pictures would then wipe the rate-limit counters. Room for far more than a desk makes.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    }

TASKS = {
    "default": {"BACKEND": env_str("DANGJIAN_TASK_BACKEND", "django_tasks_db.DatabaseBackend")}
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise looks for it at start
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
MEDIA_ROOT = DATA_DIR / "media"
MEDIA_URL = "/media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env_int("DANGJIAN_SESSION_SECONDS", 8 * 3600, minimum=300)
SESSION_COOKIE_SECURE = env_bool("DANGJIAN_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

PAGE_SIZE = env_int("DANGJIAN_PAGE_SIZE", 50, minimum=10, maximum=500)
API_TOKEN_MAX_DAYS = env_int("DANGJIAN_API_TOKEN_MAX_DAYS", 365, minimum=1, maximum=3650)

# Organisation life cycle (DOMAIN §5, §7): the values the regulations leave configurable.
REELECTION_LEAD_DAYS = env_int("DANGJIAN_REELECTION_LEAD_DAYS", 90, minimum=1, maximum=730)
# Introduction letters: default validity; never more than three months (checked by the service).
LETTER_VALID_DAYS = env_int("DANGJIAN_LETTER_VALID_DAYS", 30, minimum=1, maximum=92)
# A pending transfer older than this is listed as stuck.
TRANSFER_STUCK_DAYS = env_int("DANGJIAN_TRANSFER_STUCK_DAYS", 30, minimum=1, maximum=365)
# Organisational life (DOMAIN §6): a branch that has held nothing yet is reminded this many days
# before a required period ends (and once more when it ended without).
MEETING_LEAD_DAYS = env_int("DANGJIAN_MEETING_LEAD_DAYS", 7, minimum=1, maximum=90)
# How often each worker runs the sweeps (expiring letters, reminders); 0 turns them off.
SWEEP_INTERVAL_SECONDS = env_int("DANGJIAN_SWEEP_INTERVAL", 300, minimum=0, maximum=86400)

# Party dues (DOMAIN §2): rounding of amounts to 0.01 yuan, half up unless set otherwise.
DUES_ROUNDING = env_str("DANGJIAN_DUES_ROUNDING", "half_up")
if DUES_ROUNDING not in ("half_up", "half_even"):
    raise ImproperlyConfigured("DANGJIAN_DUES_ROUNDING must be half_up or half_even")
# E-mail for reminders (dues, later notices): off unless a host is set.
EMAIL_HOST = env_str("DANGJIAN_EMAIL_HOST", "")
EMAIL_PORT = env_int("DANGJIAN_EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("DANGJIAN_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = env_str("DANGJIAN_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = env_bool("DANGJIAN_EMAIL_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DANGJIAN_EMAIL_FROM", "dangjian@localhost")
EMAIL_TIMEOUT = 10
# Text messages (短信) through an HTTP gateway, contract in dangjian.core.channels: off unless a
# URL is set.
SMS_URL = env_str("DANGJIAN_SMS_URL", "")
if SMS_URL:
    try:
        _sms = urlsplit(SMS_URL)
        _sms_ok = _sms.scheme in ("http", "https") and bool(_sms.hostname) and _sms.port != 0
    except ValueError:  # a malformed address or port
        _sms_ok = False
    if not _sms_ok:
        raise SettingError(
            f"DANGJIAN_SMS_URL={SMS_URL!r}: expected the http:// or https:// address of the gateway"
        )
SMS_TOKEN = env_str("DANGJIAN_SMS_TOKEN", "")
SMS_SIGNATURE = env_str("DANGJIAN_SMS_SIGNATURE", "")
SMS_TIMEOUT = 5  # seconds the gateway has to connect and to answer

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("DANGJIAN_LOG_LEVEL", "INFO").upper()},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# Used in page titles and the API document.
SITE_NAME = _("Party-building platform")
TRUST_X_FORWARDED_FOR = env_bool("DANGJIAN_TRUST_X_FORWARDED_FOR", False)
