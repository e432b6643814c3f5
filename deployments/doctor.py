"""`somearkiv doctor`: is this installation ready for its first real run?

Each check is a small function that takes a :class:`Context` and returns one :class:`Finding`
(or a few, e.g. one per account): its status (``ok``, ``warn`` or ``FAIL``), what was found, and
what to do. :data:`CHECKS` lists them in order; adding a check is writing one function and
adding one line there. A check that raises is reported as a finding of its own, never as a crash
of the whole run.

``FAIL`` means something the policy needs is missing or broken (S3, the bucket's Object Lock,
an identity that may destroy records, Chromium, the register, a configured Prefect server that
does not answer, a saved login that cannot be opened): the command exits 1. ``warn`` is
worth fixing but nothing stops a run.

Every probe is non-destructive: the identities are tested with requests that would change
nothing even if they were allowed (deleting a version of an object that does not exist, lifting
the hold of an object that does not exist), on a random key under ``captures/``.
"""

from __future__ import annotations

import base64
import concurrent.futures
import datetime as dt
import ipaddress
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from somearkiv.settings import Settings

__all__ = ["CHECKS", "Check", "Context", "Finding", "Status", "exit_code", "format_findings", "run_checks"]


class Status(StrEnum):
    ok = "ok"
    warn = "warn"
    fail = "FAIL"


@dataclass(frozen=True)
class Finding:
    """One line of the report."""

    check: str  # short name, e.g. "s3", "identity", "login"
    status: Status
    what: str  # what was found
    todo: str = ""  # what to do about it ("" when nothing)

    def as_dict(self) -> dict[str, str]:
        return {**asdict(self), "status": self.status.value}


@dataclass
class Context:
    """What the checks share: the settings, the environment, the time, limits, and connections made once."""

    settings: Settings
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    login_max_age_days: int = 60
    disk_warn_gib: float = 5.0
    disk_fail_gib: float = 1.0
    register_path: Path | None = None
    _archives: dict[str, Any] = field(default_factory=dict, repr=False)

    def archive(self, role: str = "pipeline"):
        """The archive as *role* (the embedded server is started if it is used and not running)."""
        if role not in self._archives:
            from storage import Archive

            self._archives[role] = Archive.from_settings(self.settings, start_embedded=role == "pipeline", role=role)
        return self._archives[role]

    @cached_property
    def register(self):
        """The register, checked against the retention classes; raises ConfigError when it is broken."""
        from tasks.register import read_register
        from tasks.retention import read_retention_schedule

        schedule = read_retention_schedule(self.settings.retention_config)
        return read_register(self.register_path or self.settings.register_path, schedule.ids)


@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[[Context], Finding | Sequence[Finding]]
    needed: bool = True  # a crash of this check itself is a FAIL (else a warn)


# -- Prefect ----------------------------------------------------------------------------------------


def _http_status(url: str, auth: str | None, timeout: float = 5.0) -> int:
    import httpx

    headers = {"Authorization": f"Basic {base64.b64encode(auth.encode()).decode()}"} if auth else {}
    return httpx.get(url, headers=headers, timeout=timeout).status_code


