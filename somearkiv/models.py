"""The typed domain of somearkiv, in one place and imported everywhere.

Everything that travels between flows, tasks and storage is one of these models. They are
serialised once, at the edge: ``record.json`` and S3 metadata (storage), XMP (tasks.pdfa),
the register YAML (tasks.register).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal, NamedTuple

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, UrlConstraints, model_validator

__all__ = [
    "Account",
    "AccountStatus",
    "ArchivedFile",
    "BlockedRequestInfo",
    "BrowserInfo",
    "CaptureRecord",
    "CaptureReview",
    "Captured",
    "ConsentInfo",
    "CaptureStatus",
    "DecisionRef",
    "FileRole",
    "FixityStatus",
    "Hop",
    "SessionInfo",
    "SettleInfo",
    "ViewFile",
    "LedgerEntry",
    "LedgerKind",
    "LedgerObject",
    "LockMode",
    "ObjectLock",
    "PageInfo",
    "PdfaInfo",
    "Platform",
    "Register",
    "RetentionAction",
    "RetentionClass",
    "Trigger",
    "ViewInfo",
    "WallInfo",
    "WebUrl",
    "ACCOUNT_ID_PATTERN",
    "make_capture_id",
    "AccountOutcome",
    "AskRecord",
    "AuditEvent",
    "FixityResult",
    "Confidence",
    "MetricValue",
    "Metrics",
    "SnapshotSummary",
    "ModerationCase",
]

ACCOUNT_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"

# Only http and https start pages are archived: file:, data: and the like are refused at the
# register already.
WebUrl = Annotated[AnyHttpUrl, UrlConstraints(allowed_schemes=["http", "https"])]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


class Platform(StrEnum):
    facebook = "facebook"
    instagram = "instagram"
    x = "x"
    linkedin = "linkedin"
    youtube = "youtube"
    mastodon = "mastodon"
    bluesky = "bluesky"
    tiktok = "tiktok"
    threads = "threads"
    blog = "blog"
    other = "other"


class AccountStatus(StrEnum):
    active = "active"
    closed = "closed"


class Trigger(StrEnum):
    """Why a capture was taken (P1, P2, P5)."""

    scheduled = "scheduled"  # the half-yearly ögonblicksbild
    before_change = "before-change"  # inför stora ändringar
    before_close = "before-close"  # the last capture of an inactive account before closing
    manual = "manual"  # an operator's own run, e.g. the demo
    change_detected = "change-detected"  # the weekly watch saw a major change nobody announced (tasks.watch)
    evidence = "evidence"  # a single post or comment page kept before it is removed (moderering, tasks.evidence)


class Account(_Model):
    """One entry of the account register (förteckning över sociala medier)."""

    id: str = Field(pattern=ACCOUNT_ID_PATTERN, description="Stable id: lowercase, digits, dashes.")
    platform: Platform
    handle: str = Field(min_length=1, description="The account's name on the platform, e.g. @perstorp.")
    name: str = Field(min_length=1, description="Display name, e.g. 'Perstorps kommun'.")
    url: WebUrl = Field(description="The account's start page (startsida).")
    department: str = Field(min_length=1, description="Owning department (förvaltning).")
    responsible: str = Field(min_length=1, description="Responsible officer, by role or name.")
    substitute: str = Field(min_length=1, description="Substitute (ersättare), by role or name.")
    purpose: str = Field(min_length=1, description="Why the municipality is on this platform.")
    status: AccountStatus = AccountStatus.active
    opened: dt.date
    closed: dt.date | None = None
    retention_class: str = "bevaras"
    session_file: Path | None = Field(
        default=None,
        exclude=True,  # never written into records: where the login lives is nobody's business
        description="Where the encrypted login of this account is, when not data/sessions/<id>.session "
                    "(saved by `somearkiv login`); read, never written.",
    )
    api_id: str | None = Field(
        default=None, min_length=1,
        description="The account's id in the platform's API where the handle does not give it: a Facebook "
                    "page id, an Instagram or Threads user id, a LinkedIn organization id, a YouTube channel id.")
    api_token_env: str | None = Field(
        default=None, pattern=r"^SOMEARKIV_[A-Z]+_TOKEN_[A-Z0-9_]+$", exclude=True,
        description="The environment variable holding this account's own API token, when it is not the "
                    "platform's SOMEARKIV_<PLATFORM>_TOKEN (e.g. SOMEARKIV_FACEBOOK_TOKEN_KULTUR). A name, never a token.")

    @model_validator(mode="after")
    def _closed_needs_date(self) -> Account:
        if self.status is AccountStatus.closed and self.closed is None:
            raise ValueError("a closed account needs a 'closed' date")
        if self.closed is not None and self.closed < self.opened:
            raise ValueError("'closed' is before 'opened'")
        return self


class Register(_Model):
    """The whole register file, after validation."""

    municipality: str
    accounts: tuple[Account, ...]
    source: str = Field(description="Where the register was read from.")

    def get(self, account_id: str) -> Account:
        for account in self.accounts:
            if account.id == account_id:
                return account
        raise KeyError(account_id)

    @property
    def active(self) -> tuple[Account, ...]:
        return tuple(a for a in self.accounts if a.status is AccountStatus.active)


class RetentionAction(StrEnum):
    bevaras = "bevaras"  # keep permanently
    gallras = "gallras"  # dispose of after the gallringsfrist, under a decision


class LockMode(StrEnum):
    GOVERNANCE = "GOVERNANCE"
    COMPLIANCE = "COMPLIANCE"


class DecisionRef(_Model):
    """Where the retention rule was decided (gallringsbeslut / IHP)."""

    body: str
    date: dt.date
    paragraph: str


class ObjectLock(_Model):
    """The S3 Object Lock one archived object is filed with."""

    mode: LockMode
    retain_until: dt.datetime
    legal_hold: bool


class RetentionClass(_Model):
    """A row of the retention schedule (informationshanteringsplan) as it applies to captures."""

    id: str = Field(pattern=ACCOUNT_ID_PATTERN)
    name: str
    ihp_row: str = Field(description="The row of the informationshanteringsplan it implements.")
    decision: DecisionRef
    action: RetentionAction
    period_days: float | None = Field(default=None, gt=0, description="gallringsfrist, for gallras.")
    lock_mode: LockMode = LockMode.GOVERNANCE
    lock_days: float | None = Field(
        default=None,
        gt=0,
        description="For bevaras: how long the S3 retention date is set ahead; the legal hold keeps it after.",
    )
    legal_hold: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> RetentionClass:
        if self.action is RetentionAction.gallras and self.period_days is None:
            raise ValueError("a 'gallras' class needs 'period_days' (gallringsfrist)")
        if self.action is RetentionAction.bevaras:
            if self.period_days is not None:
                raise ValueError("a 'bevaras' class has no 'period_days'; it is never disposed of")
            if not self.legal_hold:
                raise ValueError("a 'bevaras' class must set 'legal_hold: true'")
            if self.lock_days is None:
                raise ValueError("a 'bevaras' class needs 'lock_days' for its S3 retention date")
        return self

    def lock_for(self, captured_at: dt.datetime) -> ObjectLock:
        days = self.period_days if self.action is RetentionAction.gallras else self.lock_days
        assert days is not None  # guaranteed by _consistent
        return ObjectLock(
            mode=self.lock_mode,
            retain_until=captured_at + dt.timedelta(days=days),
            legal_hold=self.legal_hold,
        )


class CaptureStatus(StrEnum):
    captured = "captured"
    blocked = "blocked"  # a wall (login, bot check, rate limit, error, other site): evidence only
    failed = "failed"


class FileRole(StrEnum):
    archival = "archival"  # the PDF/A ögonblicksbild, the record proper
    screenshot = "screenshot"  # the lossless full-page PNG it was made from
    dom = "dom"  # the page's HTML after load
    print_pdf = "print-pdf"  # Chromium's own print rendering (real text and links)
    screenshot_mobile = "screenshot-mobile"  # the same page in a phone's viewport
    evidence = "evidence"  # what was in the way: a consent popup before dismissal, a wall
    warc = "warc"  # the page load as the browser received it
    words = "words"  # the words the browser drew and where (for the archival PDF's text layer)
    print_pdfa = "print-pdfa"  # the print rendering made PDF/A-2b, beside the original
    elements = "elements"  # the profile's elements as the page showed them (name, bio, pinned post, ...)


class ArchivedFile(_Model):
    name: str
    role: FileRole
    media_type: str
    size: int
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    key: str | None = None
    version_id: str | None = None


class Hop(_Model):
    """One address the page's main frame was at on the way to the shot."""

    url: str
    kind: Literal["load", "redirect", "navigation", "history", "error"]
    http_status: int | None = None


