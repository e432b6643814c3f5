"""Configuration: environment variables (SOMEARKIV_*) over an optional TOML file over defaults.

The TOML file is ``somearkiv.toml`` in the working directory, or the path in
``SOMEARKIV_CONFIG``. S3 credentials are never configured here: they come from the standard
AWS chain (environment, profile, instance role), or from the embedded server's generated file.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

__all__ = ["API_PLATFORMS", "PROJECT_ROOT", "Settings", "SettingsError", "UnknownSetting", "check_environment",
           "get_settings", "known_settings"]

# Platforms whose APIs somearkiv reads, each with SOMEARKIV_<PLATFORM>_API_BASE and _TOKEN (README,
# "Platform APIs"). An account's own token, where one account needs another, is named in the
# register (api_token_env) and must start with SOMEARKIV_<PLATFORM>_TOKEN_.
API_PLATFORMS = ("facebook", "instagram", "youtube", "x", "linkedin", "mastodon", "bluesky", "tiktok", "threads")
_OTHER_SETTINGS = ("SOMEARKIV_CONFIG", "SOMEARKIV_LOG_FORMAT", "SOMEARKIV_LOG_LEVEL", "SOMEARKIV_PROJECT_DIR",
                   "SOMEARKIV_METRICS_TIMEOUT_S", "SOMEARKIV_METRICS_MAX_WAIT_S", "SOMEARKIV_LINKEDIN_VERSION")


# Names used before one scheme covered every platform: each points at what replaced it.
_RENAMED = {
    "SOMEARKIV_META_ACCESS_TOKEN": "SOMEARKIV_FACEBOOK_TOKEN and SOMEARKIV_INSTAGRAM_TOKEN",
    "SOMEARKIV_GRAPH_API_BASE": "SOMEARKIV_FACEBOOK_API_BASE and SOMEARKIV_INSTAGRAM_API_BASE",
    "SOMEARKIV_X_BEARER_TOKEN": "SOMEARKIV_X_TOKEN",
    "SOMEARKIV_YOUTUBE_API_KEY": "SOMEARKIV_YOUTUBE_TOKEN",
    "SOMEARKIV_LINKEDIN_ACCESS_TOKEN": "SOMEARKIV_LINKEDIN_TOKEN",
    "SOMEARKIV_FACEBOOK_PAGE_ID": "api_id in the register",
    "SOMEARKIV_INSTAGRAM_USER_ID": "api_id in the register",
    "SOMEARKIV_LINKEDIN_ORGANIZATION_ID": "api_id in the register",
}


class UnknownSetting(ValueError):
    """A SOMEARKIV_* environment variable that somearkiv does not read: a typo would be silently ignored."""

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _config_file() -> Path:
    return Path(os.environ.get("SOMEARKIV_CONFIG", "somearkiv.toml"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SOMEARKIV_", extra="forbid", allow_inf_nan=False)

    municipality: str = "Perstorps kommun"
    data_dir: Path = Field(default=Path("data"), description="Local copies, embedded S3 data, logs.")
    register_path: Path = Field(default=Path("accounts.yaml"), description="The account register.")
    retention_config: Path = Field(
        default=PROJECT_ROOT / "config" / "retention.yaml",
        description="Retention classes (informationshanteringsplan) the archive owns.",
    )

    # Object storage
    s3_endpoint_url: str | None = Field(default=None, description="Any S3 service; unset = AWS or embedded.")
    s3_embedded: bool | None = Field(
        default=None, description="Run the embedded SeaweedFS. Default: yes when no endpoint is set."
    )
    s3_embedded_port: int = Field(default=18330, ge=1024, le=65535 - 10008,
                                  description="First of the loopback ports SeaweedFS uses (up to this + 10008).")
    s3_bucket: str = Field(default="somearkiv", pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
                           description="An S3 bucket name: 3-63 lowercase letters, digits, dots and dashes.")
    s3_region: str | None = None
    s3_archivist_profile: str | None = Field(
        default=None, description="AWS profile of the archivist identity (holds, the approved disposal's deletions).")
    s3_auditor_profile: str | None = Field(default=None, description="AWS profile of the read-only auditor identity.")

    # Browser
    browser_path: str | None = Field(default=None, description="Chromium binary; default: auto-detect.")
    viewport_width: int = Field(default=1366, ge=200, le=10000)
    viewport_height: int = Field(default=900, ge=200, le=10000)
    navigation_timeout_s: float = Field(default=30.0, gt=0)
    capture_timeout_s: float = Field(default=180.0, gt=0, description="Hard limit for one whole capture.")
    max_page_height: int = Field(default=30000, description="A feed that keeps growing is cut here (px).")
    max_whole_page_height: int = Field(
        default=100000, description="A long page that does not grow is taken whole up to this safety limit (px).")
    max_scroll_s: float = Field(default=30.0, ge=0, description="Stop scrolling a page after this (s).")
    settle_quiet_s: float = Field(
        default=0.75, ge=0,
        description="A page is settled when, at its bottom, its height and items stayed the same this "
                    "long (s) and no request is in flight (a slow request is waited for, however long).")
    page_dwell_s: float = Field(
        default=1.0, ge=0,
        description="A page is shot no sooner than this after it landed (s): one that moves on by itself in that "
                    "time (a script, a meta refresh) is followed to where it goes.")
    capture_concurrency: int = Field(default=2, ge=1, le=256, description="Captures at once in one process.")
    browser_pages: int = Field(
        default=0, ge=0, description="Pages open at once in the browser, across captures (a capture's views run "
                                     "side by side while pages are free); 0 = two per core.")
    snapshot_batch_size: int = Field(
        default=0, ge=0, description="Split a round into child runs of this many accounts on the work pool "
                                     "(`snapshot-batch` deployment), so every worker takes a share; 0 = one run.")
    batch_timeout_s: float | None = Field(
        default=None, gt=0, description="A batch run still going after this is presumed lost and its accounts run "
                                  "again; default from the batch size and capture_timeout_s.")
    tile_height: int = Field(default=8192, ge=1024, description="Pages taller than two tiles are shot in tiles.")
    mobile_view: bool = Field(default=True, description="Also capture the page in a phone's viewport.")
    mobile_width: int = 390
    mobile_height: int = 844
    mobile_scale: float = Field(default=2.0, description="Device scale factor of the mobile view.")
    record_warc: bool = Field(default=True, description="Record the desktop page load as a WARC file.")
    pdf_text_layer: bool = Field(default=True, description="Make the archival PDF searchable (the page's words).")
    pdfa_processes: int = Field(
        default=1, ge=0, le=64,
        description="Worker processes that convert captures to PDF/A beside the flow's own, so a conversion's CPU "
                    "does not hold up the next capture; 0 = in the flow's process.")
    pdfa_memory_mb: int = Field(
        default=2048, ge=64,
        description="Memory one conversion may use in its worker process (MB); a page that needs more gets no "
                    "archival PDF (its PNGs are filed) instead of starving the machine.")
    pdfa_timeout_s: float = Field(
        default=600.0, gt=0,
        description="A conversion in a worker process still going after this is stopped; the capture is filed "
                    "without an archival PDF, its record says why (measured: 3.2 s for a 78 MB page).")
    consent_timeout_s: float = Field(default=4.0, ge=0, description="How long to look for a consent popup.")
    consent_look_s: float = Field(
        default=1.0, description="How long at most to look for a consent platform after load, before scrolling; "
                                 "the look ends sooner when autoconsent found none and nothing is loading.")
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Hosts, addresses or networks (CIDR) the browser may reach although they are not public; "
                    "'host:port' or '[v6]:port' allows that port only. The archive's own services "
                    "(embedded S3, S3 endpoint, Prefect API) stay refused whatever this says.",
    )
    outbound_ip: str | None = Field(default=None, description="This host's public address, for the records.")
    session_key: SecretStr | None = Field(
        default=None, description="The key that encrypts saved logins (`somearkiv login`); else the key file.")
    session_key_file: Path = Field(
        default=Path("~/.config/somearkiv/session.key"),
        description="File (0600, outside the data directory) holding the key that encrypts saved logins.")

    # Metrics (P4, P5)
    metrics_api: bool = Field(default=True, description="Ask the platforms' APIs (else read the page only).")
    metrics_window: Literal["30d", "calendar-month"] = Field(
        default="30d", description="Posts 'the last month': the 30 days before the capture, or the calendar month.")
    inactive_after: int = Field(default=2, ge=1, description="Captures in a row with no posts: inactive.")
    publish_dir: Path | None = Field(default=None, description="Where publish-register writes the förteckning.")

    # Authenticity and hand-over (P9)
    tsa_url: str | None = Field(default=None, description="RFC 3161 timestamp authority; unset: no timestamps.")
    tsa_ca_file: Path | None = Field(default=None, description="PEM of the CA the TSA's certificate chains to.")
    tsa_timeout_s: float = 15.0
    tsa_chain_file: Path | None = Field(
        default=None, description="PEM of the TSA's certificate chain (intermediates, root), kept beside each token "
                                  "when the token does not carry it.")
    tsa_username: str | None = Field(default=None, description="Basic authentication to the TSA: the user.")
    tsa_password: SecretStr | None = Field(default=None, description="Basic authentication to the TSA: the password.")
    tsa_token: SecretStr | None = Field(default=None, description="Bearer token for the TSA (Authorization: Bearer).")
    tsa_client_cert_file: Path | None = Field(default=None, description="PEM client certificate for the TSA (mTLS).")
    tsa_client_key_file: Path | None = Field(default=None, description="PEM key of the TSA client certificate.")
    tsa_client_key_password: SecretStr | None = Field(default=None, description="Password of that key, if any.")
    tsa_tls_ca_file: Path | None = Field(
        default=None, description="PEM of the CA(s) of the TSA's HTTPS server certificate; default: the system's.")
    sip_profile: Path = Field(default=PROJECT_ROOT / "config" / "sip.yaml",
                              description="The receiving archive's identifiers for E-ARK SIP export.")

    # Operation
    semiannual_cron: str = Field(default="0 6 1 1,7 *", description="When the half-yearly run starts (Stockholm).")
    review_link_hours: int = Field(default=168, ge=1, le=168, description="Lifetime of links in the UI.")
    browser_concurrency_limit: str | None = Field(
        default=None, description="A Prefect global concurrency limit that bounds captures across workers.")

    keep_local: bool = Field(default=True, description="Keep a local copy of each capture in data_dir.")
    prefect_port: int = Field(default=4200, ge=1, le=65535,
                              description="Port of the local Prefect server (demo, serve).")

    @field_validator("s3_endpoint_url", "tsa_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        return value

    @property
    def use_embedded_s3(self) -> bool:
        if self.s3_embedded is not None:
            return self.s3_embedded
        return self.s3_endpoint_url is None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=_config_file()))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once; unknown SOMEARKIV_* variables and bad values are refused
    (SettingsError: one line naming each variable or the TOML file)."""
    check_environment()
    config = _config_file()
    if "SOMEARKIV_CONFIG" in os.environ and not config.exists():  # named on purpose: a typo must not pass
        raise SettingsError(f"SOMEARKIV_CONFIG={config}: no such file "
                            "(unset it to read ./somearkiv.toml if there is one)")
    if config.exists() and not config.is_file():  # a FIFO would block, a device never end
        raise SettingsError(f"{config}: not a regular file, not read (SOMEARKIV_CONFIG names the TOML file)")
    if config.is_file() and config.stat().st_size > 1 << 20:
        raise SettingsError(f"{config}: larger than 1 MB, not read (a settings file is a page of text)")
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError(_one_line(exc, config)) from None
    except ValueError as exc:  # the TOML file itself does not parse
        raise SettingsError(f"{config}: {' '.join(str(exc).split())}") from None
    except RecursionError:  # tomllib reads nested arrays by recursion: 100 000 brackets are 200 KB
        raise SettingsError(f"{config}: values nested too deeply, not read (a settings file is a page of text)") \
            from None