def _is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_prefect(ctx: Context) -> Finding:
    """The Prefect server answers, and (where it asks for a login) accepts ours."""
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_KEY, PREFECT_API_URL

    from deployments.prefect_server import LocalPrefectServer

    api = PREFECT_API_URL.value() or ctx.env.get("PREFECT_API_URL")
    auth = PREFECT_API_AUTH_STRING.value() or ctx.env.get("PREFECT_API_AUTH_STRING")
    local = LocalPrefectServer(ctx.settings.data_dir / "prefect", ctx.settings.prefect_port)
    if not api:
        if not local.healthy():
            return Finding("prefect", Status.ok, f"PREFECT_API_URL is not set: `somearkiv serve` starts a local server "
                                                 f"on {local.url} (not running now)",
                           "for workers, set PREFECT_API_URL (and PREFECT_API_AUTH_STRING) to the shared server")
        api = local.api_url
        auth = local.auth_file.read_text().strip() if local.auth_file.exists() else None
    shown = api.removesuffix("/api")
    try:
        health = _http_status(f"{api}/health", None)
    except Exception as exc:  # noqa: BLE001 - any failure to connect is the finding
        return Finding("prefect", Status.fail, f"Prefect server {shown} does not answer ({type(exc).__name__}: {exc})",
                       "start it, or fix PREFECT_API_URL")
    if health != 200:
        return Finding("prefect", Status.fail, f"Prefect server {shown}: /health answered HTTP {health}",
                       "look at the server's log")
    if PREFECT_API_KEY.value() and not auth:
        return Finding("prefect", Status.ok, f"Prefect server {shown} answers (authenticated by PREFECT_API_KEY)")
    open_status = _http_status(f"{api}/admin/version", None)
    if open_status == 200:
        if _is_loopback_url(api):
            return Finding("prefect", Status.ok, f"Prefect server {shown} answers (no login; only this machine "
                                                 "reaches it)")
        return Finding("prefect", Status.warn, f"Prefect server {shown} answers without a login: anyone who reaches "
                                               "it can start, cancel and read runs",
                       "set PREFECT_SERVER_API_AUTH_STRING on the server and PREFECT_API_AUTH_STRING on every "
                       "client and worker (or put it behind an authenticating proxy)")
    if open_status != 401:
        return Finding("prefect", Status.fail, f"Prefect server {shown}: the API answered HTTP {open_status}",
                       "check PREFECT_API_URL (it ends in /api)")
    if not auth:
        return Finding("prefect", Status.fail, f"Prefect server {shown} asks for a login and PREFECT_API_AUTH_STRING "
                                               "is not set", "set PREFECT_API_AUTH_STRING=user:password (the "
                                                             "server's PREFECT_SERVER_API_AUTH_STRING)")
    if _http_status(f"{api}/admin/version", auth) != 200:
        return Finding("prefect", Status.fail, f"Prefect server {shown} refuses PREFECT_API_AUTH_STRING",
                       "set it to the server's PREFECT_SERVER_API_AUTH_STRING")
    return Finding("prefect", Status.ok, f"Prefect server {shown} answers and accepts our login")


# -- S3 ---------------------------------------------------------------------------------------------


def _describe_s3(settings: Settings) -> str:
    if settings.use_embedded_s3:
        return "the embedded S3 server"
    return f"S3 {settings.s3_endpoint_url or 'AWS' + (f' ({settings.s3_region})' if settings.s3_region else '')}"


def check_s3(ctx: Context) -> Finding:
    """S3 answers, with the pipeline's credentials, and the bucket exists."""
    from botocore.exceptions import BotoCoreError, ClientError

    settings = ctx.settings
    where = _describe_s3(settings)
    started = ""
    if settings.use_embedded_s3:
        from storage import EmbeddedS3

        if not EmbeddedS3(settings.data_dir / "seaweedfs", settings.s3_embedded_port).is_running():
            started = " (started it now; `somearkiv s3 stop` stops it)"
    try:
        archive = ctx.archive("pipeline")
        archive.client.head_bucket(Bucket=settings.s3_bucket)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "?")
        if code in ("404", "NoSuchBucket", "NotFound"):
            return Finding("s3", Status.fail, f"{where} answers, but bucket {settings.s3_bucket!r} does not exist",
                           "create it with Object Lock as the archive's administrator (README, 'Identities')")
        if code in _REFUSED | _BAD_CREDENTIALS:
            return Finding("s3", Status.fail, f"{where} refuses the pipeline identity: {code}",
                           "check the AWS credentials of this machine (AWS_PROFILE, AWS_ACCESS_KEY_ID, role)")
        return Finding("s3", Status.fail, f"{where} answered {code} for bucket {settings.s3_bucket!r}",
                       "check SOMEARKIV_S3_BUCKET and the service's log")
    except (BotoCoreError, OSError, RuntimeError) as exc:
        return Finding("s3", Status.fail, f"{where} does not answer: {exc}",
                       "check SOMEARKIV_S3_ENDPOINT_URL / SOMEARKIV_S3_REGION and the network"
                       if not settings.use_embedded_s3 else "look at data/seaweedfs/weed.log; `somearkiv s3 restart`")
    return Finding("s3", Status.ok, f"{where} answers; bucket {settings.s3_bucket!r} exists{started}")