class SettleInfo(_Model):
    """How scrolling the page to load its content ended."""

    outcome: Literal["complete", "height-limit", "time-limit"]
    seconds: float
    rounds: int
    height: int = Field(description="The page's height when scrolling ended (px).")
    items: int = Field(description="Elements in the page when scrolling ended.")
    grew: int = Field(default=0, description="How often the page grew while the bottom was near (a feed).")
    still_before_s: float = Field(default=0.0, description=(
        "How long the page had already stayed the same when scrolling began (since it landed, while consent "
        "was looked for): counted in the quiet the page must keep."))


class ViewFile(_Model):
    name: str
    size: int


class SessionInfo(_Model):
    """A logged-in view was used: whose, and since when (never the cookie)."""

    role: str = Field(description="As whom the communicator logged in, as they stated it.")
    saved_at: dt.datetime
    saved_by: str | None = None


class PageInfo(_Model):
    requested_url: str
    final_url: str
    http_status: int | None
    title: str
    redirect_chain: tuple[str, ...] = ()
    hops: tuple[Hop, ...] = Field(default=(), description="Every address the main frame was at, in order, "
                                                          "until the shot (redirects, late navigations, history).")


class BrowserInfo(_Model):
    name: str
    version: str
    user_agent: str
    viewport_width: int
    viewport_height: int
    device_scale_factor: float
    locale: str
    timezone: str
    page_height: int


