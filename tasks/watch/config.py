"""The watch's settings (config/watch.yaml): schedule, per-account intervals, weights and thresholds."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from somearkiv.settings import PROJECT_ROOT
from somearkiv.yamlfile import load_model

__all__ = ["DEFAULT_WATCH_CONFIG", "AccountWatch", "Thresholds", "WatchConfig", "read_watch_config"]

DEFAULT_WATCH_CONFIG = PROJECT_ROOT / "config" / "watch.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AccountWatch(_Strict):
    """One account's own watch settings (default: the file's)."""

    every_days: float | None = Field(default=None, gt=0)
    enabled: bool = True


class Thresholds(_Strict):
    minor: float = Field(default=0.15, gt=0)
    major: float = Field(default=0.5, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.major <= self.minor:
            raise ValueError("'major' must be above 'minor'")
        return self


class WatchConfig(_Strict):
    retention_class: str = "bevakning-90d"
    cron: str = "30 5 * * 1"
    every_days: float = Field(default=7, gt=0)
    slack_hours: float = Field(default=12, ge=0)
    accounts: dict[str, AccountWatch] = Field(default_factory=dict)
    announced_within_days: float = Field(default=14, ge=0)
    shot_height: int = Field(default=2700, ge=600, le=20000)
    thresholds: Thresholds = Thresholds()
    weights: dict[str, float] = Field(default_factory=lambda: {
        "name": 1.0, "handle": 1.0, "avatar": 1.0, "bio": 0.6, "pinned": 0.6, "banner": 0.6, "link": 0.5,
        "layout": 0.4, "followers": 0.25, "posting": 0.2})
    text_full_change: float = Field(default=0.4, gt=0, le=1)
    image_hash_bits: int = Field(default=10, ge=0, le=64)
    image_colour_distance: float = Field(default=40, ge=0)
    layout_min_similarity: float = Field(default=0.97, gt=0, le=1)
    layout_full_change: float = Field(default=0.85, gt=0, le=1)
    followers_jump: float = Field(default=0.2, gt=0)
    followers_jump_min: int = Field(default=50, ge=0)

    @model_validator(mode="after")
    def _layout(self) -> WatchConfig:
        if self.layout_full_change >= self.layout_min_similarity:
            raise ValueError("'layout_full_change' must be below 'layout_min_similarity'")
        unknown = set(self.weights) - {"name", "handle", "avatar", "bio", "pinned", "banner", "link", "layout",
                                       "followers", "posting"}
        if unknown:
            raise ValueError(f"unknown weights: {', '.join(sorted(unknown))}")
        return self

    def weight(self, element: str) -> float:
        return self.weights.get(element, 0.0)

    def interval(self, account_id: str) -> dt.timedelta | None:
        """How often *account_id* is watched; None when it is not."""
        own = self.accounts.get(account_id, AccountWatch())
        if not own.enabled:
            return None
        return dt.timedelta(days=own.every_days or self.every_days)

    def due(self, account_id: str, last: dt.datetime | None, now: dt.datetime) -> bool:
        """Whether *account_id* should be watched now, its last watch having been at *last*."""
        interval = self.interval(account_id)
        if interval is None:
            return False
        return last is None or now - last >= interval - dt.timedelta(hours=self.slack_hours)


def read_watch_config(path: Path | str | None = None) -> WatchConfig:
    """config/watch.yaml (or *path*), validated; errors name the file, line and field."""
    config, _node = load_model(Path(path or DEFAULT_WATCH_CONFIG), WatchConfig)
    return config
