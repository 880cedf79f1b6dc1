"""Typed configuration, read once from the environment into a `Settings` object."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path("~/.local/share/hestia")


class Settings(BaseSettings):
    """Everything Hestia reads from the environment (`HESTIA_*`) or the command line."""

    model_config = SettingsConfigDict(env_prefix="HESTIA_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8787, ge=0, le=65535)
    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str | None = None

    openai_base_url: str = "https://api.openai.com/v1"
    openai_api_key: str | None = None
    model: str = "gpt-4o-mini"
    anthropic_api_key: str | None = Field(
        default=None, validation_alias=AliasChoices("ANTHROPIC_API_KEY", "HESTIA_ANTHROPIC_API_KEY")
    )
    # Which provider serves models: auto (claude* to Anthropic when configured), openai, anthropic.
    provider: str = "auto"
    anthropic_base_url: str | None = None
    # Extended thinking budget in tokens for Anthropic models; 0 turns thinking off.
    anthropic_thinking_budget: int = Field(default=0, ge=0)
    password: str | None = None
    # A login lasts this many days (the session cookie's expiry; logout or a new password ends it).
    session_days: float = Field(default=30.0, gt=0, le=3650)
    # Failed logins one client may make per window before it gets 429 (in memory, per process).
    login_attempts: int = Field(default=10, ge=1)
    login_window_seconds: float = Field(default=300.0, gt=0)
    # Extra host names the server answers to (comma-separated; `*` answers any): a guard against
    # DNS rebinding. Loopback names, IP addresses, HESTIA_HOST and the machine's name always work.
    allowed_hosts: str = ""
    # Reverse proxies (comma-separated IPs) whose X-Forwarded-For/-Proto headers are believed.
    trusted_proxies: str = ""

    # Model calls one run may make before it stops and asks the user to continue.
    max_steps: int = Field(default=30, ge=1, le=1000)
    # Default approval policy (ask | dangerous | never); overrides the one saved in the UI.
    approval_policy: str | None = None
    # How long to wait for the provider before giving up on a request, in seconds.
    provider_timeout: float = Field(default=120.0, gt=0)
    max_message_bytes: int = Field(default=256 * 1024, gt=0)
    # Largest workspace file the files API reads, writes or uploads (413 above it).
    max_file_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    # Largest body `POST /api/sessions/import` accepts: one whole session export (413 above it).
    max_import_bytes: int = Field(default=64 * 1024 * 1024, gt=0)
    # Streamed text reaches the database at least this often (I2).
    flush_interval: float = Field(default=0.25, gt=0, le=0.25)
    # A running run's owner renews its lease this often; others may take it over after `lease`.
    lease_seconds: float = Field(default=30.0, gt=0)
    sse_ping_seconds: float = Field(default=15.0, gt=0)

    # Runtime of new sessions (builtin | hermes); overrides the one saved in the UI.
    runtime: str | None = None
    # Where the Hermes runtime's model comes from: `hermes` (HERMES_HOME/config.yaml) or
    # `hestia` (HESTIA_OPENAI_BASE_URL, HESTIA_OPENAI_API_KEY and the session's model).
    hermes_provider: str = "hermes"
    # Hermes' home (config.yaml, .env, memories, skills); None means HERMES_HOME, else ~/.hermes.
    hermes_home: Path | None = None
    # Seconds a cancelled Hermes run gets to stop by itself before its worker is killed.
    hermes_cancel_grace: float = Field(default=3.0, ge=0)

    @field_validator("approval_policy", mode="after")
    @classmethod
    def _policy(cls, value: str | None) -> str | None:
        if value is not None and value not in ("ask", "dangerous", "never"):
            raise ValueError("must be ask, dangerous or never")
        return value

    @field_validator("runtime", mode="after")
    @classmethod
    def _runtime(cls, value: str | None) -> str | None:
        if value is not None and value not in ("builtin", "hermes"):
            raise ValueError("must be builtin or hermes")
        return value

    @field_validator("hermes_provider", mode="after")
    @classmethod
    def _hermes_provider(cls, value: str) -> str:
        if value not in ("hermes", "hestia"):
            raise ValueError("must be hermes or hestia")
        return value

    @field_validator("provider", mode="after")
    @classmethod
    def _provider(cls, value: str) -> str:
        if value not in ("auto", "openai", "anthropic"):
            raise ValueError("must be auto, openai or anthropic")
        return value

    @field_validator("anthropic_thinking_budget", mode="after")
    @classmethod
    def _budget(cls, value: int) -> int:
        # Anthropic refuses budgets under 1024 tokens: say so at start-up, not on every run.
        if 0 < value < 1024:
            raise ValueError("must be 0 (off) or at least 1024")
        return value

    @field_validator("data_dir", mode="after")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @property
    def effective_database_url(self) -> str:
        """The database URL: `HESTIA_DATABASE_URL`, or SQLite in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'hestia.db'}"

    @property
    def allowed_host_names(self) -> list[str]:
        """`HESTIA_ALLOWED_HOSTS` as lower-case names."""
        return [name.strip().lower() for name in self.allowed_hosts.split(",") if name.strip()]

    @property
    def effective_hermes_home(self) -> Path:
        """Hermes' home: `HESTIA_HERMES_HOME`, else `HERMES_HOME`, else `~/.hermes`."""
        if self.hermes_home is not None:
            return self.hermes_home.expanduser()
        return Path(os.environ.get("HERMES_HOME") or "~/.hermes").expanduser()

    @property
    def binds_loopback(self) -> bool:
        """Whether `host` only accepts connections from this machine."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False
