"""Disposal (gallring): only expired captures of 'gallras' classes, only after an archivist approves,
only by deleting exactly the filed versions, always leaving a protocol (gallringsprotokoll)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Literal

from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, ConfigDict, Field, create_model

from somearkiv.models import AskRecord, DecisionRef, LedgerObject
from somearkiv.retention import deletion_blocker
from somearkiv.settings import get_settings
from storage import Archive, ArchiveError
from tasks.approval import Answer
from tasks.audit import record_event
from tasks.retention import read_retention_schedule, records_lock
from tasks.typeset import Para, write_document

__all__ = ["Candidate", "Disposal", "DisposalApproval", "DisposedObject", "SkippedObject", "approval_form",
           "approved_candidates", "dispose", "file_protocol", "find_expired", "record_review",
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


class SkippedObject(BaseModel):
    """An approved object that was not deleted, and why (a hold placed since the review, ...)."""

    model_config = ConfigDict(frozen=True)
    capture_id: str
    key: str
    version_id: str
    reason: str


class Disposal(BaseModel):
    """What a disposal really did: only deletions verified gone count as disposed."""

    model_config = ConfigDict(frozen=True)
    disposed: tuple[DisposedObject, ...] = ()
    skipped: tuple[SkippedObject, ...] = ()
    local_copies_removed: tuple[str, ...] = ()
    metrics_report: str | None = None

    def captures_disposed(self) -> list[str]:
        """Captures none of whose objects was skipped (all deleted and verified gone)."""
        kept = {s.capture_id for s in self.skipped} | {d.capture_id for d in self.disposed if not d.verified_gone}
        return sorted({d.capture_id for d in self.disposed} - kept)


def _archive(role: str = "pipeline") -> Archive:
    return Archive.connected(get_settings(), role=role)


@task(name="find-expired", cache_policy=NO_CACHE)
def find_expired(now: dt.datetime | None = None) -> list[Candidate]:
    """Captures of 'gallras' classes whose retention date has passed and none of whose objects is held,
    then the weekly watch's light captures (watch/, a short-lived class) whose time has come."""
    now = now or dt.datetime.now(dt.UTC)
    archive = _archive()
    schedule = read_retention_schedule(get_settings().retention_config)
    found = []
    state = archive.custody()
    for record in archive.list_captures(state=state):
        klass = schedule.disposable_class(record.retention_class, record.lock, now)
        if klass is None:
            continue
        objects, held = [], False
        for key, version in archive.capture_objects(record, state):
            info = archive.head(key, version)
            held |= deletion_blocker(info.legal_hold, info.retain_until, now) is not None
            objects.append(FiledObject(key=key, version_id=version or "", size=info.size, sha256=info.sha256 or ""))
        if not held:
            found.append(Candidate(capture_id=record.capture_id, account_id=record.account.id,
                                   captured_at=record.started_at, retention_class=klass.id, class_name=klass.name,
                                   decision=klass.decision, retain_until=record.lock.retain_until,
                                   objects=tuple(objects)))
    return found + _expired_watches(archive, schedule, now)