def check_bucket(ctx: Context) -> Finding:
    """The bucket has Object Lock enabled (and so versioning)."""
    from botocore.exceptions import BotoCoreError, ClientError

    bucket = ctx.settings.s3_bucket
    try:
        client = ctx.archive("pipeline").client
        client.head_bucket(Bucket=bucket)
    except (ClientError, BotoCoreError, OSError, RuntimeError):
        return Finding("bucket", Status.fail, f"bucket {bucket!r} cannot be reached (see the s3 line)", "fix S3 first")
    try:
        lock = client.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "?")
        return Finding("bucket", Status.fail, f"bucket {bucket!r} has no Object Lock ({code}): archived objects "
                                              "could be deleted",
                       "create a new bucket with Object Lock enabled (it cannot be added to most existing buckets)")
    if lock.get("ObjectLockEnabled") != "Enabled":
        return Finding("bucket", Status.fail, f"bucket {bucket!r} has Object Lock disabled",
                       "create a bucket with Object Lock enabled")
    try:
        versioning = client.get_bucket_versioning(Bucket=bucket).get("Status", "never enabled")
    except ClientError as exc:
        versioning = f"unreadable ({exc.response.get('Error', {}).get('Code', '?')})"
    if versioning != "Enabled":
        return Finding("bucket", Status.fail, f"bucket {bucket!r}: Object Lock enabled but versioning is {versioning}",
                       "enable versioning (Object Lock needs it)")
    rule = lock.get("Rule", {}).get("DefaultRetention")
    default = f"; default retention {rule}" if rule else "; no default retention (each object carries its own)"
    return Finding("bucket", Status.ok, f"bucket {bucket!r}: Object Lock enabled, versioning enabled{default}")


# -- identities -------------------------------------------------------------------------------------

_REFUSED = {"AccessDenied", "403", "Forbidden", "AllAccessDisabled"}
_BAD_CREDENTIALS = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken"}
_REACHED = {"NoSuchKey", "NoSuchVersion", "404", "NotFound", "NoSuchObjectLockConfiguration"}


def probe(call: Callable[[], object]) -> str:
    """'refused', 'allowed' or 'unclear: <code>' for one request that changes nothing even if it is allowed."""
    from botocore.exceptions import ClientError

    try:
        call()
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", "?"))
        if code in _REFUSED:
            return "refused"
        if code in _REACHED:
            return "allowed"  # authorised, then not found: the identity may do it
        return f"unclear: {code}"
    return "allowed"


def probe_client(settings: Settings, role: str):
    """A client of *role*, made as Archive.from_settings makes it, that does not retry: a probe's
    answer is read once (some servers answer a refused or odd probe with a retryable 500)."""
    import boto3
    from botocore.config import Config

    from storage import EmbeddedS3
    from storage.archive import _CLIENT_CONFIG

    config = _CLIENT_CONFIG.merge(Config(retries={"mode": "standard", "max_attempts": 1}))
    if settings.use_embedded_s3:
        server = EmbeddedS3(settings.data_dir / "seaweedfs", settings.s3_embedded_port)
        key, secret = server.credentials(role)
        return boto3.client("s3", endpoint_url=server.endpoint_url, aws_access_key_id=key,
                            aws_secret_access_key=secret, region_name="us-east-1", config=config)
    profile = {"archivist": settings.s3_archivist_profile, "auditor": settings.s3_auditor_profile}.get(role)
    return boto3.Session(profile_name=profile).client("s3", endpoint_url=settings.s3_endpoint_url,
                                                      region_name=settings.s3_region, config=config)


def _probe_key() -> str:
    return f"captures/somearkiv-doctor-probe/{uuid.uuid4().hex}/none"  # never exists


