"""Disposal (gallring): only expired captures of 'gallras' classes, only after an archivist approves,
only by deleting exactly the filed versions, always leaving a protocol (gallringsprotokoll)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from tempfile import TemporaryDirectory

from PIL import Image, ImageDraw, ImageFont
from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, ConfigDict

from somearkiv.models import AskRecord, DecisionRef, RetentionAction
from somearkiv.settings import get_settings
from storage import PROTOCOL_PREFIX, Archive
from tasks.audit import record_event
from tasks.pdfa import PageImage, write_pdfa
from tasks.retention import read_retention_schedule, records_lock

__all__ = ["Candidate", "DisposedObject", "dispose", "file_protocol", "find_expired", "record_review",
           "show_candidates"]


class FiledObject(BaseModel):
    model_config = ConfigDict(frozen=True)
    key: str
    version_id: str
    size: int
    sha256: str


class Candidate(BaseModel):
    """A capture whose gallringsfrist has passed and that no hold keeps."""

    model_config = ConfigDict(frozen=True)
    capture_id: str
    account_id: str
    captured_at: dt.datetime
    retention_class: str
    class_name: str
    decision: DecisionRef
    retain_until: dt.datetime
    objects: tuple[FiledObject, ...]

    @property
    def size(self) -> int:
        return sum(o.size for o in self.objects)


class DisposedObject(BaseModel):
    model_config = ConfigDict(frozen=True)
    capture_id: str
    key: str
    version_id: str
    size: int
    sha256: str
    deleted_at: dt.datetime
    verified_gone: bool


def _archive() -> Archive:
    return Archive.connected(get_settings())


@task(name="find-expired", cache_policy=NO_CACHE)
def find_expired(now: dt.datetime | None = None) -> list[Candidate]:
    """Captures of 'gallras' classes whose retention date has passed and none of whose objects is held."""
    now = now or dt.datetime.now(dt.UTC)
    archive = _archive()
    schedule = read_retention_schedule(get_settings().retention_config)
    found = []
    for record in archive.list_captures():
        klass = schedule.get(record.retention_class) if record.retention_class in schedule.ids else None
        if klass is None or klass.action is not RetentionAction.gallras or record.lock is None:
            continue
        if record.lock.retain_until > now:
            continue
        objects, held = [], False
        for key, version in archive.capture_objects(record):
            info = archive.head(key, version)
            held |= info.legal_hold or (info.retain_until is not None and info.retain_until > now)
            objects.append(FiledObject(key=key, version_id=version or "", size=info.size, sha256=info.sha256 or ""))
        if not held:
            found.append(Candidate(capture_id=record.capture_id, account_id=record.account.id,
                                   captured_at=record.started_at, retention_class=klass.id, class_name=klass.name,
                                   decision=klass.decision, retain_until=record.lock.retain_until,
                                   objects=tuple(objects)))
    return found


@task(name="show-disposal-candidates", cache_policy=NO_CACHE)
def show_candidates(candidates: list[Candidate]) -> None:
    create_table_artifact(
        [{"capture": c.capture_id, "konto / account": c.account_id, "tagen / captured": f"{c.captured_at:%Y-%m-%d}",
          "klass / class": f"{c.retention_class} – {c.class_name}",
          "beslut / decision": f"{c.decision.body} {c.decision.date} {c.decision.paragraph}",
          "gallringsfrist till / until": f"{c.retain_until:%Y-%m-%d}", "filer / files": len(c.objects),
          "storlek / size (B)": c.size} for c in candidates],
        key="disposal-candidates",
        description="Förslag till gallring / proposed for disposal: approve or reject in the paused run's form",
    )


@task(name="dispose", cache_policy=NO_CACHE)
def dispose(approved: list[Candidate], approver: str, comment: str) -> list[DisposedObject]:
    """Delete exactly the approved versions, verify each is gone, record every deletion."""
    archive = _archive()
    now = dt.datetime.now(dt.UTC)
    disposed = []
    for candidate in approved:
        for obj in candidate.objects:
            info = archive.head(obj.key, obj.version_id)
            expired = info.retain_until is None or info.retain_until <= now
            if info.legal_hold or not expired:  # a hold placed since the review: leave it
                continue
            archive.delete_version(obj.key, obj.version_id, bypass_governance=expired and info.lock_mode == "GOVERNANCE")
            gone = not archive.version_exists(obj.key, obj.version_id)
            disposed.append(DisposedObject(capture_id=candidate.capture_id, key=obj.key, version_id=obj.version_id,
                                           size=obj.size, sha256=obj.sha256, deleted_at=dt.datetime.now(dt.UTC),
                                           verified_gone=gone))
        record_event(archive, "deletion", "success", f"{candidate.capture_id} disposed of under "
                     f"{candidate.decision.body} {candidate.decision.date} {candidate.decision.paragraph}",
                     account_id=candidate.account_id, person=approver,
                     objects=[f"{d.key}?versionId={d.version_id}" for d in disposed if d.capture_id ==
                              candidate.capture_id], data={"capture_id": candidate.capture_id, "comment": comment})
    return disposed


def _protocol_image(lines: list[str]) -> Image.Image:
    font = ImageFont.load_default(size=18)
    width, line_height = 1400, 26
    image = Image.new("RGB", (width, 80 + line_height * len(lines)), "white")
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((50, 40 + i * line_height), line, fill="black", font=font)
    return image


@task(name="file-disposal-protocol", cache_policy=NO_CACHE)
def file_protocol(candidates: list[Candidate], disposed: list[DisposedObject], review: dict) -> dict[str, str]:
    """The gallringsprotokoll, as JSON and as PDF/A, filed permanently under gallringsprotokoll/."""
    settings = get_settings()
    archive = _archive()
    now = dt.datetime.now(dt.UTC)
    stamp = f"{now:%Y-%m-%dT%H%M%SZ}"
    protocol = {
        "protocol": "gallringsprotokoll", "municipality": settings.municipality, "created_at": now.isoformat(),
        "review": review,
        "captures": [c.model_dump(mode="json") for c in candidates],
        "disposed": [d.model_dump(mode="json") for d in disposed],
        "all_verified_gone": all(d.verified_gone for d in disposed),
    }
    lock = records_lock(now)
    keys = {"json": f"{PROTOCOL_PREFIX}{stamp}.json", "pdf": f"{PROTOCOL_PREFIX}{stamp}.pdf"}
    archive.file_document(keys["json"], json.dumps(protocol, indent=2, ensure_ascii=False).encode(),
                          "application/json", lock)
    lines = [f"Gallringsprotokoll – {settings.municipality}", f"Upprättat / created: {now:%Y-%m-%d %H:%M} UTC",
             f"Godkänt av / approved by: {review.get('answered_by')}  {review.get('answered_at', '')}",
             f"Kommentar / comment: {(review.get('answer') or {}).get('comment', '')}", ""]
    for c in candidates:
        lines.append(f"{c.capture_id}  (klass {c.retention_class}, beslut {c.decision.body} {c.decision.date} "
                     f"{c.decision.paragraph}, frist till {c.retain_until:%Y-%m-%d})")
        lines += [f"    {d.key}  version {d.version_id}  {d.size} B  sha256 {d.sha256[:16]}…  "
                  f"{'raderad och kontrollerad' if d.verified_gone else 'KVAR'}"
                  for d in disposed if d.capture_id == c.capture_id]
    with TemporaryDirectory() as tmp:
        png, pdf = Path(tmp) / "protocol.png", Path(tmp) / "protocol.pdf"
        _protocol_image(lines).save(png)
        write_pdfa([PageImage(png)], pdf, {"dc:title": f"Gallringsprotokoll {stamp}", "dc:creator": [settings.municipality],
                              "dc:identifier": keys["pdf"], "dc:language": ["sv"],
                              "xmp:CreateDate": now.isoformat(timespec="seconds"),
                              "xmp:ModifyDate": now.isoformat(timespec="seconds"),
                              "xmp:MetadataDate": now.isoformat(timespec="seconds")}, text_layer=False)
        archive.file_document(keys["pdf"], pdf.read_bytes(), "application/pdf", lock)
    record_event(archive, "disposal-protocol", "success", f"gallringsprotokoll filed: {keys['json']}",
                 objects=list(keys.values()), person=review.get("answered_by"))
    return keys


@task(name="record-disposal-review", cache_policy=NO_CACHE)
def record_review(asked: AskRecord, candidates: list[Candidate], approved: list[Candidate]) -> None:
    outcome = "timed out" if asked.timed_out else (asked.answer or {}).get("decision", "?")
    record_event(_archive(), "disposal-review",
                 "success" if approved else "warning",
                 f"disposal review {outcome}: {len(approved)} of {len(candidates)} captures approved",
                 person=asked.answered_by,
                 data={"review": asked.model_dump(mode="json"), "proposed": [c.capture_id for c in candidates],
                       "approved": [c.capture_id for c in approved]})
