"""`somearkiv disclose`: a masked copy of a capture for a public records request (utlämnande med maskning).

Registered in deployments/cli.py; the helpers of that module are imported when the command runs (it
imports this module while it is being loaded)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["disclose"]


def disclose(
    capture_id: Annotated[str, typer.Argument(help="The capture: <account>/<time>-<trigger> (`somearkiv captures`).")],
    ground: Annotated[str, typer.Option("--ground", help="The legal ground, e.g. 'OSL 21 kap. 7 §' (stamped on "
                                                         "the copy, kept in the decision).")],
    by: Annotated[str, typer.Option("--by", help="Who decides (kept in the decision's record).")],
    out: Annotated[Path, typer.Option("--out", help="A directory for the masked copy and the decision's record.")],
    mask: Annotated[list[str] | None, typer.Option("--mask", help="A text to mask wherever it occurs (repeat for "
                                                                  "more): a name, a phone number, ...")] = None,
    region: Annotated[list[str] | None, typer.Option("--region", help="An area to mask: PAGE:x,y,w,h in the page "
                                                                      "image's pixels (page 1 desktop, 2 mobile).")]
    = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the disclosure record as JSON.")] = False,
) -> None:
    """Disclose a masked copy of a capture (utlämnande med maskning): every occurrence of each --mask text
    and each --region is burnt into the page images and left out of the text layer, the copy is stamped
    "Maskerad kopia – utlämnad <date>" and written as validated PDF/A-2b, and the copy and the decision's
    record are filed under disclosures/<capture-id>/<time>/ (locked, ledgered, audited). The original
    capture is only read.

    Exit 0: filed; 1: filed, but a mask text was found nowhere (look at the copy), or the copy could not
    be made; 2: a bad request; 3: an original does not match its SHA-256; 5: storage; 7: --out.
    """
    from deployments.cli import _archive, _fail, _reason, _settings
    from storage import FixityError
    from tasks.archival_pdf import PdfaConversionError
    from tasks.disclosure import DisclosureError, MaskLeak, file_disclosure, prepare_disclosure, remove_workdir

    ground = _reason(ground, "--ground")
    by = _reason(by, "--by")
    if out.exists() and not out.is_dir():
        raise _fail(f"--out {out} exists and is not a directory", 7)
    _settings()
    archive = _archive("pipeline")  # the narrowest identity that may file new, locked objects
    try:
        prepared = prepare_disclosure(archive, capture_id, mask or [], region or [], ground)
    except MaskLeak as exc:
        raise _fail(f"refused: {exc}", 1) from None
    except DisclosureError as exc:
        raise _fail(str(exc)) from None
    except FixityError as exc:
        raise _fail(f"FIXITY ERROR: {exc}", 3) from None
    except PdfaConversionError as exc:
        raise _fail(f"the masked copy is not valid PDF/A, nothing was filed: {exc}", 1) from None
    try:
        from prefect.settings import PREFECT_API_URL

        # the audit event is filed in any case; it is sent as a Prefect event only to a configured server
        # (never to a temporary one started for it)
        record = file_disclosure(archive, prepared, by, announce=bool(PREFECT_API_URL.value()))
        try:
            out.mkdir(parents=True, exist_ok=True)
            slug = record.disclosure_id.replace("/", "_")
            local_pdf, local_record = out / f"{slug}-maskerad.pdf", out / f"{slug}-disclosure.json"
            shutil.copyfile(prepared.pdf, local_pdf)
            local_record.write_text(record.model_dump_json(indent=2), encoding="utf-8")
        except OSError as exc:
            raise _fail(f"filed as {record.record_key}, but {exc.filename or out}: {exc.strerror}", 7) from None
    finally:
        remove_workdir(prepared)
    if as_json:
        typer.echo(json.dumps(record.model_dump(mode="json"), indent=2, ensure_ascii=False))
    else:
        typer.echo(f"disclosed: {record.masked_copy.key}\n    sha256 {record.masked_copy.sha256}\n"
                   f"    decision {record.record_key} ({record.legal_ground}, {record.decided_by})\n"
                   f"    local copy {local_pdf}\n    record {local_record}")
        for number, m in enumerate(record.masks, 1):
            typer.echo(f"    mask {number} ({m.kind}): {m.matches if m.kind == 'text' else '-'} occurrence(s), "
                       f"{len(m.regions)} region(s)")
    if prepared.unmatched:
        typer.secho(f"warning: --mask {', '.join(f'#{n}' for n in prepared.unmatched)} found nowhere in the "
                    "capture's words (text inside pictures is not searched): look at the copy, mask with --region "
                    "if needed", err=True, fg=typer.colors.YELLOW)
        raise typer.Exit(1)