def identity_findings(clients: Mapping[str, Any], bucket: str) -> list[Finding]:
    """Probe what each role's client may do, without changing anything. *clients*: role -> boto3 client
    (a role left out was not configured separately)."""
    found: list[Finding] = []
    key = _probe_key()
    if (pipeline := clients.get("pipeline")) is not None:
        delete = probe(lambda: pipeline.delete_object(Bucket=bucket, Key=key, VersionId=uuid.uuid4().hex,
                                                      BypassGovernanceRetention=True))
        lift = probe(lambda: pipeline.put_object_legal_hold(Bucket=bucket, Key=key, LegalHold={"Status": "OFF"}))
        may = [what for what, result in (("delete object versions (with the governance bypass)", delete),
                                         ("lift legal holds", lift)) if result == "allowed"]
        unclear = [result for result in (delete, lift) if result.startswith("unclear")]
        if may:
            found.append(Finding("identity", Status.fail, f"the pipeline identity may {' and '.join(may)}",
                                 "give the pipeline its own narrow identity: deployments/s3-policies/ "
                                 "(pipeline-iam-policy.json, bucket-policy.json)"))
        elif unclear:
            found.append(Finding("identity", Status.warn, f"the pipeline identity: the probe could not tell "
                                                          f"({', '.join(unclear)})",
                                 "check its policy against deployments/s3-policies/pipeline-iam-policy.json"))
        else:
            found.append(Finding("identity", Status.ok, "the pipeline identity may not delete versions, bypass "
                                                        "governance or lift holds (probed)"))
    if (archivist := clients.get("archivist")) is not None:
        delete = probe(lambda: archivist.delete_object(Bucket=bucket, Key=key, VersionId=uuid.uuid4().hex))
        if delete == "refused":
            found.append(Finding("identity", Status.warn, "the archivist identity may not delete object versions: "
                                                          "approved disposals will fail",
                                 "attach deployments/s3-policies/archivist-iam-policy.json to it"))
        else:
            found.append(Finding("identity", Status.ok if delete == "allowed" else Status.warn,
                                 "the archivist identity may delete exact versions, for approved disposals (probed)"
                                 if delete == "allowed" else f"the archivist identity: the probe could not tell "
                                                             f"({delete})"))
    if (auditor := clients.get("auditor")) is not None:
        write = probe(lambda: auditor.put_object_tagging(Bucket=bucket, Key=key,
                                                        Tagging={"TagSet": [{"Key": "probe", "Value": "1"}]}))
        if write == "allowed":
            found.append(Finding("identity", Status.fail, "the auditor identity may write (tag objects)",
                                 "give it read-only rights: deployments/s3-policies/auditor-iam-policy.json"))
        else:
            found.append(Finding("identity", Status.ok if write == "refused" else Status.warn,
                                 "the auditor identity only reads (probed)" if write == "refused"
                                 else f"the auditor identity: the probe could not tell ({write})"))
    return found


def _access_key(profile: str | None) -> str | None:
    import boto3

    try:
        credentials = boto3.Session(profile_name=profile).get_credentials()
    except Exception:  # noqa: BLE001 - a missing profile is reported by the caller
        return None
    return None if credentials is None else credentials.access_key


def check_identities(ctx: Context) -> list[Finding]:
    """The pipeline, archivist and auditor are separate identities, and the pipeline cannot destroy records."""
    settings = ctx.settings
    found: list[Finding] = []
    separate = ["pipeline"]
    if settings.use_embedded_s3:
        found.append(Finding("identity", Status.ok, "embedded server: the gateway holds three separate roles "
                                                    "(pipeline, archivist, auditor)"))
        separate += ["archivist", "auditor"]
    else:
        profiles = {"archivist": settings.s3_archivist_profile, "auditor": settings.s3_auditor_profile}
        pipeline_key = _access_key(None)
        for role, profile in profiles.items():
            variable = f"SOMEARKIV_S3_{role.upper()}_PROFILE"
            if not profile:
                found.append(Finding("identity", Status.warn, f"{variable} is not set: the {role} uses the pipeline's "
                                                              "credentials",
                                     f"create a separate {role} identity and name its AWS profile in {variable}"))
                continue
            key = _access_key(profile)
            if key is None:
                found.append(Finding("identity", Status.warn, f"{variable}={profile}: no credentials found for that "
                                                              "profile", "add the profile to ~/.aws/ on this machine"))
            elif key == pipeline_key:
                found.append(Finding("identity", Status.warn, f"the {role} profile {profile!r} has the same access key "
                                                              "as the pipeline", f"give the {role} its own identity"))
            else:
                separate.append(role)
        if settings.s3_archivist_profile and settings.s3_archivist_profile == settings.s3_auditor_profile:
            found.append(Finding("identity", Status.warn, "the archivist and auditor profiles are the same",
                                 "give each its own identity"))
    try:
        ctx.archive("pipeline")  # the embedded server runs
        clients = {role: probe_client(settings, role) for role in separate}
    except Exception as exc:  # noqa: BLE001 - S3 itself is the s3 line's business
        return [*found, Finding("identity", Status.warn, f"identities not probed: {exc}", "fix S3 first")]
    return found + identity_findings(clients, settings.s3_bucket)


# -- register, metrics, logins ---------------------------------------------------------------------


