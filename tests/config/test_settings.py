"""Settings come only from the environment and fail loudly when production values are missing."""

import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "x9!v2KqL7m#Rp4tWz8Yb1Nc6Hd3Fg5Js0Ae-Qu_Xo+Ki*Lr&Ty%Mw^Ep@Zs",
    "ALLOWED_HOSTS": "textcast.example.com",
    "DATABASE_URL": "postgres://textcast@db.internal:5432/textcast",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "PUBLIC_BASE_URL": "https://textcast.example.com",
}


def run_manage(*args, env):
    ours = {"DATABASE_URL", "REDIS_URL", "DEBUG", "SECRET_KEY", "SECURE_SSL_REDIRECT", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    clean = {k: v for k, v in os.environ.items() if k not in ours}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env={**clean, **env},
        capture_output=True, text=True, timeout=60,
    )


def test_check_deploy_is_clean_with_production_environment():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_production_without_secret_key_refuses_to_start():
    env = {**PRODUCTION_ENV, "SECRET_KEY": ""}
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert "Set SECRET_KEY" in result.stderr


def test_bad_numeric_setting_fails_loudly():
    result = run_manage("check", env={**PRODUCTION_ENV, "MESSAGEWHIZ_READ_TIMEOUT": "soon"})
    assert result.returncode != 0
    assert "soon" in result.stderr


def settings_value(expression, env):
    result = run_manage("shell", "-c", f"from django.conf import settings; print({expression})", env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_embedded_defaults_need_no_server(tmp_path):
    env = {"DEBUG": "true", "VAR_DIR": str(tmp_path)}
    assert settings_value("settings.CELERY_BROKER_URL", env) == "filesystem://localhost/"
    assert settings_value("settings.DATABASES['default']['NAME']", env) == str(tmp_path / "db.sqlite3")


def test_redis_url_becomes_broker_and_cache():
    env = {**PRODUCTION_ENV}
    assert settings_value("settings.CELERY_BROKER_URL", env) == "redis://redis.internal:6379/0"
    assert settings_value("settings.CACHES['default']['BACKEND']", env).endswith("RedisCache")
    assert settings_value("settings.DATABASES['default']['HOST']", env) == "db.internal"