class ViewInfo(_Model):
    """One rendering of the page (desktop is the primary record, mobile the second view)."""

    name: Literal["desktop", "mobile"]
    user_agent: str
    viewport_width: int
    viewport_height: int
    device_scale_factor: float
    is_mobile: bool
    page_height: int = 0
    screenshot: str | None = None
    tiles: int = 1
    settle: SettleInfo | None = None
    files: tuple[ViewFile, ...] = Field(default=(), description="The files this view wrote, with their sizes.")
    notes: tuple[str, ...] = ()


class ConsentInfo(_Model):
    found: bool
    dismissed: bool
    method: str | None = None
    platform: str | None = None
    action: str | None = None
    evidence: str | None = None
    host: str | None = Field(default=None, description="The host that showed the dialog (a consent site, too).")
    frame_url: str | None = Field(default=None, description="The frame holding the dialog, when not the page.")
    errors: tuple[str, ...] = ()
    rules: str | None = Field(default=None, description="The rule set and its version.")


class WallInfo(_Model):
    kind: str
    reason: str
    evidence: str | None = None


class BlockedRequestInfo(_Model):
    target: str
    reason: str


class Confidence(StrEnum):
    high = "high"  # counted from the platform's API
    medium = "medium"  # read from structured data on the page (meta tags, JSON-LD)
    low = "low"  # read from a visible counter on the page ("1,2 tn följare"), rounded by the platform


class MetricValue(_Model):
    """One number with how it was obtained (P4). ``value`` None means unknown, never zero."""

    value: int | None = None
    source: str = Field(description="'api:<platform>', 'page' or 'manual'")
    read_at: dt.datetime
    confidence: Confidence | None = None
    unavailable: str | None = Field(default=None, description="Why there is no value, e.g. 'unavailable: 401'.")
    detail: str | None = Field(default=None, description="What was read, e.g. '1,2 tn prenumeranter'.")


class Metrics(_Model):
    """Followers and written posts in the last month at one capture (policy P4)."""

    followers: MetricValue
    posts_last_month: MetricValue = Field(description="Own written posts (replies count; reposts do not).")
    reposts_last_month: MetricValue | None = Field(default=None, description="Boosts/reposts/retweets, apart.")
    total_posts: MetricValue | None = None
    window_start: dt.datetime
    window_end: dt.datetime = Field(description="The capture time. The window is [start, end): a post dated "
                                                "at the capture time or after it is not counted.")
    window: Literal["30d", "calendar-month"] = "30d"


class PdfaInfo(_Model):
    """What the archival PDF claims and what was checked (None: no PDF/A could be made)."""

    conformance: Literal["PDF/A-2b"] | None = "PDF/A-2b"
    valid: bool
    validator: str
    findings: tuple[str, ...] = ()
    pages: int
    text_layer: Literal["unicode", "none"] = "none"
    words: int = 0


