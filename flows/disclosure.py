"""disclose_capture: a masked copy of a capture for a public records request (utlämnande med maskning),
filed only after a person has looked at it and approved it in the Prefect UI."""

from __future__ import annotations

import datetime as dt
from typing import Literal
from zoneinfo import ZoneInfo

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext
from prefect.states import Completed, State
from pydantic import Field

from somearkiv.models import DisclosureRecord
from somearkiv.settings import get_settings
from storage import Archive
from tasks.approval import Answer, ask_person
from tasks.disclosure import (
    Prepared,
    file_disclosure_task,
    prepare_disclosure_task,
    preview_images,
    remove_workdir,
)
from tasks.review import artifact_key

__all__ = ["DisclosureApproval", "disclose_capture"]



class DisclosureApproval(Answer):
    """The decision: nothing is filed or handed out unless it says so."""

    decision: Literal["approve", "reject"] = Field(
        default="reject", description="Lämna ut den maskerade kopian / avslå – approve the masked copy, or reject")


@task(name="show-disclosure-preview", cache_policy=NO_CACHE)
def show_preview(prepared: Prepared) -> list[str]:
    """Stage the masked pages as temporary review copies and show them in a markdown artifact; the links."""
    settings = get_settings()
    archive = Archive.connected(settings)
    folder = f"disclosures/{prepared.capture_id}/{prepared.made_at:%Y-%m-%dT%H%M%SZ}"
    links = [archive.stage_review_copy(folder, path, settings.review_link_hours * 3600)
             for path in preview_images(prepared)]
    create_markdown_artifact(_preview_markdown(prepared, links), key=artifact_key("disclosure-preview"),
                             description=f"Maskerad kopia av {prepared.capture_id}: granska före utlämnande")
    return links


def _preview_markdown(prepared: Prepared, links: list[str]) -> str:
    lines = [f"## Maskerad kopia / Masked copy: {prepared.capture_id}", "",
             f"**{prepared.stamp}** · laglig grund / legal ground: **{prepared.legal_ground}** · "
             f"PDF/A: {prepared.pdfa.conformance} ({prepared.pdfa.validator})", "",
             "| mask | typ / kind | förekomster / matches | områden / regions |", "|---|---|---|---|"]
    for number, mask in enumerate(prepared.masks, 1):
        what = mask.text if mask.kind == "text" else ", ".join(
            f"sida {r.page}: {r.x},{r.y},{r.width},{r.height}" for r in mask.regions)
        found = mask.matches if mask.kind == "text" else "–"
        warn = " **⚠ hittades inte / not found**" if mask.kind == "text" and not mask.matches else ""
        lines.append(f"| {number} | {mask.kind}: {what}{warn} | {found} | {len(mask.regions)} |")
    if prepared.unmatched:
        lines += ["", "⚠ En eller flera texter finns inte i sidans textlager. Text i bilder söks inte: "
                      "granska sidorna och maskera med områden vid behov. / Some texts are not in the text layer; "
                      "text inside pictures is not searched."]
    lines += [""] + [f"### Sida {n} / Page {n}\n\n![sida {n}]({link})" for n, link in enumerate(links, 1)]
    lines += ["", "_Originalet ändras inte. Kopian och beslutet sparas först när du godkänner. / The original is "
                  "never changed; the copy and the decision are filed only when you approve._"]
    return "\n".join(lines)


@task(name="remove-disclosure-preview", cache_policy=NO_CACHE)
def remove_preview(links: list[str]) -> None:
    Archive.connected(get_settings()).remove_review_copies(links)


@task(name="record-disclosure-refusal", cache_policy=NO_CACHE)
def record_refusal(prepared: Prepared, why: str, by: str | None) -> None:
    """A disclosure not approved is an audit event too (nothing is filed under disclosures/)."""
    from tasks.audit import record_event

    record_event(Archive.connected(get_settings()), "disclosure", "warning",
                 f"masked copy of {prepared.capture_id} not disclosed: {why}", account_id=prepared.account_id,
                 person=by, data={"capture_id": prepared.capture_id, "legal_ground": prepared.legal_ground})


