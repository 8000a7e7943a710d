"""Settings from PHARMA_* variables, and the refusals that keep production safe."""

from __future__ import annotations

import pytest

from pharma.config import DEFAULT_SECRET, INSTANCE_DIR, ConfigError, Settings

STRONG = "k" * 40


def test_with_no_variables_the_defaults_give_the_embedded_setup():
    s = Settings.from_env({})
    assert s.env == "development"
    assert not s.production and not s.testing
    assert s.database_url == f"sqlite:///{INSTANCE_DIR / 'pharma.sqlite3'}"
    assert s.broker_url is None and s.result_backend is None
    assert s.secret_key == DEFAULT_SECRET
    assert (s.session_minutes, s.signin_max_failures, s.signin_window_minutes) == (30, 5, 15)
    assert (s.password_time_cost, s.password_memory_kib) == (3, 65536)
    assert (s.default_locale, s.log_level) == ("en", "INFO")


def test_every_variable_is_read():
    s = Settings.from_env({
        "PHARMA_ENV": "testing",
        "PHARMA_DATABASE_URL": "postgresql://pharma@db.example/pharma",
        "PHARMA_BROKER_URL": "redis://127.0.0.1:6379/3",
        "PHARMA_RESULT_BACKEND": "redis://127.0.0.1:6379/4",
        "PHARMA_SECRET_KEY": STRONG,
        "PHARMA_SESSION_MINUTES": "45",
        "PHARMA_PASSWORD_TIME_COST": "1",
        "PHARMA_PASSWORD_MEMORY_KIB": "1024",
        "PHARMA_SIGNIN_MAX_FAILURES": "7",
        "PHARMA_SIGNIN_WINDOW_MINUTES": "20",
        "PHARMA_DEFAULT_LOCALE": "az",
        "PHARMA_LOG_LEVEL": "WARNING",
    })
    assert s.testing
    assert s.database_url == "postgresql://pharma@db.example/pharma"
    assert s.broker_url == "redis://127.0.0.1:6379/3"
    assert s.result_backend == "redis://127.0.0.1:6379/4"
    assert s.secret_key == STRONG
    assert s.session_minutes == 45
    assert (s.password_time_cost, s.password_memory_kib) == (1, 1024)
    assert (s.signin_max_failures, s.signin_window_minutes) == (7, 20)
    assert (s.default_locale, s.log_level) == ("az", "WARNING")


def test_empty_variables_mean_the_default():
    s = Settings.from_env({"PHARMA_DATABASE_URL": "", "PHARMA_BROKER_URL": "", "PHARMA_RESULT_BACKEND": "",
                           "PHARMA_SECRET_KEY": ""})
    assert s.database_url == Settings.database_url
    assert s.broker_url is None and s.result_backend is None
    assert s.secret_key == DEFAULT_SECRET


def test_a_number_that_is_not_a_number_is_refused():
    with pytest.raises(ValueError):
        Settings.from_env({"PHARMA_SESSION_MINUTES": "half an hour"})


def test_an_unknown_environment_is_refused():
    with pytest.raises(ConfigError, match="PHARMA_ENV"):
        Settings.from_env({"PHARMA_ENV": "staging"})


@pytest.mark.parametrize("secret", [None, "", DEFAULT_SECRET, "short-secret", "x" * 31])
def test_production_refuses_the_default_or_a_short_secret(secret):
    environ = {"PHARMA_ENV": "production"}
    if secret is not None:
        environ["PHARMA_SECRET_KEY"] = secret
    with pytest.raises(ConfigError, match="PHARMA_SECRET_KEY"):
        Settings.from_env(environ)


def test_production_refuses_a_lowered_password_hashing_cost():
    for lowered in ({"PHARMA_PASSWORD_TIME_COST": "1"}, {"PHARMA_PASSWORD_MEMORY_KIB": "1024"}):
        with pytest.raises(ConfigError, match="password hashing cost"):
            Settings.from_env({"PHARMA_ENV": "production", "PHARMA_SECRET_KEY": STRONG, **lowered})


def test_production_with_a_strong_secret_starts_with_secure_cookies():
    s = Settings.from_env({"PHARMA_ENV": "production", "PHARMA_SECRET_KEY": "x" * 32,
                           "PHARMA_DATABASE_URL": "postgresql://pharma@db/pharma"})
    assert s.production
    cfg = s.flask_config()
    assert cfg["SECRET_KEY"] == "x" * 32
    assert cfg["SESSION_COOKIE_SECURE"] is True
    assert cfg["WTF_CSRF_SSL_STRICT"] is True
    assert cfg["SESSION_COOKIE_HTTPONLY"] is True
    assert cfg["TESTING"] is False


def test_development_cookies_work_over_plain_http_and_sessions_expire():
    cfg = Settings.from_env({"PHARMA_SESSION_MINUTES": "10"}).flask_config()
    assert cfg["SESSION_COOKIE_SECURE"] is False
    assert cfg["PERMANENT_SESSION_LIFETIME"] == 600
    assert cfg["PHARMA"].session_minutes == 10


def test_the_process_environment_is_the_default_source(monkeypatch):
    monkeypatch.setenv("PHARMA_DEFAULT_LOCALE", "ru")
    monkeypatch.setenv("PHARMA_ENV", "development")
    assert Settings.from_env().default_locale == "ru"


def test_the_readme_documents_every_variable():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    source = (root / "pharma" / "config.py").read_text(encoding="utf-8")
    readme = (root / "README.md").read_text(encoding="utf-8")
    variables = set(re.findall(r"\bPHARMA_[A-Z_]+\b", source))
    assert variables, "pharma/config.py names no PHARMA_ variable"
    assert sorted(v for v in variables if f"`{v}`" not in readme) == []


def test_the_readme_names_every_role():
    from pathlib import Path

    from pharma.parties.domain import Role

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert sorted(r.value for r in Role if f"| `{r.value}` |" not in readme) == []