class CaptureRecord(_Model):
    """The single source of truth about one capture (filed as record.json).

    Built up stage by stage (capture, PDF/A, filing); S3 metadata, XMP and reports are derived
    from it.
    """

    record_version: Literal[1] = 1
    capture_id: str = Field(description="'<account>/<UTC time>-<trigger>', also the key prefix.")
    municipality: str
    account: Account
    trigger: Trigger
    reason: str | None = None
    requested_by: str | None = None
    status: CaptureStatus
    started_at: dt.datetime
    finished_at: dt.datetime
    page: PageInfo
    browser: BrowserInfo
    timings: dict[str, float] = Field(default_factory=dict)
    views: tuple[ViewInfo, ...] = ()
    consent: ConsentInfo | None = None
    wall: WallInfo | None = None
    session: SessionInfo | None = Field(default=None, description="Set when a logged-in view was used.")
    blocked_requests: tuple[BlockedRequestInfo, ...] = ()
    outbound_ip: str | None = None
    notes: tuple[str, ...] = Field(default=(), description="What the capture had to bound or work around.")
    files: tuple[ArchivedFile, ...] = ()
    pdfa: PdfaInfo | None = None
    metrics: Metrics | None = None
    retention_class: str
    lock: ObjectLock | None = None
    software: dict[str, str] = Field(default_factory=dict)
    flow_run_id: str | None = None
    filed_at: dt.datetime | None = None
    bucket: str | None = None
    record_key: str | None = Field(default=None, description="Where this record itself is filed.")

    def file(self, name: str) -> ArchivedFile:
        for f in self.files:
            if f.name == name:
                return f
        raise KeyError(name)


def make_capture_id(account_id: str, started_at: dt.datetime, trigger: Trigger) -> str:
    """'<account>/<YYYY-MM-DDTHHMMSSZ>-<trigger>': sortable by time, readable by people."""
    stamp = started_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H%M%SZ")
    return f"{account_id}/{stamp}-{Trigger(trigger).value}"


class AccountOutcome(_Model):
    """What a snapshot run did for one account."""

    account_id: str
    platform: Platform
    status: CaptureStatus
    capture_id: str | None = None
    object_keys: tuple[str, ...] = ()
    local_folder: str | None = None
    pdfa: str | None = None
    failed_stage: str | None = None
    error: str | None = None
    change: str | None = Field(default=None, description="What changed since the account's previous snapshot.")
    follower_change: int | None = Field(default=None, description="Followers now minus at the capture before.")
    inactive: bool = Field(default=False, description="No written posts, capture after capture (tasks.inactivity).")


class CaptureReview(_Model):
    """What the review of one filed capture said (tasks.review.review_capture): its outcome's last fields."""

    change: str | None = None
    follower_change: int | None = None
    inactive: bool = False


class SnapshotSummary(_Model):
    """What a snapshot run did, account by account (the flow's result)."""

    trigger: Trigger
    reason: str | None = None
    bucket: str | None = None
    flow_run_id: str | None = None
    outcomes: tuple[AccountOutcome, ...] = ()

    @property
    def failed(self) -> tuple[AccountOutcome, ...]:
        return tuple(o for o in self.outcomes if o.status is CaptureStatus.failed)

    @property
    def captured(self) -> tuple[AccountOutcome, ...]:
        return tuple(o for o in self.outcomes if o.status is CaptureStatus.captured)

    @property
    def blocked(self) -> tuple[AccountOutcome, ...]:
        return tuple(o for o in self.outcomes if o.status is CaptureStatus.blocked)


class AskRecord(_Model):
    """Who was asked what in the Prefect UI, when, and what they said: for the record and the audit trail."""

    question: str
    asked_at: dt.datetime
    answered_at: dt.datetime | None = None
    answered_by: str | None = None
    answer: dict | None = None
    timed_out: bool = False


class AuditEvent(_Model):
    """One entry of the append-only audit trail, in PREMIS terms (eventType, dateTime, outcome, ...).

    Filed as its own locked JSON object under audit/ and emitted as a Prefect event
    ``somearkiv.<event_type>``.
    """

    event_id: str
    event_type: Literal["capture", "hold", "release", "fixity-check", "disposal-review", "deletion",
                        "disposal-protocol", "sip-export", "seal", "disclosure", "moderation"]
    event_datetime: dt.datetime
    outcome: Literal["success", "failure", "warning"]
    detail: str
    account_id: str | None = None
    objects: tuple[str, ...] = Field(default=(), description="Keys (with ?versionId=...) the event is about.")
    agents: tuple[str, ...] = Field(default=(), description="The software, and the person where one acted.")
    data: dict = Field(default_factory=dict)