def check_register(ctx: Context) -> Finding:
    from somearkiv.yamlfile import ConfigError

    path = ctx.register_path or ctx.settings.register_path
    try:
        register = ctx.register
    except ConfigError as exc:
        return Finding("register", Status.fail, f"{path} cannot be used: {exc}".replace("\n", "; "),
                       "fix it (`somearkiv register check FILE` lists every problem)")
    except OSError as exc:
        return Finding("register", Status.fail, f"{path} cannot be read: {exc}", "set SOMEARKIV_REGISTER_PATH")
    from tasks.register import start_pages_refused

    refused = start_pages_refused(register, ctx.settings.allowed_hosts)
    if refused:
        return Finding("register", Status.warn, f"{path}: the browser's egress guard refuses the start page of "
                       + "; ".join(f"{account.id} ({why})" for account, why in refused[:5])
                       + (f" and {len(refused) - 5} more" if len(refused) > 5 else ""),
                       "allow the internal host and port in SOMEARKIV_ALLOWED_HOSTS, or correct the address")
    return Finding("register", Status.ok, f"{path}: {len(register.accounts)} accounts ({len(register.active)} active) "
                                          f"for {register.municipality}")


def _accounts_or_none(ctx: Context):
    try:
        return ctx.register.active
    except Exception:  # noqa: BLE001 - the register line says what is wrong
        return None


def check_metrics(ctx: Context) -> list[Finding]:
    """Each active account's metrics credentials are there and work (the same reading as `metrics check`)."""
    from tasks.metrics.check import check_accounts

    accounts = _accounts_or_none(ctx)
    if accounts is None:
        return [Finding("metrics", Status.warn, "not checked: the register cannot be read", "fix the register")]
    if not ctx.settings.metrics_api:
        return [Finding("metrics", Status.ok, "SOMEARKIV_METRICS_API is false: followers and posts are read from the "
                                              "captured pages (page fallback)")]
    found = []
    for c in check_accounts(accounts, env=ctx.env, now=ctx.now, window_kind=ctx.settings.metrics_window):
        if not c.configured:
            found.append(Finding("metrics", Status.ok, f"{c.account_id} ({c.platform}): page fallback ({c.problem})"))
        elif c.problem is None:
            found.append(Finding("metrics", Status.ok, f"{c.account_id} ({c.platform}): API read, {c.followers} "
                                                       f"followers, {c.posts_last_month} posts in {c.window}"))
        else:
            found.append(Finding("metrics", Status.warn, f"{c.account_id} ({c.platform}): the API cannot be read: "
                                                         f"{c.problem}",
                                 f"fix its SOMEARKIV_{c.platform.upper()}_* settings (`somearkiv metrics check "
                                 f"-a {c.account_id}`)"))
    return found or [Finding("metrics", Status.ok, "no active accounts")]


def _cookie_expiry(state: Mapping[str, Any]) -> tuple[int, dt.datetime | None]:
    """(persistent cookies, when the last of them expires)."""
    expiries = [float(c["expires"]) for c in state.get("cookies", []) if float(c.get("expires", -1)) > 0]
    if not expiries:
        return 0, None
    return len(expiries), dt.datetime.fromtimestamp(max(expiries), dt.UTC)


def check_logins(ctx: Context) -> list[Finding]:
    """Saved logins (`somearkiv login`) of the accounts that have one: there, openable with the key, not stale."""
    from somearkiv.sessions import SessionError, session_store

    accounts = _accounts_or_none(ctx)
    if accounts is None:
        return [Finding("login", Status.warn, "not checked: the register cannot be read", "fix the register")]
    sessions_dir = Path(ctx.settings.data_dir) / "sessions"
    with_login = [a for a in accounts if a.session_file is not None or (sessions_dir / f"{a.id}.session").exists()]
    if not with_login:
        return [Finding("login", Status.ok, "no account uses a saved login")]
    try:
        store = session_store(ctx.settings)
    except SessionError as exc:
        return [Finding("login", Status.fail, f"{len(with_login)} account(s) have a saved login, but: {exc}",
                        "give this machine the session key (SOMEARKIV_SESSION_KEY or the key file)")]
    found = []
    for account in with_login:
        again = f"log in again: somearkiv login {account.id} --as ROLE"
        try:
            session = store.load(account.id, account.session_file)
        except SessionError as exc:
            found.append(Finding("login", Status.fail, f"{account.id}: {exc} (its captures will fail)", again))
            continue
        age = (ctx.now - session.info.saved_at).days
        persistent, expires = _cookie_expiry(session.storage_state)
        saved = f"saved {session.info.saved_at:%Y-%m-%d} as {session.info.role}"
        if expires is not None and expires <= ctx.now:
            found.append(Finding("login", Status.warn, f"{account.id}: {saved}; every cookie of it expired "
                                                       f"({expires:%Y-%m-%d}): captures get the logged-out view",
                                 again))
        elif age > ctx.login_max_age_days:
            found.append(Finding("login", Status.warn, f"{account.id}: {saved}, {age} days ago (over "
                                                       f"{ctx.login_max_age_days}): the platform may have ended it",
                                 again))
        else:
            until = f", cookies until {expires:%Y-%m-%d}" if expires else ", session cookies only"
            found.append(Finding("login", Status.ok, f"{account.id}: {saved} ({age} days ago){until}"))
    return found