def _expired_watches(archive: Archive, schedule, now: dt.datetime) -> list[Candidate]:
    """The watch buffer's expired light captures, proposed like captures: the same review, deletion and protocol."""
    found = []
    for watch_id in archive.all_watch_ids():
        watch = archive.read_watch(watch_id)
        klass = schedule.disposable_class(watch.retention_class, watch.lock, now)
        if klass is None or watch.record_key is None or watch.lock is None:
            continue
        objects, held = [], False
        keys = [(f.key, f.version_id) for f in watch.files if f.key] + [(watch.record_key, None)]
        for key, version in keys:
            info = archive.head(key, version)
            held |= deletion_blocker(info.legal_hold, info.retain_until, now) is not None
            objects.append(FiledObject(key=key, version_id=info.version_id or "", size=info.size,
                                       sha256=info.sha256 or ""))
        if not held:
            found.append(Candidate(capture_id=watch_id, account_id=watch.account.id, captured_at=watch.started_at,
                                   retention_class=klass.id, class_name=klass.name, decision=klass.decision,
                                   retain_until=watch.lock.retain_until, objects=tuple(objects)))
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
def dispose(approved: list[Candidate], approver: str, comment: str) -> Disposal:
    """Delete exactly the approved versions that are still free to go, verify each is gone, record it
    all (audit and ledger), remove the local copies of what is gone and redo the metrics report.

    Runs as the archivist: the only identity that may delete a version.
    """
    archive = _archive("archivist")
    disposed: list[DisposedObject] = []
    skipped: list[SkippedObject] = []
    for candidate in approved:
        mine: list[DisposedObject] = []
        for obj in candidate.objects:
            try:
                info = archive.head(obj.key, obj.version_id)
                reason = deletion_blocker(info.legal_hold, info.retain_until, dt.datetime.now(dt.UTC))
                if reason is None:
                    archive.delete_version(obj.key, obj.version_id,
                                           bypass_governance=info.lock_mode == "GOVERNANCE")
            except ArchiveError as exc:
                reason = f"the storage refused: {exc}"
            if reason is not None:
                skipped.append(SkippedObject(capture_id=candidate.capture_id, key=obj.key, version_id=obj.version_id,
                                             reason=reason))
                continue
            gone = not archive.version_exists(obj.key, obj.version_id)
            mine.append(DisposedObject(capture_id=candidate.capture_id, key=obj.key, version_id=obj.version_id,
                                       size=obj.size, sha256=obj.sha256, deleted_at=dt.datetime.now(dt.UTC),
                                       verified_gone=gone))
            if not gone:
                skipped.append(SkippedObject(capture_id=candidate.capture_id, key=obj.key, version_id=obj.version_id,
                                             reason="deleted, but the version is still there"))
        disposed += mine
        deleted = [d for d in mine if d.verified_gone]
        left = [s for s in skipped if s.capture_id == candidate.capture_id]
        decision = f"{candidate.decision.body} {candidate.decision.date} {candidate.decision.paragraph}"
        if deleted:
            archive.ledger.append("disposal", capture_id=candidate.capture_id, account_id=candidate.account_id,
                                  objects=[LedgerObject(key=d.key, version_id=d.version_id, size=d.size,
                                                        sha256=d.sha256) for d in deleted],
                                  person=approver, detail=f"gallring under {decision}; {comment}".strip("; "))
        record_event(archive, "deletion", "success" if deleted and not left else "warning" if deleted else "failure",
                     f"{candidate.capture_id}: {len(deleted)} of {len(candidate.objects)} objects disposed of under "
                     f"{decision}" + (f"; not deleted: {'; '.join(f'{s.key}: {s.reason}' for s in left)}"
                                      if left else ""),
                     account_id=candidate.account_id, person=approver,
                     objects=[f"{d.key}?versionId={d.version_id}" for d in deleted],
                     data={"capture_id": candidate.capture_id, "comment": comment,
                           "skipped": [s.model_dump() for s in left]})
    result = Disposal(disposed=tuple(disposed), skipped=tuple(skipped))
    removed = _remove_local_copies(result.captures_disposed())
    report = _redo_metrics_report(archive) if removed or result.captures_disposed() else None
    return result.model_copy(update={"local_copies_removed": tuple(removed), "metrics_report": report})


def _remove_local_copies(capture_ids: list[str]) -> list[str]:
    """The local working copies (data dir) of disposed captures: gone with the record."""
    root = (get_settings().data_dir / "captures").resolve()
    removed = []
    for capture_id in capture_ids:
        folder = (root / capture_id).resolve()
        if folder.is_relative_to(root) and folder != root and folder.exists():
            shutil.rmtree(folder)
            removed.append(str(folder))
    return removed


def _redo_metrics_report(archive: Archive) -> str:
    """A new metrics report (CSV under reports/metrics/) of the captures that remain."""
    from tasks.review import metrics_csv

    return archive.file_report("metrics", "after-disposal", metrics_csv(archive.list_captures()),
                               "text/csv; charset=utf-8", dt.datetime.now(dt.UTC))


class DisposalApproval(Answer):
    """The archivist's answer: nothing is disposed of unless it says so."""

    decision: Literal["approve-all", "approve-selected", "reject"] = Field(
        default="reject", description="Godkänn alla / godkänn valda / avslå – approve all, selected, or reject")
    selected: list[str] = Field(default_factory=list,
                                description="Capture ids to dispose of, with 'approve-selected'")


def approval_form(candidates: list[Candidate]) -> type[DisposalApproval]:
    """The answer form for these candidates: 'selected' accepts only their capture ids, so an id
    that is not proposed is refused in the answer (the run stays paused), never silently ignored."""
    ids = tuple(c.capture_id for c in candidates)
    return create_model(
        "DisposalApproval", __base__=DisposalApproval,
        selected=(list[Literal[ids]], Field(default_factory=list, description=(
            "Välj ögonblicksbilder att gallra (med 'approve-selected') / capture ids to dispose of: "
            + ", ".join(ids)))),
    )