FixityStatus = Literal["ok", "mismatch", "missing", "unlocked", "hidden", "forged", "orphan", "broken-chain",
                      "error", "absent"]


class FixityResult(_Model):
    """One object checked against the custody ledger: its filed version, bytes, lock and history.

    ok: intact. mismatch: other bytes than filed. missing: the filed version is gone.
    unlocked: its legal hold was lifted or its retention shortened against its class.
    hidden: a delete marker lies over a filed key. forged: a version the ledger does not know
    lies over a filed key. orphan: an object under captures/ or blocked/ of no ledgered capture.
    broken-chain: the ledger itself was altered. error: the storage could not answer for it.
    absent: nothing was ever filed or stored under the key (a mistyped key, not a finding).
    """

    key: str
    version_id: str | None
    expected_sha256: str
    status: FixityStatus
    actual_sha256: str | None = None
    detail: str | None = None


class LedgerObject(_Model):
    """One object version as the ledger knows it."""

    key: str
    version_id: str | None
    size: int | None = None
    sha256: str | None = None


# "seal": an RFC 3161 token got later for a capture filed unsealed (the TSA was down): the token and its
# validation data, filed under seals/<capture id>/, with the capture and seal times in the detail.
# "evidence": a page captured as evidence before removal (evidence/<capture id>/), "moderation": one version of a
# moderation case (cases/<case id>/): both outside the captures' custody (never in `captures`, search or disposal).
LedgerKind = Literal["capture", "hold", "release", "disposal", "delivery", "seal", "disclosure", "evidence",
                     "moderation"]


class LedgerEntry(_Model):
    """One link of the custody ledger: an append-only, hash-chained list of what was filed and
    everything done to it since (holds, releases, disposals, deliveries).

    Each entry is its own locked object ``ledger/<seq>.json``; ``hash`` is the SHA-256 of the
    entry's canonical JSON without ``hash``, and ``prev`` the previous entry's hash, so a changed,
    removed or inserted entry breaks the chain.
    """

    seq: int = Field(ge=0)
    kind: LedgerKind
    at: dt.datetime
    capture_id: str | None = None
    account_id: str | None = None
    status: CaptureStatus | None = Field(default=None, description="For a capture: captured or blocked.")
    objects: tuple[LedgerObject, ...] = ()
    manifest_sha256: str | None = None
    retention_class: str | None = None
    lock: ObjectLock | None = Field(default=None, description="For a capture: the lock it was filed with.")
    person: str | None = None
    detail: str = ""
    prev: str
    hash: str = ""

    def canonical(self) -> bytes:
        """The bytes the hash covers: every field but ``hash``, keys sorted."""
        return json.dumps(self.model_dump(mode="json", exclude={"hash"}), sort_keys=True,
                          separators=(",", ":"), ensure_ascii=False).encode()

    def sealed(self) -> LedgerEntry:
        return self.model_copy(update={"hash": hashlib.sha256(self.canonical()).hexdigest()})


class Captured(NamedTuple):
    """A capture on its way through the stages (capture, metrics, PDF/A, filing): its record and
    the local folder its files are in. Files are found by their role in the record."""

    record: CaptureRecord
    folder: Path

    def path(self, role: FileRole, name_prefix: str = "") -> Path | None:
        """The file of *role* (the first whose name starts with *name_prefix*), if the capture has one."""
        for f in self.record.files:
            if f.role is role and f.name.startswith(name_prefix):
                return self.folder / f.name
        return None

    def with_record(self, record: CaptureRecord) -> Captured:
        return Captured(record, self.folder)



# -- The weekly watch (tasks.watch): light captures filed under watch/ in a short-lived class, and
# -- what changed between two of them (or since the last snapshot).

WatchElementName = Literal["name", "handle", "bio", "link", "avatar", "banner", "pinned"]
ChangeClass = Literal["ingen ändring", "mindre ändring", "större ändring"]


