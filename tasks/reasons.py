"""Why a capture was blocked or failed, in plain Swedish for the archivist (the English stays in the record).

The record and the logs keep the exact technical reason; the summary a person reads first
says it the way they would ("inloggning krävs", "servern svarade 500") and what to do.
"""

from __future__ import annotations

import re

from somearkiv.models import AccountOutcome, CaptureRecord, CaptureStatus

__all__ = ["failure_in_swedish", "outcome_in_swedish", "wall_in_swedish"]

_WALLS = {
    "login": "inloggning krävs – sidan visar en inloggningsruta för besökare utan konto",
    "bot-check": "plattformen vill att vi bevisar att vi är människor (captcha) – försök igen senare",
    "rate-limit": "plattformen säger att vi frågat för ofta – försök igen senare",
    "other-site": "sidan skickade oss till en annan webbplats",
    "unsafe-target": "sidan ville nå en adress som nätverksskyddet inte tillåter",
    "consent": "samtyckesrutan gick inte att avvisa",
}

# (pattern on the English reason, Swedish text; {0}, {1}... are the pattern's groups)
_FAILURES: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p, re.I), sv) for p, sv in (
    (r"server answered HTTP (\d+)", "servern svarade {0} (ett fel hos plattformen) – försöks igen nästa gång"),
    (r"did not load within ([\d.]+) s", "sidan laddades inte inom {0} sekunder"),
    (r"took longer than the limit of ([\d.]+) s", "fångsten tog längre än gränsen på {0} sekunder"),
    (r"refused by the egress guard", "adressen är inte tillåten av nätverksskyddet (kontrollera registret)"),
    (r"browser showed its own error page", "webbläsaren kom inte fram till sidan (nätverksfel)"),
    (r"kept navigating", "sidan skickade webbläsaren vidare om och om igen"),
    (r"navigated while it was being shot", "sidan bytte adress medan bilden togs – försöks igen nästa gång"),
    (r"no space left", "disken är full på arkivservern – kontakta IT"),
    (r"session key|stored session|cannot be decrypted", "den sparade inloggningen kan inte läsas – kör "
                                                        "somearkiv login för kontot"),
    (r"could not be opened", "sidan gick inte att öppna"),
    (r"pdf/?a", "arkivfilen (PDF/A) kunde inte skapas – bilderna är ändå arkiverade"),
    (r"s3|bucket|endpoint|connect", "arkivlagringen svarade inte – kontakta IT"),
))
_STAGES = {"capture": "fångsten", "metrics": "siffrorna", "pdfa": "PDF/A", "file": "arkiveringen"}


def wall_in_swedish(kind: str, reason: str = "") -> str:
    if kind == "session-expired":
        command = re.search(r"`([^`]+)`", reason)
        return "inloggningen har gått ut – " + (f"kör `{command.group(1)}`" if command else "logga in igen")
    if kind == "http-error":
        status = re.search(r"\d{3}", reason)
        code = status.group(0) if status else "?"
        return "sidan finns inte (404)" if code == "404" else f"sidan svarade med fel ({code})"
    return _WALLS.get(kind, reason or kind)


def failure_in_swedish(stage: str | None, error: str | None) -> str:
    text = error or ""
    for pattern, swedish in _FAILURES:
        match = pattern.search(text)
        if match:
            return swedish.format(*match.groups())
    where = _STAGES.get(stage or "", stage or "fångsten")
    return f"{where} misslyckades" + (f": {text.splitlines()[0][:160]}" if text else "")


def outcome_in_swedish(outcome: AccountOutcome, record: CaptureRecord | None) -> str:
    """The reason column: empty for a capture that went well."""
    if outcome.status is CaptureStatus.failed:
        return failure_in_swedish(outcome.failed_stage, outcome.error)
    if outcome.status is CaptureStatus.blocked and record is not None and record.wall is not None:
        return wall_in_swedish(record.wall.kind, record.wall.reason)
    if record is not None and record.pdfa is not None and not record.pdfa.valid:
        return "arkivfilen (PDF/A) godkändes inte – bilderna är ändå arkiverade"
    return ""
