"""Settings, read from the environment and an optional ``.env`` file.

Every setting is documented in ``.env.example``. A bad value stops start-up with
one line naming the setting (see ``load_settings``).
"""

from __future__ import annotations

from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/yishi.db"
SUPPORTED_LOCALES = ("zh_CN", "en")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    BOT_TOKEN: str | None = None
    DATABASE_URL: str = DEFAULT_DATABASE_URL
    TIMEZONE: str = "Asia/Shanghai"
    DEFAULT_LOCALE: str = "zh_CN"
    TELEGRAM_API_BASE: str = "https://api.telegram.org"
    TRANSPORT: Literal["aiogram", "ptb"] = "aiogram"
    # Webhook mode (`yishi run --webhook URL`): where the local server listens, and the secret
    # Telegram must echo in X-Telegram-Bot-Api-Secret-Token (generated at start when empty).
    WEBHOOK_HOST: str = "127.0.0.1"
    WEBHOOK_PORT: int = 8443
    WEBHOOK_SECRET: str | None = None
    # Outbox limits (Telegram's published broadcast limits); 0 turns a limit off.
    OUTBOX_GLOBAL_PER_SECOND: int = Field(default=30, ge=0)
    OUTBOX_CHAT_PER_SECOND: int = Field(default=1, ge=0)
    OUTBOX_GROUP_PER_MINUTE: int = Field(default=20, ge=0)
    # Run the scheduler in this process (deadlines, reminders, nudges, digests, meetings). With
    # several processes on one PostgreSQL database an advisory lock elects one of them anyway.
    SCHEDULER_ENABLED: bool = True
    # Census import: plausible bounds per home (a row outside them rejects the file, like any bad row).
    CENSUS_MAX_AREA_M2: int = Field(default=1000, ge=1, le=10_000_000)
    CENSUS_MIN_FLOOR: int = Field(default=-3, ge=-999, le=999)
    CENSUS_MAX_FLOOR: int = Field(default=100, ge=-999, le=999)
    # Kept outside the database (see bot/storage/keys.py): the ledger's HMAC key and the key secret
    # ballots are sealed under. Unset: generated once into keys.env beside the SQLite file.
    LEDGER_KEY: str | None = None
    BALLOT_SECRET_KEY: str | None = None
    # The residents' web pages (bot/web), served by `yishi run` and the local room. WEB_PORT 0: any free
    # port. WEB_BASE_URL is the public address used in links (sign-in links, ballot links); unset, the
    # pages are only reachable at http://WEB_HOST:WEB_PORT and the chat shows no web links.
    WEB_HOST: str = "127.0.0.1"
    WEB_PORT: int = Field(default=8081, ge=0, le=65535)
    WEB_BASE_URL: str | None = None
    # Logging: DEBUG, INFO, WARNING or ERROR (libraries stay at WARNING unless DEBUG); text lines or one JSON
    # object per line (for a log collector).
    LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    LOG_FORMAT: Literal["text", "json"] = "text"

    @field_validator("LOG_LEVEL", "LOG_FORMAT", mode="before")
    @classmethod
    def _lower_or_upper(cls, value: object, info: ValidationInfo) -> object:
        if not isinstance(value, str):
            return value
        return value.strip().upper() if info.field_name == "LOG_LEVEL" else value.strip().lower()

    @field_validator("BOT_TOKEN")
    @classmethod
    def _token(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        token = value.strip()
        bot_id, sep, secret = token.partition(":")
        if not sep or not bot_id.isdigit() or not secret:
            raise ValueError("expected the form <digits>:<secret> given by @BotFather")
        return token

    @field_validator("LEDGER_KEY", "BALLOT_SECRET_KEY")
    @classmethod
    def _key(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if len(value.strip()) < 32:
            raise ValueError("at least 32 characters (e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)")
        return value.strip()

    @field_validator("WEBHOOK_SECRET")
    @classmethod
    def _secret(cls, value: str | None) -> str | None:
        if value is None or not value:
            return None
        # Telegram accepts 1-256 characters of A-Z, a-z, 0-9, _ and -.
        if len(value) > 256 or not all(ch.isascii() and (ch.isalnum() or ch in "_-") for ch in value):
            raise ValueError("1-256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @field_validator("WEB_BASE_URL")
    @classmethod
    def _web_base_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        url = value.strip().rstrip("/")
        if not url.startswith(("http://", "https://")) or len(url) > 200:
            raise ValueError("must be an http(s) URL, e.g. https://yishi.example.org")
        return url

    @field_validator("DATABASE_URL")
    @classmethod
    def _database_url(cls, value: str) -> str:
        url = value.strip()
        # Accept the plain forms people paste and pin the async drivers we ship.
        for plain, driver in (("postgres://", "postgresql+asyncpg://"), ("postgresql://", "postgresql+asyncpg://"),
                              ("sqlite://", "sqlite+aiosqlite://")):
            if url.startswith(plain):
                url = driver + url[len(plain):]
        if not url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("use sqlite+aiosqlite:///path or postgresql+asyncpg://user:pass@host/db")
        return url

    @field_validator("TIMEZONE")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (e.g. Asia/Shanghai)") from exc
        return value

    @field_validator("DEFAULT_LOCALE")
    @classmethod
    def _locale(cls, value: str) -> str:
        normalized = value.replace("-", "_")
        if normalized not in SUPPORTED_LOCALES:
            raise ValueError(f"must be one of {', '.join(SUPPORTED_LOCALES)}")
        return normalized

    @field_validator("TELEGRAM_API_BASE")
    @classmethod
    def _api_base(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL, e.g. https://api.telegram.org")
        return value.rstrip("/")

    @field_validator("CENSUS_MAX_FLOOR")
    @classmethod
    def _floors(cls, value: int, info: ValidationInfo) -> int:
        lowest = info.data.get("CENSUS_MIN_FLOOR")
        if lowest is not None and value < lowest:
            raise ValueError(f"must not be below CENSUS_MIN_FLOOR ({lowest})")
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.TIMEZONE)


class SettingsError(Exception):
    """A setting has a bad value; the message is one line naming it."""


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(part) for part in first["loc"]) or "settings"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise SettingsError(f"Bad setting {name}: {message}") from None