class WatchElement(_Model):
    """One element of the profile as a watch found it: a text, a link, or an image cut from the screenshot."""

    element: WatchElementName
    found: bool = False
    text: str | None = None
    href: str | None = None
    box: tuple[float, float, float, float] | None = Field(
        default=None, description="x, y, width, height in CSS px on the page (the screenshot's pixels at scale 1).")
    rule: str | None = Field(default=None, description="The rule that found it, e.g. 'mastodon:.account__header__bio' "
                                                       "or 'generic:meta og:description'.")
    image: str | None = Field(default=None, description="The cut-out image's file name in the watch (avatar, banner).")
    dhash: str | None = Field(default=None, description="64-bit difference hash of the image, hex.")
    phash: str | None = Field(default=None, description="64-bit DCT perceptual hash of the image, hex.")
    colour: tuple[int, int, int] | None = Field(default=None, description="The image's mean colour (RGB).")


class ElementChange(_Model):
    """One difference between two states of a profile, and what it adds to the change score."""

    element: str
    kind: Literal["text", "image", "presence", "layout", "metric"]
    before: str | None = None
    after: str | None = None
    degree: float = Field(ge=0, le=1, description="How much it changed: 0 nothing, 1 completely.")
    weight: float = Field(ge=0, description="The element's weight (config/watch.yaml).")
    score: float = Field(ge=0, description="degree × weight")
    detail: str = ""


class ChangeReport(_Model):
    """What changed between a watch and its baseline (the previous watch, or the last snapshot)."""

    watch_id: str
    baseline: Literal["watch", "snapshot"]
    compared_with: str = Field(description="The baseline's watch id or capture id.")
    compared_at: dt.datetime
    score: float
    classification: ChangeClass
    changes: tuple[ElementChange, ...] = ()
    layout_similarity: float | None = Field(default=None, description="0..1, noise masked; None: not compared.")
    regions: tuple[tuple[int, int, int, int], ...] = Field(
        default=(), description="Changed regions of the page (x, y, width, height in px), marked in the review image.")
    ignored: tuple[str, ...] = Field(default=(), description="Differences seen and counted as noise.")


class WatchRecord(_Model):
    """One light capture of the weekly watch (filed as watch.json, last, under watch/<account>/<time>-watch/)."""

    record_version: Literal[1] = 1
    watch_id: str = Field(description="'<account>/<UTC time>-watch', also the key prefix under watch/.")
    municipality: str
    account: Account
    status: CaptureStatus
    started_at: dt.datetime
    finished_at: dt.datetime
    page: PageInfo
    browser: BrowserInfo
    timings: dict[str, float] = Field(default_factory=dict)
    consent: ConsentInfo | None = None
    wall: WallInfo | None = None
    blocked_requests: tuple[BlockedRequestInfo, ...] = ()
    notes: tuple[str, ...] = ()
    files: tuple[ArchivedFile, ...] = ()
    elements: tuple[WatchElement, ...] = ()
    metrics: Metrics | None = None
    changes: tuple[ChangeReport, ...] = Field(default=(), description="Against the previous watch and/or the last "
                                                                     "snapshot, when there was one.")
    retention_class: str
    lock: ObjectLock | None = None
    software: dict[str, str] = Field(default_factory=dict)
    flow_run_id: str | None = None
    filed_at: dt.datetime | None = None
    bucket: str | None = None
    record_key: str | None = None

    def element(self, name: str) -> WatchElement | None:
        return next((e for e in self.elements if e.element == name), None)

    def file(self, name: str) -> ArchivedFile:
        for f in self.files:
            if f.name == name:
                return f
        raise KeyError(name)


class WatchOutcome(_Model):
    """What one watch run did for one account."""

    account_id: str
    status: Literal["watched", "blocked", "failed", "skipped"]
    watch_id: str | None = None
    classification: ChangeClass | None = None
    score: float | None = None
    baseline: str | None = None
    announced: str | None = Field(default=None, description="The before-change capture that announced the change.")
    promoted_capture_id: str | None = Field(default=None, description="The pre-change watch, made a permanent capture.")
    snapshot_capture_id: str | None = Field(default=None, description="The snapshot of the new state.")
    review_key: str | None = None
    error: str | None = None


# -- Disclosure with masking (utlämnande med maskning, tasks.disclosure): a masked copy of a capture's
# -- archival PDF, and the record of the decision, filed under disclosures/<capture-id>/<time>/.


class DisclosureRegion(_Model):
    """One masked box on one page, in pixels of the page image the capture filed (startpage.png is page 1,
    startpage-mobile.png page 2), before the copy's stamp margin was added above it."""

    page: int = Field(ge=1)
    x: int = Field(ge=0)
    y: int = Field(ge=0)
    width: int = Field(gt=0)
    height: int = Field(gt=0)