def _filed_markdown(record: DisclosureRecord, link: str) -> str:
    lock = record.lock
    held = f"{lock.mode.value} till {lock.retain_until:%Y-%m-%d}{', legal hold' if lock.legal_hold else ''}" \
        if lock else "-"
    return "\n".join([
        f"## Utlämnad / Disclosed: {record.capture_id}", "",
        f"- Maskerad kopia / masked copy: [{record.masked_copy.key}]({link})",
        f"- SHA-256: `{record.masked_copy.sha256}`",
        f"- Beslut / decision: `{record.record_key}` – {record.legal_ground}, {record.decided_by}, "
        f"{record.decided_at:%Y-%m-%d %H:%M} UTC",
        f"- Låst / lock: {held}",
    ])


@flow(name="disclose-capture")
def disclose_capture(capture_id: str, ground: str, masks: list[str] | None = None, regions: list[str] | None = None,
                     requested_by: str = "", approval_timeout_s: int = 7 * 24 * 3600,
                     poll_interval_s: int = 10) -> State:
    """Utlämnande med maskning: make a masked copy of a capture, show it, and file it when a person approves.

    Args:
        capture_id: the capture to disclose, <account>/<time>-<trigger>.
        ground: the legal ground of the masking, e.g. 'OSL 21 kap. 7 §' (stamped on the copy).
        masks: texts to mask wherever they occur in the capture's words.
        regions: areas to mask by hand, PAGE:x,y,w,h in the page image's pixels.
        requested_by: who prepared the request (the decision is the reviewer's).
        approval_timeout_s: how long the run waits for the review; then nothing is filed.
        poll_interval_s: how often the paused run looks for the answer.
    """
    prepared = prepare_disclosure_task(capture_id, list(masks or []), list(regions or []), ground)
    try:
        links = show_preview(prepared)
        unmatched = (f" ⚠ {len(prepared.unmatched)} av texterna hittades inte i textlagret." if prepared.unmatched
                     else "")
        answer, asked = ask_person(
            DisclosureApproval, timeout_s=approval_timeout_s, poll_interval_s=poll_interval_s, key="utlamnande",
            sv=f"Granska den maskerade kopian av {prepared.capture_id} (artefakten 'disclosure-preview') och "
               f"besluta om utlämnande enligt {prepared.legal_ground}.{unmatched}",
            en=f"Review the masked copy of {prepared.capture_id} (the 'disclosure-preview' artifact) and decide "
               "whether to disclose it.")
        remove_preview(links)
        if answer is None or answer.decision != "approve":
            why = "the review timed out" if asked.timed_out else f"rejected by {asked.answered_by}"
            record_refusal(prepared, why, asked.answered_by)
            return Completed(message=f"nothing disclosed or filed: {why}")
        decided = dt.datetime.now(dt.UTC)
        if decided.astimezone(ZoneInfo("Europe/Stockholm")).date() != prepared.disclosed_on:
            remove_workdir(prepared)  # approved on a later day: the stamp carries the day of the decision
            prepared = prepare_disclosure_task(capture_id, list(masks or []), list(regions or []), ground, decided)
        context = FlowRunContext.get()
        record = file_disclosure_task(prepared, asked.answered_by or "?", requested_by or None, asked,
                                      str(context.flow_run.id) if context else None)
        settings = get_settings()
        link = Archive.connected(settings).presigned_url(record.masked_copy.key or "",
                                                         settings.review_link_hours * 3600)
        create_markdown_artifact(_filed_markdown(record, link), key=artifact_key("disclosure"),
                                 description=f"Utlämnad maskerad kopia av {record.capture_id}")
        return Completed(message=f"disclosed: {record.masked_copy.key} (sha256 {record.masked_copy.sha256}); "
                                 f"decision {record.record_key}")
    finally:
        remove_workdir(prepared)
