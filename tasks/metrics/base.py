"""The entry point: :func:`read_metrics` over the table of adapters, one per platform.

The shared rules, the HTTP helper and the adapter interface are in ``core``; each platform's
reader is its own module built on it, and the page fallback is ``page``. This module sits above
all of them and is the only one that imports them together: :data:`ADAPTERS` names each adapter
class by platform, so which platforms have an API reader is read here, not collected by import
side effects. Nothing below imports this module back.

The names of ``core`` that flows and tests have always imported from here are re-exported.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable, Mapping

from somearkiv.log import get_logger
from somearkiv.models import Account, Metrics, Platform
from tasks.metrics.bluesky import BlueskyAdapter
from tasks.metrics.core import (
    STOCKHOLM,
    HttpClient,
    Item,
    MetricsAdapter,
    Profile,
    Tally,
    Unavailable,
    Window,
    as_count,
    iter_pages,
    missing_value,
    parse_time,
    retry_wait,
    tally,
    unavailable_metrics,
    without_query_keys,
)
from tasks.metrics.graph import FacebookAdapter, InstagramAdapter
from tasks.metrics.linkedin import LinkedInAdapter
from tasks.metrics.mastodon import MastodonAdapter
from tasks.metrics.page import merge_with_page, read_page_metrics
from tasks.metrics.threads import ThreadsAdapter
from tasks.metrics.tiktok import TikTokAdapter
from tasks.metrics.x import XAdapter
from tasks.metrics.youtube import YouTubeAdapter

__all__ = [
    "ADAPTERS",
    "STOCKHOLM",
    "HttpClient",
    "Item",
    "MetricsAdapter",
    "Profile",
    "Tally",
    "Unavailable",
    "Window",
    "as_count",
    "iter_pages",
    "missing_value",
    "parse_time",
    "read_metrics",
    "retry_wait",
    "tally",
    "unavailable_metrics",
    "without_query_keys",
]

#: The API reader of each platform. A platform not here (blogs, ...) has none: its
#: numbers come from the captured page, or are None with a reason. A new adapter is added here.
ADAPTERS: dict[Platform, type[MetricsAdapter]] = {
    Platform.bluesky: BlueskyAdapter,
    Platform.facebook: FacebookAdapter,
    Platform.instagram: InstagramAdapter,
    Platform.linkedin: LinkedInAdapter,
    Platform.mastodon: MastodonAdapter,
    Platform.threads: ThreadsAdapter,
    Platform.tiktok: TikTokAdapter,
    Platform.x: XAdapter,
    Platform.youtube: YouTubeAdapter,
}

_misfiled = [f"{platform.value}: {cls.__name__}" for platform, cls in ADAPTERS.items() if cls.platform is not platform]
if _misfiled:  # an adapter filed under another platform would label its numbers wrongly
    raise RuntimeError(f"ADAPTERS has an adapter under the wrong platform ({', '.join(_misfiled)})")
del _misfiled


def read_metrics(account: Account, window: Window, *, env: Mapping[str, str] = os.environ,
                 page_html: str | None = None, sleep: Callable[[float], None] = time.sleep) -> Metrics:
    """Followers and posts in *window* for *account*: from the platform's API where one is set up.

    Without an adapter, credential or base URL every value is None with an 'unavailable: ...'
    reason. With *page_html* (the captured start page), values the API could not give are read
    from the page instead (source 'page', lower confidence), and the API's reason is kept in
    ``detail``. Never raises for what a platform does; a bug in an adapter is reported as a
    reason too, so a capture is never lost over a number.
    """
    log = get_logger(account=account.id, platform=account.platform.value)
    read_at = dt.datetime.now(dt.UTC)
    adapter_cls = ADAPTERS.get(account.platform)
    if adapter_cls is None:
        metrics = unavailable_metrics(f"no API reader for {account.platform.value}", window,
                                      f"api:{account.platform.value}", read_at)
    else:
        adapter = adapter_cls(env, sleep=sleep)
        try:
            metrics = adapter.read(account, window)
        except Exception as error:  # noqa: BLE001 - an adapter bug must not cost the capture
            log.warning("metrics.adapter_error", error_type=type(error).__name__)
            metrics = unavailable_metrics(f"error reading the API ({type(error).__name__})", window,
                                          adapter.source, read_at, reposts=adapter.reposts_apart)
    if page_html is not None:
        metrics = merge_with_page(metrics, read_page_metrics(page_html, account.platform, read_at, window))
    log.info("metrics.read", followers=metrics.followers.value, followers_source=metrics.followers.source,
             posts_last_month=metrics.posts_last_month.value, posts_source=metrics.posts_last_month.source,
             followers_unavailable=metrics.followers.unavailable,
             posts_unavailable=metrics.posts_last_month.unavailable)
    return metrics


