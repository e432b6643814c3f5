"""The public list of the municipality's social media accounts (förteckning, policy P6).

A static, accessible HTML page (Swedish, lang="sv", a semantic table, no JavaScript) and the
same as JSON, from the register. Only what the public should see: platform, name, link,
department, purpose, opened and closed dates; never officers' names or the register's notes.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import tempfile
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from somearkiv.models import Account, AccountStatus, Register
from somearkiv.settings import get_settings

__all__ = ["PLATFORM_NAMES", "file_forteckning", "public_entry", "render_html", "render_json", "write_forteckning"]

PLATFORM_NAMES = {"facebook": "Facebook", "instagram": "Instagram", "x": "X (Twitter)", "linkedin": "LinkedIn",
                  "youtube": "YouTube", "mastodon": "Mastodon", "bluesky": "Bluesky", "tiktok": "TikTok",
                  "threads": "Threads", "blog": "Blogg", "other": "Annat"}


def public_entry(account: Account) -> dict[str, str | None]:
    return {
        "id": account.id, "platform": account.platform.value, "platform_name": PLATFORM_NAMES[account.platform.value],
        "name": account.name, "handle": account.handle, "url": str(account.url), "department": account.department,
        "purpose": account.purpose, "opened": account.opened.isoformat(),
        "closed": account.closed.isoformat() if account.closed else None, "status": account.status.value,
    }


def render_json(register: Register, published: dt.datetime) -> str:
    entries = [public_entry(a) for a in register.accounts]
    return json.dumps({"municipality": register.municipality, "published": published.isoformat(timespec="seconds"),
                       "active": [e for e in entries if e["status"] == "active"],
                       "closed": [e for e in entries if e["status"] == "closed"]}, indent=2, ensure_ascii=False)


def _table(caption: str, accounts: list[Account], closed: bool) -> str:
    e = html.escape
    head = ("<tr><th scope=\"col\">Plattform</th><th scope=\"col\">Konto</th><th scope=\"col\">Förvaltning</th>"
            "<th scope=\"col\">Syfte</th><th scope=\"col\">Startat</th>"
            + ("<th scope=\"col\">Stängt</th>" if closed else "") + "</tr>")
    rows = "\n".join(
        f"<tr><td>{e(PLATFORM_NAMES[a.platform.value])}</td>"
        + (f"<td>{e(a.name)} ({e(a.handle)})</td>" if closed else
           f"<td><a href=\"{e(str(a.url))}\">{e(a.name)} ({e(a.handle)})</a></td>")
        + f"<td>{e(a.department)}</td><td>{e(a.purpose)}</td>"
        f"<td><time datetime=\"{a.opened.isoformat()}\">{a.opened.isoformat()}</time></td>"
        + (f"<td><time datetime=\"{a.closed.isoformat()}\">{a.closed.isoformat()}</time></td>"
           if closed and a.closed else "")
        + "</tr>" for a in accounts)
    return f"<table>\n<caption>{e(caption)}</caption>\n<thead>{head}</thead>\n<tbody>\n{rows}\n</tbody>\n</table>"


def render_html(register: Register, published: dt.datetime) -> str:
    e = html.escape
    active = [a for a in register.accounts if a.status is AccountStatus.active]
    closed = [a for a in register.accounts if a.status is AccountStatus.closed]
    day = published.date().isoformat()
    return f"""<!doctype html>
<html lang="sv">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(register.municipality)} på sociala medier – förteckning</title>
<style>
  body {{ font-family: system-ui, "DejaVu Sans", sans-serif; max-width: 70rem; margin: 2rem auto; padding: 0 1rem;
         line-height: 1.5; color: #1a1a1a; }}
  table {{ border-collapse: collapse; width: 100%; margin-bottom: 2rem; }}
  caption {{ text-align: left; font-weight: bold; font-size: 1.2rem; padding: .5rem 0; }}
  th, td {{ border: 1px solid #767676; padding: .4rem .6rem; text-align: left; vertical-align: top; }}
  th {{ background: #eeeeee; }}
  a {{ color: #0645ad; }}
</style>
</head>
<body>
<main>
<h1>{e(register.municipality)} på sociala medier</h1>
<p>Förteckning över de sociala medier där {e(register.municipality)} finns. Allt som kommunen och
andra skriver på kommunens konton är allmänna handlingar. Uppdaterad
<time datetime="{published.isoformat(timespec='seconds')}">{day}</time>.</p>
{_table(f"Aktiva konton ({len(active)})", active, closed=False)}
{_table(f"Stängda konton ({len(closed)})", closed, closed=True) if closed else "<p>Inga stängda konton.</p>"}
<p>Förteckningen finns också som <a href="accounts.json">JSON</a>.</p>
</main>
</body>
</html>
"""


def write_forteckning(register: Register, out_dir: Path, published: dt.datetime | None = None) -> list[Path]:
    published = published or dt.datetime.now(dt.UTC)
    out_dir.mkdir(parents=True, exist_ok=True)
    page, data = out_dir / "index.html", out_dir / "accounts.json"
    page.write_text(render_html(register, published), encoding="utf-8")
    data.write_text(render_json(register, published), encoding="utf-8")
    return [page, data]


@task(name="write-forteckning", cache_policy=NO_CACHE)
def file_forteckning(register, out_dir: str | None) -> list[str]:
    """Write index.html and accounts.json (to *out_dir* if given) and file them under public/forteckning/."""
    from storage import Archive
    from tasks.retention import records_lock

    settings = get_settings()
    now = dt.datetime.now(dt.UTC)
    archive = Archive.connected(settings)
    lock = records_lock(now)
    keys = []
    with tempfile.TemporaryDirectory() as tmp:
        for file in write_forteckning(register, Path(out_dir or tmp), now):
            key = f"public/forteckning/{now:%Y-%m-%dT%H%M%SZ}/{file.name}"
            media = "text/html; charset=utf-8" if file.suffix == ".html" else "application/json"
            archive.file_document(key, file.read_bytes(), media, lock)
            keys.append(key)
    return keys
