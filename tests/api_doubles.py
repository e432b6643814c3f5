"""A local stand-in for the platforms' APIs, for the metrics tests (tasks.metrics).

One HTTP server on 127.0.0.1 (port 0, in a thread) answers in each platform's documented shapes,
under the path prefix of its real base URL, so one double serves every adapter:

* Mastodon ``/api/v1/accounts/lookup``, ``/api/v1/accounts/:id/statuses`` (Link rel="next" with max_id)
* Bluesky ``/xrpc/app.bsky.actor.getProfile``, ``/xrpc/app.bsky.feed.getAuthorFeed`` (cursor)
* YouTube Data API v3 ``/youtube/v3/channels``, ``/youtube/v3/playlistItems`` (pageToken)
* Graph ``/v21.0/{page}``, ``/{page}/published_posts`` (since/until), ``/{ig}``, ``/{ig}/media``
  (paging.next, which echoes the access token, as Graph does)
* LinkedIn ``/rest/networkSizes/urn:li:organization:{id}``, ``/rest/posts?q=author`` (start/count)
* X API v2 ``/2/users/by/username/{u}``, ``/2/users/{id}/tweets`` (start_time/end_time, next_token,
  x-rate-limit-* headers)
* TikTok Display API v2 ``/v2/user/info/`` (GET), ``/v2/video/list/`` (POST with a JSON body
  {max_count, cursor}; cursor in Unix ms, has_more; error.code "ok" or access_token_invalid, ...)
* Threads ``/v1.0/me``, ``/{id}/threads_insights?metric=followers_count`` (total_value),
  ``/{id}/threads`` (since/until, paging.next echoing the access token; REPOST_FACADE reposts)

Credentials are checked (401/400 in each platform's error shape, some of which echo the token
back, as real APIs sometimes do). Tests seed posts with :meth:`ApiDouble.add`, force errors
with :meth:`ApiDouble.queue` (e.g. 429 with Retry-After) and read back every request in
``requests``. ``page_size`` caps each page so that paging is exercised with a few posts.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["ApiDouble", "Canned", "Post", "Recorded", "TOKENS"]

TOKENS = {
    "x": "x-bearer-AAAA-s3cr3t-0001",
    "youtube": "AIzaSy-youtube-s3cr3t-0002",
    "meta": "EAAB-meta-s3cr3t-0003",
    "linkedin": "AQV-linkedin-s3cr3t-0004",
    "tiktok": "act.tiktok-s3cr3t-0005",
    "threads": "THAA-threads-s3cr3t-0006",
}

MASTODON = {"id": "109876543210", "username": "perstorp", "acct": "perstorp", "display_name": "Perstorps kommun",
            "followers_count": 356, "following_count": 12, "statuses_count": 97}
BLUESKY = {"did": "did:plc:perstorpkommun0000000", "handle": "perstorp.bsky.social", "displayName": "Perstorps kommun",
           "followersCount": 1234, "followsCount": 20, "postsCount": 210}
YOUTUBE = {"id": "UCperstorpkommun000000_0", "uploads": "UUperstorpkommun000000_0", "subscriberCount": "1200",
           "videoCount": "214", "hiddenSubscriberCount": False}
FACEBOOK = {"id": "102938475610", "name": "Perstorps kommun", "followers_count": 4812, "fan_count": 4530}
INSTAGRAM = {"id": "17841400000000001", "username": "perstorpskommun", "followers_count": 2143, "media_count": 312}
LINKEDIN = {"id": "5515715", "firstDegreeSize": 987}
X = {"id": "2244994945", "username": "perstorp", "name": "Perstorps kommun",
     "public_metrics": {"followers_count": 3100, "following_count": 50, "tweet_count": 5000, "listed_count": 3}}
TIKTOK = {"open_id": "-000perstorpTikTokOpenId000", "union_id": "c9b5b1d5-perstorp-union-0000",
          "display_name": "Perstorps kommun", "username": "perstorpskommun", "follower_count": 2450,
          "following_count": 3, "likes_count": 51200, "video_count": 88,
          "avatar_url": "https://p16-sign.tiktokcdn.com/perstorp.jpeg"}
THREADS = {"id": "25123456789012345", "username": "perstorpskommun", "name": "Perstorps kommun",
           "threads_profile_picture_url": "https://scontent.cdninstagram.com/perstorp.jpg",
           "threads_biography": "Perstorps kommun", "followers_count": 812}  # followers_count: an insight


@dataclass
class Post:
    """One timeline entry. kind: post, reply, repost, quote, private (not published).

    ``at`` is the date the adapters count (publication; Bluesky: ``record.createdAt``).
    ``listed_at``: where the platform's order puts the entry, where that differs: YouTube the
    upload (playlist item ``snippet.publishedAt``), LinkedIn ``createdAt``, Bluesky
    ``post.indexedAt``; None: the same as ``at``. ``pinned``: Bluesky's pinned post.
    """

    at: dt.datetime
    kind: str = "post"
    id: str = ""
    listed_at: dt.datetime | None = None
    pinned: bool = False


@dataclass
class Canned:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Recorded:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    raw: str  # the request target exactly as sent (path and query)
    method: str = "GET"
    body: Any = None  # a POST's JSON body, decoded


def _iso(when: dt.datetime, fmt: str = "z") -> str:
    when = when.astimezone(dt.UTC)
    if fmt == "graph":
        return when.strftime("%Y-%m-%dT%H:%M:%S+0000")
    if fmt == "ms":
        return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


class ApiDouble:
    """The server; use as a context manager. ``url`` is http://127.0.0.1:<port>."""

    def __init__(self, page_size: int = 2) -> None:
        self.page_size = page_size
        self.posts: dict[str, list[Post]] = {p: [] for p in ("mastodon", "bluesky", "youtube", "facebook",
                                                               "instagram", "linkedin", "x", "tiktok", "threads")}
        self.requests: list[Recorded] = []
        self.echo_token_in_errors = False
        # Bluesky's feed order (set before add()): "sortAt", the AppView's min(indexedAt, createdAt),
        # or "indexedAt" alone; and whether the pin is sent without includePins=true being asked.
        self.bluesky_sort = "sortAt"
        self.bluesky_pins_unasked = False
        self._canned: list[tuple[str, Canned]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="api-double", daemon=True)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- test API ------------------------------------------------------------------------------

    def __enter__(self) -> ApiDouble:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def env(self, **overrides: str) -> dict[str, str]:
        """Environment variables pointing every adapter at this double, with valid credentials."""
        env = {
            "SOMEARKIV_MASTODON_API_BASE": self.url,
            "SOMEARKIV_BLUESKY_API_BASE": self.url,
            "SOMEARKIV_YOUTUBE_API_BASE": f"{self.url}/youtube/v3",
            "SOMEARKIV_FACEBOOK_API_BASE": f"{self.url}/v21.0",
            "SOMEARKIV_INSTAGRAM_API_BASE": f"{self.url}/v21.0",
            "SOMEARKIV_LINKEDIN_API_BASE": f"{self.url}/rest",
            "SOMEARKIV_X_API_BASE": f"{self.url}/2",
            "SOMEARKIV_YOUTUBE_TOKEN": TOKENS["youtube"],
            "SOMEARKIV_FACEBOOK_TOKEN": TOKENS["meta"],
            "SOMEARKIV_INSTAGRAM_TOKEN": TOKENS["meta"],
            "SOMEARKIV_LINKEDIN_TOKEN": TOKENS["linkedin"],
            "SOMEARKIV_X_TOKEN": TOKENS["x"],
            "SOMEARKIV_TIKTOK_API_BASE": f"{self.url}/v2",
            "SOMEARKIV_TIKTOK_TOKEN": TOKENS["tiktok"],
            "SOMEARKIV_THREADS_API_BASE": f"{self.url}/v1.0",
            "SOMEARKIV_THREADS_TOKEN": TOKENS["threads"],
        }
        env.update(overrides)
        return env

    def add(self, platform: str, *posts: Post) -> None:
        with self._lock:
            self.posts[platform].extend(posts)
            self.posts[platform].sort(key=lambda p: self._order_key(platform, p), reverse=True)
            for index, post in enumerate(self.posts[platform]):
                post.id = str(900_000 - index)

    def queue(self, path_fragment: str, status: int, body: Any = None, headers: dict[str, str] | None = None,
              times: int = 1) -> None:
        """Answer the next *times* requests whose path contains *path_fragment* with this instead."""
        with self._lock:
            for _ in range(times):
                self._canned.append((path_fragment, Canned(status, body, dict(headers or {}))))

    def _order_key(self, platform: str, post: Post) -> dt.datetime:
        """The field each timeline is sorted by: publication, except where ``listed_at`` says otherwise."""
        listed = post.listed_at or post.at
        if platform in ("youtube", "linkedin"):  # the uploads playlist; posts?sortBy=CREATED
            return listed
        if platform == "bluesky" and post.kind != "repost":
            return listed if self.bluesky_sort == "indexedAt" else min(listed, post.at)
        return post.at

    def hits(self, path_fragment: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if path_fragment in r.path]

    # -- the server ----------------------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # kept-alive answers in two writes: no 40 ms wait for the ACK

            def log_message(self, *_args: Any) -> None:  # quiet: tests read ``requests`` instead
                pass

            def do_POST(self) -> None:  # noqa: N802 - TikTok's video/list: a JSON body, else answered as a GET
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    self.posted = json.loads(raw) if raw else None
                except ValueError:
                    self.posted = raw.decode("utf-8", "replace")
                self.do_GET()

            def do_GET(self) -> None:  # noqa: N802
                parts = urllib.parse.urlsplit(self.path)
                query = {k: v[0] for k, v in urllib.parse.parse_qs(parts.query, keep_blank_values=True).items()}
                path = urllib.parse.unquote(parts.path)
                recorded = Recorded(path, query, {k.lower(): v for k, v in self.headers.items()}, self.path,
                                    self.command, self.__dict__.pop("posted", None))
                with double._lock:
                    double.requests.append(recorded)
                    canned = next(((i, c) for i, (frag, c) in enumerate(double._canned) if frag in path), None)
                    if canned is not None:
                        double._canned.pop(canned[0])
                answer = canned[1] if canned else double._route(recorded)
                body = b"" if answer.body is None else json.dumps(answer.body).encode()
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

        return Handler

    def _route(self, r: Recorded) -> Canned:
        if r.path.startswith("/api/v1/"):
            return self._mastodon(r)
        if r.path.startswith("/xrpc/"):
            return self._bluesky(r)
        if r.path.startswith("/youtube/v3/"):
            return self._youtube(r)
        if r.path.startswith("/v21.0/"):
            return self._graph(r)
        if r.path.startswith("/rest/"):
            return self._linkedin(r)
        if r.path.startswith("/2/"):
            return self._x(r)
        if r.path.startswith("/v2/"):
            return self._tiktok(r)
        if r.path.startswith("/v1.0/"):
            return self._threads(r)
        return Canned(404, {"error": "no such route in the double"})

    def _page(self, items: list[Post], offset: int, requested: Any, default: int) -> tuple[list[Post], int | None]:
        try:
            size = min(int(requested), self.page_size)
        except (TypeError, ValueError):
            size = min(default, self.page_size)
        chunk = items[offset:offset + size]
        following = offset + size if offset + size < len(items) else None
        return chunk, following

    # Mastodon: public API, no token. https://docs.joinmastodon.org/methods/accounts/
    def _mastodon(self, r: Recorded) -> Canned:
        if r.path == "/api/v1/accounts/lookup":
            if r.query.get("acct", "").split("@")[0] != MASTODON["username"]:
                return Canned(404, {"error": "Record not found"})
            return Canned(200, {**MASTODON, "url": "https://mastodon.nu/@perstorp", "locked": False,
                                "created_at": "2022-11-01T00:00:00.000Z"})
        prefix = f"/api/v1/accounts/{MASTODON['id']}/statuses"
        if r.path != prefix:
            return Canned(404, {"error": "Record not found"})
        items = self.posts["mastodon"]
        max_id = r.query.get("max_id")
        offset = next((i for i, p in enumerate(items) if int(p.id) < int(max_id)), len(items)) if max_id else 0
        chunk, following = self._page(items, offset, r.query.get("limit"), 20)
        headers = {}
        if chunk:
            links = [f'<{self.url}{prefix}?limit={r.query.get("limit", 20)}&min_id={chunk[0].id}>; rel="prev"']
            if following is not None:
                following_url = f'{self.url}{prefix}?limit={r.query.get("limit", 20)}&max_id={chunk[-1].id}'
                links.insert(0, f'<{following_url}>; rel="next"')
            headers["Link"] = ", ".join(links)
        return Canned(200, [self._status(p) for p in chunk], headers)

    def _status(self, post: Post) -> dict[str, Any]:
        status = {"id": post.id, "created_at": _iso(post.at, "ms"), "in_reply_to_id": None,
                  "in_reply_to_account_id": None, "sensitive": False, "spoiler_text": "",
                  "visibility": "private" if post.kind == "private" else "public", "language": "sv",
                  "uri": f"https://mastodon.nu/users/perstorp/statuses/{post.id}",
                  "url": f"https://mastodon.nu/@perstorp/{post.id}", "replies_count": 0, "reblogs_count": 0,
                  "favourites_count": 0, "content": "<p>Hej Perstorp</p>", "reblog": None,
                  "account": {"id": MASTODON["id"], "username": "perstorp", "acct": "perstorp"},
                  "media_attachments": [], "mentions": [], "tags": [], "emojis": []}
        if post.kind == "reply":
            status.update(in_reply_to_id="111", in_reply_to_account_id="222")
        if post.kind == "repost":
            status.update(content="", reblog={"id": "333", "created_at": "2020-01-01T00:00:00.000Z",
                                               "content": "<p>someone else's</p>", "visibility": "public"})
        return status

    # Bluesky: public AppView. https://docs.bsky.app/docs/api/app-bsky-feed-get-author-feed
    def _bluesky(self, r: Recorded) -> Canned:
        actor = r.query.get("actor")
        if actor not in (BLUESKY["handle"], BLUESKY["did"]):
            return Canned(400, {"error": "InvalidRequest", "message": "Profile not found"})
        if r.path == "/xrpc/app.bsky.actor.getProfile":
            return Canned(200, {**BLUESKY, "createdAt": "2023-05-01T00:00:00.000Z"})
        if r.path != "/xrpc/app.bsky.feed.getAuthorFeed":
            return Canned(501, {"error": "MethodNotImplemented", "message": "Method Not Implemented"})
        offset = int(r.query.get("cursor", "c0")[1:] or 0)
        chunk, following = self._page(self.posts["bluesky"], offset, r.query.get("limit"), 50)
        feed = [self._feed_view(p) for p in chunk]
        pinned = next((p for p in self.posts["bluesky"] if p.pinned), None)
        pins = r.query.get("includePins") == "true" or self.bluesky_pins_unasked
        if pinned is not None and pins and "cursor" not in r.query:
            # as the AppView does: the pin first on the first page, and out of that page's own items
            # (on later pages it stays in its place)
            feed = [view for view, p in zip(feed, chunk, strict=True) if p is not pinned]
            feed.insert(0, {**self._feed_view(pinned), "reason": {"$type": "app.bsky.feed.defs#reasonPin"}})
        body: dict[str, Any] = {"feed": feed}
        if following is not None:
            body["cursor"] = f"c{following}"
        return Canned(200, body)

    def _feed_view(self, post: Post) -> dict[str, Any]:
        me = {"did": BLUESKY["did"], "handle": BLUESKY["handle"]}
        other = {"did": "did:plc:someoneelse000000000000", "handle": "annan.bsky.social"}
        author = other if post.kind == "repost" else me
        created = "2020-01-01T00:00:00.000Z" if post.kind == "repost" else _iso(post.at, "ms")
        indexed = created if post.kind == "repost" else _iso(post.listed_at or post.at, "ms")
        record: dict[str, Any] = {"$type": "app.bsky.feed.post", "text": "Hej", "createdAt": created, "langs": ["sv"]}
        view: dict[str, Any] = {"post": {"uri": f"at://{author['did']}/app.bsky.feed.post/{post.id}", "cid": "bafy",
                                         "author": author, "record": record, "replyCount": 0, "repostCount": 0,
                                         "likeCount": 0, "indexedAt": indexed, "labels": []}}
        if post.kind == "reply":
            parent = {"$type": "app.bsky.feed.defs#postView", "uri": "at://did:plc:x/app.bsky.feed.post/1"}
            ref = {"uri": parent["uri"], "cid": "bafy"}
            record["reply"] = {"root": ref, "parent": ref}
            view["reply"] = {"root": parent, "parent": parent}
        if post.kind == "quote":
            record["embed"] = {"$type": "app.bsky.embed.record",
                               "record": {"uri": "at://did:plc:x/app.bsky.feed.post/2", "cid": "bafy"}}
        if post.kind == "repost":
            view["reason"] = {"$type": "app.bsky.feed.defs#reasonRepost", "by": me, "indexedAt": _iso(post.at, "ms")}
        return view

    # YouTube Data API v3 (key in X-Goog-Api-Key or ?key=). https://developers.google.com/youtube/v3/docs
    def _youtube(self, r: Recorded) -> Canned:
        key = r.headers.get("x-goog-api-key") or r.query.get("key")
        if not key:
            return Canned(403, {"error": {"code": 403, "message": "The request is missing a valid API key.",
                                          "errors": [{"message": "The request is missing a valid API key.",
                                                      "domain": "global", "reason": "forbidden"}],
                                          "status": "PERMISSION_DENIED"}})
        if key != TOKENS["youtube"]:
            message = "API key not valid. Please pass a valid API key."
            if self.echo_token_in_errors:
                message += f" (key: {key})"
            return Canned(400, {"error": {"code": 400, "message": message,
                                          "errors": [{"message": message, "domain": "global", "reason": "badRequest"}],
                                          "status": "INVALID_ARGUMENT"}})
        if r.path == "/youtube/v3/channels":
            wanted = r.query.get("id") == YOUTUBE["id"] or r.query.get("forHandle", "").lower() == "@perstorpskommun"
            items = [{"kind": "youtube#channel", "etag": "e", "id": YOUTUBE["id"],
                      "contentDetails": {"relatedPlaylists": {"likes": "", "uploads": YOUTUBE["uploads"]}},
                      "statistics": {"viewCount": "98765", "subscriberCount": YOUTUBE["subscriberCount"],
                                     "hiddenSubscriberCount": YOUTUBE["hiddenSubscriberCount"],
                                     "videoCount": YOUTUBE["videoCount"]}}] if wanted else []
            body: dict[str, Any] = {"kind": "youtube#channelListResponse", "etag": "e",
                                    "pageInfo": {"totalResults": len(items), "resultsPerPage": 5}}
            if items:
                body["items"] = items
            return Canned(200, body)
        if r.path == "/youtube/v3/playlistItems" and r.query.get("playlistId") == YOUTUBE["uploads"]:
            videos = self.posts["youtube"]
            offset = int(r.query.get("pageToken", "T0")[1:] or 0)
            chunk, following = self._page(videos, offset, r.query.get("maxResults"), 5)
            parts = r.query.get("part", "").split(",")
            body = {"kind": "youtube#playlistItemListResponse", "etag": "e",
                    "items": [self._playlist_item(p, parts) for p in chunk],
                    "pageInfo": {"totalResults": len(videos), "resultsPerPage": len(chunk)}}
            if following is not None:
                body["nextPageToken"] = f"T{following}"
            return Canned(200, body)
        return Canned(404, {"error": {"code": 404, "message": "The playlist identified with the request's "
                                      "playlistId parameter cannot be found.",
                                      "errors": [{"reason": "playlistNotFound"}]}})

    def _playlist_item(self, post: Post, parts: list[str]) -> dict[str, Any]:
        """A playlistItem of the uploads playlist, with the parts asked for.

        ``snippet.publishedAt`` is when the item was added to the playlist (the upload);
        ``contentDetails.videoPublishedAt`` when the video was published (absent while private).
        """
        item: dict[str, Any] = {"kind": "youtube#playlistItem", "etag": "e", "id": f"PLI{post.id}"}
        private = post.kind == "private"
        if "snippet" in parts:
            item["snippet"] = {
                "publishedAt": _iso(post.listed_at or post.at), "channelId": YOUTUBE["id"],
                "title": "Private video" if private else "Hej Perstorp",
                "description": "This video is private." if private else "",
                "thumbnails": {}, "channelTitle": "Perstorps kommun", "playlistId": YOUTUBE["uploads"],
                "position": 900_000 - int(post.id),
                "resourceId": {"kind": "youtube#video", "videoId": f"v{post.id}"},
                **({} if private else {"videoOwnerChannelTitle": "Perstorps kommun",
                                      "videoOwnerChannelId": YOUTUBE["id"]})}
        if "contentDetails" in parts:
            item["contentDetails"] = ({"videoId": f"v{post.id}"} if private else
                                      {"videoId": f"v{post.id}", "videoPublishedAt": _iso(post.at)})
        return item

    # Graph API. https://developers.facebook.com/docs/graph-api/reference/page/published_posts/
    def _graph(self, r: Recorded) -> Canned:
        token = r.query.get("access_token") or r.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if token != TOKENS["meta"]:
            message = "Invalid OAuth access token - Cannot parse access token"
            if self.echo_token_in_errors:
                message = f"Malformed access token {token}"
            return Canned(400, {"error": {"message": message, "type": "OAuthException", "code": 190,
                                          "fbtrace_id": "AbCdEf"}})
        parts = r.path.removeprefix("/v21.0/").split("/")
        node = parts[0]
        nodes = {FACEBOOK["id"]: ("facebook", FACEBOOK), "perstorpskommun": ("facebook", FACEBOOK),
                 INSTAGRAM["id"]: ("instagram", INSTAGRAM)}
        if node not in nodes:
            return Canned(400, {"error": {"message": f"(#803) Some of the aliases you requested do not exist: {node}",
                                          "type": "OAuthException", "code": 803, "fbtrace_id": "AbCdEf"}})
        platform, data = nodes[node]
        if len(parts) == 1:
            fields = r.query.get("fields", "id").split(",")
            return Canned(200, {"id": data["id"], **{f: data[f] for f in fields if f in data}})
        edge = parts[1]
        if (platform, edge) not in (("facebook", "published_posts"), ("instagram", "media")):
            return Canned(400, {"error": {"message": "(#100) Tried accessing nonexisting field", "code": 100}})
        items = [p for p in self.posts[platform] if p.kind != "private"]  # Graph lists published ones only
        if "since" in r.query:
            items = [p for p in items if p.at.timestamp() >= int(r.query["since"])]
        if "until" in r.query:
            items = [p for p in items if p.at.timestamp() <= int(r.query["until"])]
        offset = int(r.query.get("after", "0") or 0)
        chunk, following = self._page(items, offset, r.query.get("limit"), 25)
        field_name = "created_time" if platform == "facebook" else "timestamp"
        body: dict[str, Any] = {"data": [{field_name: _iso(p.at, "graph"), "id": f"{data['id']}_{p.id}"}
                                         for p in chunk]}
        if chunk:
            body["paging"] = {"cursors": {"before": str(offset), "after": str(offset + len(chunk))}}
            if following is not None:
                # Graph's next link carries the access token it was called with.
                query = {k: v for k, v in r.query.items() if k not in ("after", "access_token")}
                query.update(access_token=token, after=str(following))
                body["paging"]["next"] = f"{self.url}{r.path}?{urllib.parse.urlencode(query)}"
        return Canned(200, body)

    # LinkedIn versioned REST API. https://learn.microsoft.com/linkedin/marketing/community-management/shares/posts-api
    def _linkedin(self, r: Recorded) -> Canned:
        token = r.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if token != TOKENS["linkedin"]:
            message = "Invalid access token" + (f": {token}" if self.echo_token_in_errors else "")
            return Canned(401, {"status": 401, "serviceErrorCode": 65600, "code": "INVALID_ACCESS_TOKEN",
                                "message": message})
        if not r.headers.get("linkedin-version"):
            return Canned(400, {"status": 400, "code": "VERSION_MISSING",
                                "message": "A version must be present. Please specify a version by adding the "
                                           "LinkedIn-Version header."})
        urn = f"urn:li:organization:{LINKEDIN['id']}"
        if r.path == f"/rest/networkSizes/{urn}" and r.query.get("edgeType") == "COMPANY_FOLLOWED_BY_MEMBER":
            return Canned(200, {"firstDegreeSize": LINKEDIN["firstDegreeSize"]})
        if r.path == "/rest/posts" and r.query.get("q") == "author" and r.query.get("author") == urn:
            start = int(r.query.get("start", 0))
            chunk, following = self._page(self.posts["linkedin"], start, r.query.get("count"), 10)
            total = len(self.posts["linkedin"])
            href = f"/rest/posts?author={urllib.parse.quote(urn)}&count={len(chunk)}&q=author&start={following}"
            links = [{"type": "application/json", "rel": "next", "href": href}] if following is not None else []
            return Canned(200, {"paging": {"start": start, "count": len(chunk), "links": links, "total": total},
                                "elements": [self._li_post(p, urn) for p in chunk]})
        return Canned(404, {"status": 404, "code": "NOT_FOUND", "message": "Not Found"})

    def _li_post(self, post: Post, urn: str) -> dict[str, Any]:
        ms = int(post.at.timestamp() * 1000)
        created = int((post.listed_at or post.at).timestamp() * 1000)  # sortBy=CREATED follows this one
        element: dict[str, Any] = {"id": f"urn:li:share:{post.id}", "author": urn, "commentary": "Hej Perstorp",
                                   "visibility": "PUBLIC", "lifecycleState": "PUBLISHED", "createdAt": created,
                                   "lastModifiedAt": max(ms, created), "publishedAt": ms,
                                   "isReshareDisabledByAuthor": False,
                                   "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [],
                                                    "thirdPartyDistributionChannels": []},
                                   "lifecycleStateInfo": {"isEditedByAuthor": False}}
        if post.kind == "private":
            element.update(lifecycleState="DRAFT")
            element.pop("publishedAt")
        if post.kind in ("repost", "quote"):
            element["reshareContext"] = {"parent": "urn:li:share:1", "root": "urn:li:share:1"}
            if post.kind == "repost":
                element["commentary"] = ""
        return element

    # X API v2. https://docs.x.com/x-api/posts/get-posts-by-user
    def _x(self, r: Recorded) -> Canned:
        reset = str(int(dt.datetime.now(dt.UTC).timestamp()) + 900)
        limits = {"x-rate-limit-limit": "1500", "x-rate-limit-remaining": "1499", "x-rate-limit-reset": reset}
        token = r.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if token != TOKENS["x"]:
            detail = "Unauthorized" + (f" ({token})" if self.echo_token_in_errors else "")
            return Canned(401, {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": detail})
        if r.path.startswith("/2/users/by/username/"):
            username = r.path.rsplit("/", 1)[-1]
            if username.lower() != X["username"]:
                return Canned(200, {"errors": [{"value": username, "detail": f"Could not find user with username: "
                                                f"[{username}].", "title": "Not Found Error", "resource_type": "user",
                                                "parameter": "username", "resource_id": username,
                                                "type": "https://api.twitter.com/2/problems/resource-not-found"}]},
                              limits)
            return Canned(200, {"data": X}, limits)
        if r.path == f"/2/users/{X['id']}/tweets":
            items = self.posts["x"]
            if "start_time" in r.query:
                items = [p for p in items if p.at >= _parse(r.query["start_time"])]
            if "end_time" in r.query:
                items = [p for p in items if p.at <= _parse(r.query["end_time"])]
            offset = int(r.query.get("pagination_token", "N0")[1:] or 0)
            chunk, following = self._page(items, offset, r.query.get("max_results"), 10)
            meta: dict[str, Any] = {"result_count": len(chunk)}
            if chunk:
                meta.update(newest_id=chunk[0].id, oldest_id=chunk[-1].id)
            if following is not None:
                meta["next_token"] = f"N{following}"
            body: dict[str, Any] = {"meta": meta}
            if chunk:
                body["data"] = [self._tweet(p) for p in chunk]
            return Canned(200, body, limits)
        return Canned(404, {"title": "Not Found Error", "status": 404, "detail": "Not found"}, limits)

    def _tweet(self, post: Post) -> dict[str, Any]:
        tweet: dict[str, Any] = {"id": post.id, "text": "Hej Perstorp", "created_at": _iso(post.at, "ms"),
                                 "edit_history_tweet_ids": [post.id]}
        kind = {"reply": "replied_to", "repost": "retweeted", "quote": "quoted"}.get(post.kind)
        if kind:
            tweet["referenced_tweets"] = [{"type": kind, "id": "1460323737035677698"}]
        if post.kind == "repost":
            tweet["text"] = "RT @someone: Hej"
        return tweet

    # TikTok Display API v2. https://developers.tiktok.com/doc/tiktok-api-v2-get-user-info,
    # https://developers.tiktok.com/doc/tiktok-api-v2-video-list
    def _tiktok(self, r: Recorded) -> Canned:
        log_id = "202611281200000000C0FFEE00000000"
        token = r.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if token != TOKENS["tiktok"]:
            message = "The access token is invalid or not found in the request."
            if self.echo_token_in_errors:
                message += f" Token: {token}"
            return Canned(401, {"error": {"code": "access_token_invalid", "message": message, "log_id": log_id}})

        def invalid(message: str) -> Canned:
            return Canned(400, {"error": {"code": "invalid_params", "message": message, "log_id": log_id}})

        ok = {"code": "ok", "message": "", "log_id": log_id}
        fields = [f for f in r.query.get("fields", "").split(",") if f]
        if r.path == "/v2/user/info/" and r.method == "GET":
            if not fields:
                return invalid("The fields parameter is required.")
            return Canned(200, {"data": {"user": {f: TIKTOK[f] for f in fields if f in TIKTOK}}, "error": ok})
        if r.path == "/v2/video/list/" and r.method == "POST":
            body = r.body if isinstance(r.body, dict) else None
            if body is None or not fields:
                return invalid("A JSON body and the fields parameter are required.")
            max_count, cursor = body.get("max_count", 10), body.get("cursor")
            if not isinstance(max_count, int) or not 1 <= max_count <= 20:
                return invalid("max_count must be between 1 and 20.")
            if cursor is not None and not isinstance(cursor, int):
                return invalid("cursor must be an integer (UTC Unix timestamp in milliseconds).")
            videos = [p for p in self.posts["tiktok"] if p.kind != "private"]  # the list holds public videos only
            if cursor is not None:
                videos = [p for p in videos if int(p.at.timestamp()) * 1000 < cursor]
            size = min(max_count, self.page_size)
            chunk = videos[:size]
            following = int(chunk[-1].at.timestamp()) * 1000 if chunk else (cursor or 0)
            return Canned(200, {"data": {"videos": [self._tt_video(p, fields) for p in chunk], "cursor": following,
                                         "has_more": len(videos) > size}, "error": ok})
        return Canned(404, {"error": {"code": "not_found", "message": "Not found.", "log_id": log_id}})

    def _tt_video(self, post: Post, fields: list[str]) -> dict[str, Any]:
        video = {"id": f"73{post.id}000000000", "create_time": int(post.at.timestamp()), "title": "Hej Perstorp",
                 "video_description": "Hej Perstorp #perstorp", "duration": 15,
                 "share_url": f"https://www.tiktok.com/@perstorpskommun/video/73{post.id}000000000",
                 "cover_image_url": "https://p16-sign.tiktokcdn.com/cover.jpeg", "like_count": 3,
                 "comment_count": 0, "share_count": 0, "view_count": 120}
        return {f: video[f] for f in fields if f in video}

    # Threads API. https://developers.facebook.com/docs/threads/threads-media,
    # https://developers.facebook.com/docs/threads/insights
    def _threads(self, r: Recorded) -> Canned:
        token = r.query.get("access_token") or r.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if token != TOKENS["threads"]:
            message = "Invalid OAuth access token - Cannot parse access token"
            if self.echo_token_in_errors:
                message = f"Malformed access token {token}"
            return Canned(400, {"error": {"message": message, "type": "OAuthException", "code": 190,
                                          "fbtrace_id": "AxYzThreads"}})

        def invalid(message: str) -> Canned:
            return Canned(400, {"error": {"message": message, "type": "THApiException", "code": 100,
                                          "fbtrace_id": "AxYzThreads"}})

        parts = r.path.removeprefix("/v1.0/").split("/")
        if parts[0] not in ("me", THREADS["id"]):
            return invalid(f"Unsupported get request. Object with ID '{parts[0]}' does not exist, cannot be loaded "
                           "due to missing permissions, or does not support this operation")
        if len(parts) == 1:
            profile = ("id", "username", "name", "threads_profile_picture_url", "threads_biography")
            fields = r.query.get("fields", "id").split(",")
            return Canned(200, {"id": THREADS["id"], **{f: THREADS[f] for f in fields if f in profile}})
        edge = parts[1]
        if edge == "threads_insights":
            metrics = [m for m in r.query.get("metric", "").split(",") if m]
            known = ("views", "likes", "replies", "reposts", "quotes", "clicks", "followers_count")
            if not metrics or any(m not in known for m in metrics):
                return invalid("(#100) The value must be a valid insights metric")
            return Canned(200, {"data": [
                {"name": m, "period": "day", "title": m, "description": f"The {m} of your profile.",
                 "total_value": {"value": THREADS["followers_count"] if m == "followers_count" else 0},
                 "id": f"{THREADS['id']}/insights/{m}/day"} for m in metrics]})
        if edge != "threads":
            return invalid("(#100) Tried accessing nonexisting field")
        # /threads lists the user's own threads and reposts; replies are in /replies, drafts nowhere
        items = [p for p in self.posts["threads"] if p.kind not in ("private", "reply")]
        try:
            since = int(r.query["since"]) if "since" in r.query else None
            until = int(r.query["until"]) if "until" in r.query else None
            limit = int(r.query.get("limit", 25))
            offset = int(r.query.get("after", "QVFI0")[4:] or 0)
        except ValueError:
            return invalid("(#100) Param since, until, limit or after is not valid")
        if since is not None and since < 1688540400:
            return invalid("(#100) Param since must be greater than or equal to 1688540400")
        if until is not None and until > dt.datetime.now(dt.UTC).timestamp() + 1:
            return invalid("(#100) Param until must be less than or equal to the current timestamp")
        if not 0 <= limit <= 100:
            return invalid("(#100) Param limit must be a number between 0 and 100")
        if since is not None:
            items = [p for p in items if p.at.timestamp() >= since]
        if until is not None:
            items = [p for p in items if p.at.timestamp() <= until]
        chunk, following = self._page(items, offset, limit, 25)
        fields = r.query.get("fields", "id").split(",")
        body: dict[str, Any] = {"data": [self._threads_post(p, fields) for p in chunk]}
        if chunk:
            body["paging"] = {"cursors": {"before": f"QVFI{offset}", "after": f"QVFI{offset + len(chunk)}"}}
            if following is not None:
                # like Graph, the next link carries the access token it was called with
                query = {k: v for k, v in r.query.items() if k not in ("after", "access_token")}
                query.update(access_token=token, after=f"QVFI{following}")
                body["paging"]["next"] = f"{self.url}{r.path}?{urllib.parse.urlencode(query)}"
        return Canned(200, body)

    def _threads_post(self, post: Post, fields: list[str]) -> dict[str, Any]:
        kinds = {"repost": "REPOST_FACADE", "image": "IMAGE", "video": "VIDEO", "carousel": "CAROUSEL_ALBUM"}
        thread: dict[str, Any] = {"id": f"18{post.id}", "media_product_type": "THREADS",
                                  "media_type": kinds.get(post.kind, "TEXT_POST"), "timestamp": _iso(post.at, "graph"),
                                  "permalink": f"https://www.threads.net/@perstorpskommun/post/C{post.id}",
                                  "username": THREADS["username"], "text": "Hej Perstorp", "shortcode": f"C{post.id}",
                                  "is_quote_post": post.kind == "quote"}
        if post.kind == "quote":
            thread["quoted_post"] = "18000000000000001"
        if post.kind == "repost":
            thread.update(text="", reposted_post="18000000000000002")
        return {"id": thread["id"], **{f: thread[f] for f in fields if f in thread}}