# -- TSA, egress, browser, disk ---------------------------------------------------------------------


def check_tsa(ctx: Context) -> Finding:
    """A timestamp authority is configured and answers with a token that verifies."""
    from tasks import timestamp

    settings = ctx.settings
    if not settings.tsa_url:
        return Finding("tsa", Status.warn, "no TSA configured: captures are filed without an RFC 3161 timestamp",
                       "set SOMEARKIV_TSA_URL and SOMEARKIV_TSA_CA_FILE (README, 'Authenticity')")
    readiness = getattr(timestamp, "tsa_readiness", None)
    if readiness is not None:
        ok, message = readiness(settings)
    else:  # the minimal check
        import hashlib

        probe_text = b"somearkiv doctor " + uuid.uuid4().bytes
        try:
            token = timestamp.request_timestamp(hashlib.sha256(probe_text).digest(), settings.tsa_url,
                                                timeout=settings.tsa_timeout_s)
            ca = settings.tsa_ca_file.read_bytes() if settings.tsa_ca_file else None
            check = timestamp.verify_timestamp(token, probe_text, trusted_ca_pem=ca)
            ok, message = (check.valid or ca is None), f"TSA {settings.tsa_url} answered: {check.reason}"
        except (timestamp.TimestampError, ValueError, OSError) as exc:
            ok, message = False, str(exc)
    if not ok:  # captures are then filed unsealed, and sealed when the TSA answers again (seal-pending)
        return Finding("tsa", Status.warn, message,
                       "fix SOMEARKIV_TSA_URL / SOMEARKIV_TSA_CA_FILE (until then captures are filed unsealed)")
    if not settings.tsa_ca_file:
        return Finding("tsa", Status.warn, message, "set SOMEARKIV_TSA_CA_FILE to the TSA's CA so tokens are verified")
    return Finding("tsa", Status.ok, message)


def _resolves_public(host: str, timeout: float = 3.0) -> bool | None:
    """True when every address of *host* is public, False when one is not, None when it does not resolve in time."""
    import socket

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        infos = pool.submit(socket.getaddrinfo, host, None).result(timeout=timeout)
    except (concurrent.futures.TimeoutError, OSError, UnicodeError):
        return None
    finally:
        pool.shutdown(wait=False)
    addresses = {ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos}
    return bool(addresses) and all(a.is_global for a in addresses)


def egress_findings(allowed_hosts: Sequence[str]) -> list[Finding]:
    """Each allow-list entry should be one non-public host on one port."""
    from tasks.capture.egress import split_host_port

    if not allowed_hosts:
        return [Finding("egress", Status.ok, "the allow-list is empty: the browser reaches public addresses only")]
    found = []
    for entry in allowed_hosts:
        try:
            host, port = split_host_port(entry)
        except ValueError as exc:
            found.append(Finding("egress", Status.fail, f"allow-list entry {entry!r}: {exc}",
                                 "fix SOMEARKIV_ALLOWED_HOSTS"))
            continue
        problems = []
        try:
            network = ipaddress.ip_network(host, strict=False)
        except ValueError:
            network = None
        if network is not None and network.num_addresses > 1:
            problems.append(f"a whole network ({network.num_addresses} addresses)")
        if network is not None and network.network_address.is_global:
            problems.append("public addresses, which need no allow-list")
        if network is None and _resolves_public(host):
            problems.append("a public host, which needs no allow-list")
        if port is None:
            problems.append("every port")
        if problems:
            found.append(Finding("egress", Status.warn, f"allow-list entry {entry!r} allows {'; '.join(problems)}",
                                 "allow only the internal host and port a page needs, e.g. '10.1.2.3:443'"))
        else:
            found.append(Finding("egress", Status.ok, f"allow-list entry {entry!r}: one host, one port"))
    return found


