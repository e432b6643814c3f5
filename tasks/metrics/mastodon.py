"""Mastodon: the instance's public REST API, no credential needed.

``GET /api/v1/accounts/lookup?acct=user`` gives the account (``followers_count``,
``statuses_count``); ``GET /api/v1/accounts/:id/statuses`` its statuses newest first, 40 a page,
the next page in the ``Link: <...max_id=...>; rel="next"`` header. A status whose ``reblog`` is
set is a boost (counted apart); one with ``in_reply_to_id`` is a reply (a written post). Only
public and unlisted statuses count (private and direct ones are not published).
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterator
from typing import Any

from somearkiv.models import Account, Platform
from tasks.metrics.core import (
    HttpClient,
    Item,
    MetricsAdapter,
    Profile,
    Unavailable,
    Window,
    as_count,
    iter_pages,
    parse_time,
)

__all__ = ["MastodonAdapter", "split_handle", "next_link"]

_HANDLE = re.compile(r"^@?(?P<user>[A-Za-z0-9_.-]+)@(?P<instance>[A-Za-z0-9.-]+\.[A-Za-z]{2,}(?::\d+)?)$")
_LINK = re.compile(r'<(?P<url>[^>]*)>\s*;[^,]*?\brel="?(?P<rel>[^",;]+)"?')
_PUBLISHED = {"public", "unlisted", None}


def split_handle(account: Account) -> tuple[str, str] | None:
    """('perstorp', 'mastodon.nu') from '@perstorp@mastodon.nu', or from https://mastodon.nu/@perstorp."""
    match = _HANDLE.match(account.handle.strip())
    if match:
        return match["user"], match["instance"].lower()
    url = urllib.parse.urlsplit(str(account.url))
    path = url.path.strip("/").split("/")
    if url.hostname and path and path[0].startswith("@") and len(path[0]) > 1:
        user = path[0][1:]
        if "@" in user:  # https://mastodon.nu/@user@other.instance: a remote account's page
            user, instance = user.split("@", 1)
            return user, instance.lower()
        return user, url.netloc.lower()
    return None


def next_link(header: str | None) -> str | None:
    """The rel="next" URL of a Link header (RFC 8288), as Mastodon pages with it."""
    for match in _LINK.finditer(header or ""):
        if match["rel"].strip().lower() == "next":
            return match["url"].strip()
    return None


class MastodonAdapter(MetricsAdapter):
    platform = Platform.mastodon
    token_optional = True  # public; a token only where an instance or AppView requires one
    posts_note = "public statuses, replies counted, boosts apart"

    def base_url(self, account: Account) -> str | None:
        override = (self.env.get(self.base_env) or "").strip()
        if override:
            return override
        parts = split_handle(account)
        return f"https://{parts[1]}" if parts else None

    def profile(self, http: HttpClient, account: Account) -> Profile:
        parts = split_handle(account)
        if parts is None:
            raise Unavailable(f"cannot tell user and instance from handle {account.handle!r}")
        user, instance = parts
        base_host = urllib.parse.urlsplit(http.base).netloc.lower()
        acct = user if base_host == instance else f"{user}@{instance}"
        data, _ = http.get_json("api/v1/accounts/lookup", {"acct": acct})
        if not isinstance(data, dict) or not data.get("id"):
            raise Unavailable("the account lookup gave no account id")
        return Profile(
            id=str(data["id"]),
            followers=as_count(data.get("followers_count")),
            followers_detail="followers_count",
            total_posts=as_count(data.get("statuses_count")),
            total_detail="statuses_count (boosts included)",
        )

    def pages(self, http: HttpClient, account: Account, profile: Profile, window: Window) -> Iterator[list[Item]]:
        def fetch(url: str) -> tuple[list[Item], str | None]:
            data, headers = http.get_json(url)
            if not isinstance(data, list):
                raise Unavailable("the statuses answer is not a list")
            return [_item(status) for status in data if isinstance(status, dict)], next_link(headers.get("Link"))

        first = http.url(f"api/v1/accounts/{urllib.parse.quote(profile.id, safe='')}/statuses", {"limit": 40})
        return iter_pages(lambda: fetch(first), fetch)


def _item(status: dict[str, Any]) -> Item:
    published = status.get("visibility") in _PUBLISHED and not status.get("scheduled_at")
    return Item(at=parse_time(status.get("created_at")), repost=status.get("reblog") is not None, counted=published)
