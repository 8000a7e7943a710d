"""Settings from the environment.

Every setting has a ``PHARMA_`` variable. The defaults give the embedded setup: an SQLite
database under ``instance/`` and Celery tasks run inline (no broker).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_SECRET = "dev-only-insecure-secret-change-me"
INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"


class ConfigError(RuntimeError):
    """The configuration is unsafe or incomplete; the app refuses to start."""


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    database_url: str = f"sqlite:///{INSTANCE_DIR / 'pharma.sqlite3'}"
    broker_url: str | None = None
    result_backend: str | None = None
    secret_key: str = DEFAULT_SECRET
    session_minutes: int = 30
    # argon2id cost; production keeps the library's defaults (RFC 9106 second recommendation)
    password_time_cost: int = 3
    password_memory_kib: int = 65536
    signin_max_failures: int = 5
    signin_window_minutes: int = 15
    default_locale: str = "en"
    log_level: str = "INFO"
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        get = env.get
        settings = cls(
            env=get("PHARMA_ENV", "development"),
            database_url=get("PHARMA_DATABASE_URL") or cls.database_url,
            broker_url=get("PHARMA_BROKER_URL") or None,
            result_backend=get("PHARMA_RESULT_BACKEND") or None,
            secret_key=get("PHARMA_SECRET_KEY") or DEFAULT_SECRET,
            session_minutes=int(get("PHARMA_SESSION_MINUTES", "30")),
            password_time_cost=int(get("PHARMA_PASSWORD_TIME_COST", "3")),
            password_memory_kib=int(get("PHARMA_PASSWORD_MEMORY_KIB", "65536")),
            signin_max_failures=int(get("PHARMA_SIGNIN_MAX_FAILURES", "5")),
            signin_window_minutes=int(get("PHARMA_SIGNIN_WINDOW_MINUTES", "15")),
            default_locale=get("PHARMA_DEFAULT_LOCALE", "en"),
            log_level=get("PHARMA_LOG_LEVEL", "INFO"),
        )
        settings.check()
        return settings

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def testing(self) -> bool:
        return self.env == "testing"

    def check(self) -> None:
        if self.env not in {"development", "testing", "production"}:
            raise ConfigError(f"PHARMA_ENV must be development, testing or production, not {self.env!r}")
        if self.production:
            if self.secret_key == DEFAULT_SECRET or len(self.secret_key) < 32:
                raise ConfigError(
                    "PHARMA_SECRET_KEY must be set to a random value of at least 32 characters "
                    "in production"
                )
            if self.password_memory_kib < 65536 or self.password_time_cost < 3:
                raise ConfigError("password hashing cost may not be lowered in production")

    def flask_config(self) -> dict:
        return {
            "SECRET_KEY": self.secret_key,
            "TESTING": self.testing,
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "SESSION_COOKIE_SECURE": self.production,
            "PERMANENT_SESSION_LIFETIME": self.session_minutes * 60,
            "WTF_CSRF_TIME_LIMIT": None,
            "WTF_CSRF_SSL_STRICT": self.production,
            "BABEL_DEFAULT_LOCALE": self.default_locale,
            "BABEL_TRANSLATION_DIRECTORIES": "translations",
            "MAX_CONTENT_LENGTH": 256 * 1024 * 1024,
            "API_TITLE": "pharma",
            "API_VERSION": "v1",
            "OPENAPI_VERSION": "3.0.3",
            "OPENAPI_URL_PREFIX": "/api",
            "OPENAPI_JSON_PATH": "openapi.json",
            "PHARMA": self,
        }