def check_egress(ctx: Context) -> list[Finding]:
    """The browser's allow-list of non-public hosts is narrow."""
    return egress_findings(ctx.settings.allowed_hosts)


def check_browser(ctx: Context) -> Finding:
    """Chromium is there (Debian's, the configured one, or Playwright's)."""
    from tasks.capture.browser import find_browser

    try:
        path = find_browser(ctx.settings.browser_path)
    except FileNotFoundError as exc:
        return Finding("chromium", Status.fail, str(exc), "fix SOMEARKIV_BROWSER_PATH, or unset it")
    if path is None:
        try:
            from playwright.sync_api import sync_playwright

            with sync_playwright() as playwright:
                path = playwright.chromium.executable_path
        except Exception as exc:  # noqa: BLE001 - no driver, no browser
            return Finding("chromium", Status.fail, f"no Chromium found ({exc})", "apt-get install chromium")
        if not Path(path).exists():
            return Finding("chromium", Status.fail, "no Chromium found (neither Debian's nor Playwright's)",
                           "apt-get install chromium (or `playwright install chromium`)")
    try:
        version = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        version = ""
    return Finding("chromium", Status.ok, f"{path}" + (f" ({version})" if version else ""))


def check_disk(ctx: Context) -> Finding:
    """Free space where the data directory is (local copies, the embedded S3 server's data)."""
    where = Path(ctx.settings.data_dir).resolve()
    existing = where
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    usage = shutil.disk_usage(existing)
    free = usage.free / 1024**3
    what = f"{where}: {free:.1f} GiB free of {usage.total / 1024**3:.1f} GiB"
    if free < ctx.disk_fail_gib:
        return Finding("disk", Status.fail, what,
                       "free space: captures and the embedded S3 server stop when it is full")
    if free < ctx.disk_warn_gib:
        return Finding("disk", Status.warn, what, f"keep at least {ctx.disk_warn_gib:g} GiB free")
    return Finding("disk", Status.ok, what)


# -- the list, the run, the report ------------------------------------------------------------------

CHECKS: list[Check] = [
    Check("prefect", check_prefect),
    Check("s3", check_s3),
    Check("bucket", check_bucket),
    Check("identity", check_identities),
    Check("register", check_register),
    Check("metrics", check_metrics, needed=False),
    Check("login", check_logins),
    Check("tsa", check_tsa, needed=False),
    Check("egress", check_egress, needed=False),
    Check("chromium", check_browser),
    Check("disk", check_disk, needed=False),
]


def run_checks(ctx: Context, checks: Sequence[Check] | None = None) -> list[Finding]:
    """Run every check in order; a check that raises becomes a finding (FAIL for needed checks)."""
    found: list[Finding] = []
    for check in CHECKS if checks is None else checks:
        try:
            result = check.run(ctx)
        except Exception as exc:  # noqa: BLE001 - one broken check must not hide the others
            result = Finding(check.name, Status.fail if check.needed else Status.warn,
                             f"the check itself failed: {type(exc).__name__}: {exc}", "look at the error")
        found += [result] if isinstance(result, Finding) else list(result)
    return found


def exit_code(findings: Sequence[Finding]) -> int:
    return 1 if any(f.status is Status.fail for f in findings) else 0


def format_findings(findings: Sequence[Finding]) -> str:
    """One line per finding: status, check, what, and what to do."""
    lines = [f"{f.status.value:4}  {f.check:9} {f.what}" + (f" -> {f.todo}" if f.todo else "") for f in findings]
    failed = sum(f.status is Status.fail for f in findings)
    warned = sum(f.status is Status.warn for f in findings)
    lines.append(f"{failed} FAIL, {warned} warn, {len(findings) - failed - warned} ok: "
                 + ("not ready" if failed else "ready" + (" (read the warnings)" if warned else "")))
    return "\n".join(lines)


def format_markdown(findings: Sequence[Finding]) -> str:
    """The report as a markdown table (the flow's artifact)."""
    rows = ["| status | check | what | what to do |", "|---|---|---|---|"]
    for f in findings:
        cells = (f"**{f.status.value}**" if f.status is not Status.ok else "ok", f.check, f.what, f.todo)
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows)
