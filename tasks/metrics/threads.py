"""Threads: the Threads API (graph.threads.net) with the account's user access token (SOMEARKIV_THREADS_TOKEN).

``GET /me?fields=id,username,name`` (or ``/{threads-user-id}`` where the register gives the
account an ``api_id``) gives the user id and name; the follower count is an
insight, ``GET /{id}/threads_insights?metric=followers_count`` → ``data[0].total_value.value``
(permission threads_manage_insights); ``GET /{id}/threads?fields=id,media_type,timestamp,
is_quote_post&since=..&limit=100`` lists the user's threads newest first (permission
threads_basic), paged by ``paging.next`` (or, where an answer has only cursors, a full page's
``paging.cursors.after``).

A thread whose ``media_type`` is REPOST_FACADE is a repost (counted apart); quote posts are
written posts. Replies are another edge (``/replies``) and are not counted here, which the detail
says. The token travels in the Authorization header (Threads, like Graph, accepts a bearer
token), never in a URL: an ``access_token`` echoed into ``paging.next`` is taken out before the
next page is fetched. A token of another user than the registered one is refused, so that
numbers are never filed under the wrong account.
"""

from __future__ import annotations

import datetime as dt
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
    without_query_keys,
)

__all__ = ["ThreadsAdapter", "followers_total", "threads_user", "username_of"]

EARLIEST = 1688540400  # the API refuses a `since` before Threads opened (2023-07-05)
PAGE_SIZE = 100  # the most /threads gives per request
FIELDS = "id,media_type,timestamp,is_quote_post"
_USERNAME = re.compile(r"^[A-Za-z0-9._]{1,30}$")


def username_of(account: Account) -> str | None:
    """'perstorpskommun' from '@perstorpskommun' or https://www.threads.net/@perstorpskommun, else None."""
    handle = account.handle.strip().lstrip("@")
    if _USERNAME.match(handle):
        return handle.lower()
    path = urllib.parse.urlsplit(str(account.url)).path.strip("/").split("/")
    if path and path[0].startswith("@") and _USERNAME.match(path[0][1:]):
        return path[0][1:].lower()
    return None


def threads_user(account: Account) -> str:
    """The node to read: the account's Threads user id if the register gives one (``api_id``), else ``me``."""
    explicit = str(getattr(account, "api_id", None) or "").strip()
    return explicit or "me"


def followers_total(data: Any) -> int | None:
    """``followers_count`` from a threads_insights answer (``total_value.value``, or the last of ``values``)."""
    entries = data.get("data") if isinstance(data, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or entry.get("name") != "followers_count":
            continue
        total = entry.get("total_value")
        if isinstance(total, dict):
            return as_count(total.get("value"))
        values = entry.get("values")
        if isinstance(values, list) and values and isinstance(values[-1], dict):
            return as_count(values[-1].get("value"))
    return None


class ThreadsAdapter(MetricsAdapter):
    platform = Platform.threads
    default_base = "https://graph.threads.net/v1.0"
    posts_note = "threads incl. quote posts, reposts apart; replies are not in this API list and not counted"

    def profile(self, http: HttpClient, account: Account) -> Profile:
        node = threads_user(account)
        data, _ = http.get_json(urllib.parse.quote(node, safe=""), {"fields": "id,username,name"})
        if not isinstance(data, dict) or not data.get("id"):
            raise Unavailable("the Threads profile gave no user id")
        user_id, username = str(data["id"]), str(data.get("username") or "")
        expected = username_of(account)
        if expected and username and username.lower() != expected:
            raise Unavailable(f"the Threads token is for @{username}, not @{expected}")
        try:
            insights, _ = http.get_json(f"{urllib.parse.quote(user_id, safe='')}/threads_insights",
                                        {"metric": "followers_count"})
            followers = followers_total(insights)
            missing = None if followers is not None else "threads_insights gave no followers_count"
        except Unavailable as error:  # e.g. no threads_manage_insights permission: the posts can still be read
            followers, missing = None, error.reason
        return Profile(id=user_id, followers=followers,
                       followers_detail="threads_insights followers_count (total_value)", followers_unavailable=missing)

    def pages(self, http: HttpClient, account: Account, profile: Profile, window: Window) -> Iterator[list[Item]]:
        params: dict[str, Any] = {"fields": FIELDS, "limit": PAGE_SIZE}
        if window.start.timestamp() >= EARLIEST:
            params["since"] = int(window.start.timestamp())
        if window.end < dt.datetime.now(dt.UTC) - dt.timedelta(seconds=30):  # `until` may not be in the future
            params["until"] = int(window.end.timestamp()) + 1
        edge = f"{urllib.parse.quote(profile.id, safe='')}/threads"

        def fetch(url: str) -> tuple[list[Item], str | None]:
            data, _ = http.get_json(url)
            if not isinstance(data, dict) or not isinstance(data.get("data", []), list):
                raise Unavailable("threads gave no data")
            entries = [entry for entry in data.get("data", []) if isinstance(entry, dict)]
            paging = data.get("paging") if isinstance(data.get("paging"), dict) else {}
            following = paging.get("next")
            if isinstance(following, str) and following:
                return [_item(e) for e in entries], without_query_keys(following, "access_token")
            cursors = paging.get("cursors") if isinstance(paging.get("cursors"), dict) else {}
            after = cursors.get("after")
            if isinstance(after, str) and after and len(entries) >= PAGE_SIZE:  # a full page without a next link
                return [_item(e) for e in entries], http.url(edge, {**params, "after": after})
            return [_item(e) for e in entries], None

        first = http.url(edge, params)
        return iter_pages(lambda: fetch(first), fetch)


def _item(thread: dict[str, Any]) -> Item:
    return Item(at=parse_time(thread.get("timestamp")), repost=thread.get("media_type") == "REPOST_FACADE")