class SettingsError(ValueError):
    """A setting's value is refused; the message is one line naming where it came from."""


def _one_line(exc: ValidationError, config: Path) -> str:
    problems = []
    for err in exc.errors(include_url=False):
        field = str(err["loc"][0]) if err["loc"] else ""
        env = f"SOMEARKIV_{field.upper()}"
        where = env if env in os.environ else f"{field} in {config}" if config.is_file() else env
        given = err.get("input")
        shown = f"={given!r}" if isinstance(given, str | int | float) and len(str(given)) <= 80 else ""
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "string_pattern_mismatch" and field in Settings.model_fields:
            message = Settings.model_fields[field].description or message
        problems.append(f"{where}{shown}: {message}")
    return "; ".join(problems)


def known_settings() -> frozenset[str]:
    """Every SOMEARKIV_* environment variable somearkiv reads."""
    fields = {f"SOMEARKIV_{name.upper()}" for name in Settings.model_fields}
    apis = {f"SOMEARKIV_{p.upper()}_{suffix}" for p in API_PLATFORMS for suffix in ("API_BASE", "TOKEN")}
    return frozenset(fields | apis | set(_OTHER_SETTINGS))


def check_environment(env: dict[str, str] | None = None) -> None:
    """Refuse SOMEARKIV_* variables somearkiv does not know, naming the closest known one."""
    import difflib

    env = dict(os.environ) if env is None else env
    known = known_settings()
    per_account = tuple(f"SOMEARKIV_{p.upper()}_TOKEN_" for p in API_PLATFORMS)
    unknown = sorted(name for name in env if name.startswith("SOMEARKIV_") and name not in known
                     and not name.startswith(per_account))
    if unknown:
        hints = []
        for name in unknown:
            renamed = next((new for old, new in _RENAMED.items() if name == old or name.startswith(old + "_")), None)
            close = [renamed] if renamed else difflib.get_close_matches(name, known, n=1, cutoff=0.5)
            hints.append(f"{name} (did you mean {close[0]}?)" if close else name)
        raise UnknownSetting("unknown setting(s), not read by somearkiv: " + "; ".join(hints)
                             + ". See README, 'Configuration' and 'Platform APIs'.")