class DisclosureMask(_Model):
    """One mask asked for: a text (every occurrence in the capture's words) or a region given by hand."""

    kind: Literal["text", "region"]
    text: str | None = Field(default=None, description="The masked text (kind 'text'). Kept in this record only: "
                                                       "never in logs, events, metadata or the copy.")
    matches: int = Field(default=0, description="Occurrences found (kind 'text'); 0 means nothing was masked for it.")
    regions: tuple[DisclosureRegion, ...] = ()


class DisclosurePage(_Model):
    """One page of the masked copy: the original image it was made from and what was taken out of it."""

    page: int = Field(ge=1)
    source: str = Field(description="The original page image's name in the capture, e.g. startpage.png.")
    width: int
    height: int
    margin_top: int = Field(description="Pixels of stamp margin added above the original image.")
    words_kept: int
    words_removed: int


class DisclosureRecord(_Model):
    """The decision to disclose a capture with masking (filed as disclosure.json, after the masked copy).

    The original capture is never touched: ``sources`` names the filed versions the copy was made from.
    """

    record_version: Literal[1] = 1
    disclosure_id: str = Field(description="'<capture id>/<UTC time>', also the key prefix under disclosures/.")
    capture_id: str
    account_id: str
    municipality: str
    sources: tuple[LedgerObject, ...] = Field(description="The filed originals read, by version, SHA-256 checked.")
    masks: tuple[DisclosureMask, ...]
    pages: tuple[DisclosurePage, ...] = ()
    legal_ground: str = Field(min_length=1, description="The provision the masking rests on, e.g. 'OSL 21 kap. 7 §'.")
    decided_by: str = Field(min_length=1)
    decided_at: dt.datetime
    disclosed_on: dt.date = Field(description="The date stamped on the copy (Europe/Stockholm).")
    stamp: str = Field(description="The text stamped in the copy's margin.")
    prepared_by: str | None = None
    masked_copy: ArchivedFile
    pdfa: PdfaInfo
    review: AskRecord | None = Field(default=None, description="The review in the Prefect UI, when there was one.")
    lock: ObjectLock | None = None
    software: dict[str, str] = Field(default_factory=dict)
    flow_run_id: str | None = None
    notes: tuple[str, ...] = ()
    filed_at: dt.datetime | None = None
    bucket: str | None = None
    record_key: str | None = None


# -- Evidence before removal (moderering, tasks.evidence): a reported comment or post captured as evidence
# -- under evidence/, and the moderation case with its 48-hour clock, one new object per change under cases/.


class ModerationCase(_Model):
    """One moderation case: offensive personal data reported in a comment or post, the evidence kept before
    it was removed, and when it was gone (the policy: removed at once, at the latest within 48 hours).

    Filed under cases/<case id>/<NNNN>-<status>.json, a new locked object for every change (``version``);
    the newest version is the case. Restricted: read only by the archivist and auditor identities.
    """

    record_version: Literal[1] = 1
    case_id: str = Field(description="'<account>/<UTC time it was opened>', also the key prefix under cases/.")
    version: int = Field(default=1, ge=1, description="1 when opened; each change files the next version.")
    status: Literal["open", "removed"] = "open"
    account_id: str
    url: str = Field(description="The reported post or comment page.")
    reason: str = Field(min_length=1, description="Why it is to be removed (kept here only, never in logs).")
    quote: str | None = Field(default=None, description="Text that shows the content; its absence proves removal. "
                                                        "Personal data: kept here only, never in logs or events.")
    reported_at: dt.datetime = Field(description="When it was reported: the 48-hour clock starts here.")
    reported_by: str = Field(min_length=1)
    opened_at: dt.datetime
    evidence_capture_id: str
    evidence_at: dt.datetime = Field(description="When the evidence capture was taken.")
    evidence_record_key: str | None = None
    removed_at: dt.datetime | None = Field(default=None, description="When the re-capture showed it gone.")
    removed_by: str | None = None
    removal_capture_id: str | None = None
    removal_record_key: str | None = None
    removal_proof: str | None = Field(default=None, description="How the re-capture showed it gone: 'http-404', "
                                                                "'http-410' or 'quote-absent'.")
    retention_class: str
    lock: ObjectLock | None = None
    software: dict[str, str] = Field(default_factory=dict)
    previous_key: str | None = Field(default=None, description="The version this one follows.")
    filed_at: dt.datetime | None = None
    record_key: str | None = None
