"""doctor: is this installation ready? The readiness checks of `somearkiv doctor`, from the UI."""

from __future__ import annotations

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.states import Completed, State

from deployments.doctor import Context, Finding, Status, exit_code, format_markdown, run_checks
from somearkiv.runstate import failed_state
from somearkiv.settings import get_settings

__all__ = ["doctor"]


@task(name="readiness-checks", cache_policy=NO_CACHE)
def readiness_checks(login_max_age_days: int = 60) -> list[Finding]:
    """Every check of deployments.doctor, on the machine that runs this (the worker's view)."""
    findings = run_checks(Context(get_settings(), login_max_age_days=login_max_age_days))
    create_markdown_artifact("## Redo för drift? / Ready to run?\n\n" + format_markdown(findings),
                             key="doctor", description="somearkiv doctor: one line per check")
    return findings


@flow(name="doctor")
def doctor(login_max_age_days: int = 60) -> State:
    """Readiness check: Prefect, S3 and the bucket's lock, identities, register, metrics, logins, TSA,
    allow-list, Chromium, disk. Fails when something the policy needs is missing (a FAIL line)."""
    findings = readiness_checks(login_max_age_days)
    failed = [f"{f.check}: {f.what}" for f in findings if f.status is Status.fail]
    if exit_code(findings):
        return failed_state(f"{len(failed)} check(s) failed: " + "; ".join(failed), findings)
    warned = sum(f.status is Status.warn for f in findings)
    return Completed(message=f"ready: {len(findings)} checks, {warned} warning(s)")