def approved_candidates(candidates: list[Candidate], answer: DisposalApproval | None) -> list[Candidate]:
    if answer is None or answer.decision == "reject":
        return []
    if answer.decision == "approve-all":
        return candidates
    unknown = set(answer.selected) - {c.capture_id for c in candidates}
    if unknown:
        raise ValueError(f"not proposed for disposal: {', '.join(sorted(unknown))}")
    return [c for c in candidates if c.capture_id in set(answer.selected)]


def _protocol_paragraphs(candidates: list[Candidate], disposal: Disposal, review: dict, municipality: str,
                         now: dt.datetime) -> list[Para]:
    """The gallringsprotokoll as people read it: who approved, and each version deleted and verified
    gone under its capture, with its full SHA-256; then what was not deleted, and why."""
    gone = [d for d in disposal.disposed if d.verified_gone]
    paras = [Para(f"Gallringsprotokoll – {municipality}", "title"),
             Para(f"Upprättat / created: {now:%Y-%m-%d %H:%M} UTC"),
             Para(f"Godkänt av / approved by: {review.get('answered_by')}  {review.get('answered_at', '')}"),
             Para(f"Kommentar / comment: {(review.get('answer') or {}).get('comment', '')}")]
    for c in candidates:
        versions = [d for d in gone if d.capture_id == c.capture_id]
        if not versions:
            continue
        paras += [Para(c.capture_id, "heading"),
                  Para(f"Klass {c.retention_class} ({c.class_name}), beslut {c.decision.body} {c.decision.date} "
                       f"{c.decision.paragraph}, frist till {c.retain_until:%Y-%m-%d}")]
        paras += [Para(f"{d.key}\nversion {d.version_id} · {d.size} B · raderad och kontrollerad\nsha256 {d.sha256}",
                       "detail") for d in versions]
    if disposal.skipped:
        paras.append(Para("Inte gallrat / not disposed of", "heading"))
        paras += [Para(f"{s.key}\nversion {s.version_id}: {s.reason}", "detail") for s in disposal.skipped]
    if disposal.local_copies_removed:
        paras += [Para("Lokala kopior / local copies", "heading"),
                  Para(f"Borttagna / removed: {len(disposal.local_copies_removed)}"),
                  Para(f"Ny mätvärdesrapport / new metrics report: {disposal.metrics_report}")]
    return paras


@task(name="file-disposal-protocol", cache_policy=NO_CACHE)
def file_protocol(candidates: list[Candidate], disposal: Disposal, review: dict) -> dict[str, str]:
    """The gallringsprotokoll, as JSON and as PDF/A, filed permanently under gallringsprotokoll/.

    It lists what was deleted and verified gone, and names what was approved but not deleted, and why.
    """
    settings = get_settings()
    archive = _archive()
    now = dt.datetime.now(dt.UTC)
    gone = [d for d in disposal.disposed if d.verified_gone]
    touched = {d.capture_id for d in gone}
    protocol = {
        "protocol": "gallringsprotokoll", "municipality": settings.municipality, "created_at": now.isoformat(),
        "review": review,
        "captures": [c.model_dump(mode="json") for c in candidates if c.capture_id in touched],
        "captures_disposed": disposal.captures_disposed(),
        "disposed": [d.model_dump(mode="json") for d in gone],
        "skipped": [s.model_dump(mode="json") for s in disposal.skipped],
        "all_verified_gone": bool(gone) and not disposal.skipped,
        "local_copies_removed": list(disposal.local_copies_removed),
        "metrics_report": disposal.metrics_report,
    }
    lock = records_lock(now)
    keys = archive.protocol_keys(now)
    archive.file_document(keys["json"], json.dumps(protocol, indent=2, ensure_ascii=False).encode(),
                          "application/json", lock)
    with TemporaryDirectory() as tmp:
        pdf = Path(tmp) / "protocol.pdf"
        write_document(_protocol_paragraphs(candidates, disposal, review, settings.municipality, now), pdf,
                       {"dc:title": f"Gallringsprotokoll {now:%Y-%m-%d %H:%M} UTC",
                        "dc:creator": [settings.municipality], "dc:identifier": keys["pdf"], "dc:language": ["sv"],
                        "xmp:CreateDate": now.isoformat(timespec="seconds")})
        archive.file_document(keys["pdf"], pdf.read_bytes(), "application/pdf", lock)
    record_event(archive, "disposal-protocol", "success" if protocol["all_verified_gone"] else "warning",
                 f"gallringsprotokoll filed: {keys['json']} ({len(gone)} object versions disposed of, "
                 f"{len(disposal.skipped)} not)", objects=list(keys.values()), person=review.get("answered_by"))
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
