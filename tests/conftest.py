"""Shared test fixtures: real SeaweedFS, real Chromium, a real Prefect server (test harness).

Everything listens on 127.0.0.1 only. The embedded S3 server of the tests uses its own ports
(18400-18409) and data directory, so a running demo is not disturbed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import textwrap
from pathlib import Path

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("SOMEARKIV_LOG_FORMAT", "json")

from deployments.sample_site import SampleSite  # noqa: E402
from somearkiv.settings import PROJECT_ROOT, get_settings  # noqa: E402
from storage import Archive, EmbeddedS3  # noqa: E402

from .factories import SHORT_GALLRING_S  # noqa: E402
from .processes import worker_port  # noqa: E402

TEST_S3_PORT = worker_port(18400)

# Test tiers: `./run test --fast` is `pytest -m "not servers"`, the tests that start nothing.
# A test gets the `servers` marker when its fixture closure holds one of these fixtures (so also
# fixtures built on them: own_bucket, served, ...) or when it is marked `browser` (it drives
# Chromium without one of them: mark such a test, or its module, @pytest.mark.browser).
SERVER_FIXTURES = frozenset({"s3_server", "archive", "admin_client", "role_archive", "prefect_server",
                             "sample_site", "sample_register", "forbidden_site"})


@pytest.hookimpl(tryfirst=True)  # before -m deselects
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ())) or item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.servers)


def pytest_collection_finish(session: pytest.Session) -> None:
    """When no selected test needs a server (./run test --fast), make starting one an error, so a
    test that starts one without saying so fails in the fast tier instead of slowing it down."""
    if any(item.get_closest_marker("servers") for item in session.items):
        return
    from playwright.async_api import BrowserType as AsyncBrowserType
    from playwright.sync_api import BrowserType as SyncBrowserType
    from prefect.settings import PREFECT_SERVER_EPHEMERAL_ENABLED, temporary_settings

    def refuse(what: str):
        def refused(*args: object, **kwargs: object):
            raise RuntimeError(f"this run selected only tests that need no server, but one starts {what}: "
                               "mark it @pytest.mark.browser or give it the fixture that starts it "
                               "(tests/conftest.py, SERVER_FIXTURES)")
        return refused

    patch = pytest.MonkeyPatch()
    session.config.add_cleanup(patch.undo)
    for browser_type in (AsyncBrowserType, SyncBrowserType):
        for name in ("launch", "launch_persistent_context"):
            patch.setattr(browser_type, name, refuse("Chromium"))
    patch.setattr(EmbeddedS3, "start", refuse("SeaweedFS"))
    patch.setattr(SampleSite, "start", refuse("the sample site"))
    # and a flow run without a Prefect server fails instead of starting Prefect's ephemeral one
    settings = contextlib.ExitStack()
    session.config.add_cleanup(settings.close)
    settings.enter_context(temporary_settings(updates={PREFECT_SERVER_EPHEMERAL_ENABLED: False}))


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("somearkiv-data")


@pytest.fixture(scope="session", autouse=True)
def _environment(data_dir: Path):
    """Point the settings at the test data dir and the test S3 server for the whole session."""
    saved = dict(os.environ)
    (data_dir / "none.toml").write_text("# no settings: the defaults and the variables below\n", encoding="utf-8")
    os.environ.update({
        "SOMEARKIV_DATA_DIR": str(data_dir),
        "SOMEARKIV_S3_EMBEDDED_PORT": str(TEST_S3_PORT),
        "SOMEARKIV_S3_BUCKET": "somearkiv-test",
        "SOMEARKIV_CONFIG": str(data_dir / "none.toml"),
        "SOMEARKIV_NAVIGATION_TIMEOUT_S": "15",
        "SOMEARKIV_CAPTURE_TIMEOUT_S": "60",
        "SOMEARKIV_SETTLE_QUIET_S": "0.5",  # the sample pages settle at once; the hard-page tests use the default
        "SOMEARKIV_ALLOWED_HOSTS": '["127.0.0.1"]',
        "SOMEARKIV_METRICS_API": "false",  # the sample accounts' platforms are on the internet
        "SOMEARKIV_SESSION_KEY_FILE": str(data_dir.parent / "keys" / "session.key"),  # never ~/.config
    })
    get_settings.cache_clear()
    yield
    os.environ.clear()
    os.environ.update(saved)
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def s3_server(data_dir: Path):
    server = EmbeddedS3(data_dir / "seaweedfs", TEST_S3_PORT)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def archive(s3_server: EmbeddedS3) -> Archive:
    """The archive as the flows see it: the pipeline identity, through the gateway."""
    archive = Archive.from_settings(get_settings(), start_embedded=True)
    archive.ensure_bucket()
    return archive


@pytest.fixture(scope="session")
def admin_client(s3_server: EmbeddedS3, archive: Archive):
    """SeaweedFS's internal administrator, straight to its own S3 port: an attacker who got the
    server's files (root), for tests that tamper with the archive behind somearkiv's back."""
    import boto3
    from botocore.config import Config

    key, secret = s3_server.admin_credentials()
    return boto3.client("s3", endpoint_url=s3_server.internal_endpoint_url, aws_access_key_id=key,
                        aws_secret_access_key=secret, region_name="us-east-1",
                        config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                                      request_checksum_calculation="when_required",
                                      response_checksum_validation="when_required"))


@pytest.fixture(scope="session")
def role_archive(s3_server: EmbeddedS3, archive: Archive):
    """The archive connected as another role: role_archive("archivist")."""
    return lambda role: Archive.from_settings(get_settings(), start_embedded=False, role=role)


@pytest.fixture(scope="session")
def sample_site():
    with SampleSite() as site:
        yield site


@pytest.fixture(scope="module")
def forbidden_site():
    """An 'internal' server on a loopback alias that the egress guard must never let the browser reach."""
    with SampleSite(host="127.0.0.2") as site:
        yield site


@pytest.fixture(scope="session")
def sample_register(sample_site: SampleSite, data_dir: Path) -> Path:
    """The demo register, pointed at this session's sample site, plus one account whose page is missing."""
    text = (PROJECT_ROOT / "samples" / "accounts.yaml").read_text(encoding="utf-8")
    text = text.replace("http://127.0.0.1:8791/", sample_site.url)
    text += f"""  - id: demo-missing
    platform: blog
    handle: nedlagd-blogg
    name: En sida som inte finns
    url: {sample_site.url}no-such-page/
    department: Kommunledningsförvaltningen
    responsible: Kommunikatör
    substitute: Kommunsekreterare
    purpose: Visar att ett konto som inte går att fånga inte stoppar de andra.
    opened: 2020-01-01
"""
    path = data_dir / "accounts.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def prefect_server():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


@pytest.fixture
def schedule_file(tmp_path, monkeypatch):
    """A retention schedule with a very short gallringsfrist ('kort', SHORT_GALLRING_S), as the
    settings' retention config."""
    from tasks.retention import read_retention_schedule

    path = tmp_path / "retention.yaml"
    path.write_text(textwrap.dedent(f"""\
        default_class: bevaras
        classes:
          - id: bevaras
            name: Bevaras
            ihp_row: "Sociala medier / ögonblicksbild"
            decision: {{body: Kommunstyrelsen, date: 2024-01-15, paragraph: "§ 12"}}
            action: bevaras
            lock_days: 30
            legal_hold: true
          - id: kort
            name: Kampanjkonto – gallras
            ihp_row: "Sociala medier / kampanjkonton"
            decision: {{body: Kommunstyrelsen, date: 2024-01-15, paragraph: "§ 13"}}
            action: gallras
            period_days: {SHORT_GALLRING_S / 86400}
            lock_mode: COMPLIANCE
        """), encoding="utf-8")
    monkeypatch.setenv("SOMEARKIV_RETENTION_CONFIG", str(path))
    get_settings.cache_clear()
    yield read_retention_schedule(path)
    get_settings.cache_clear()


@pytest.fixture(scope="session", autouse=True)
def _close_browser():
    yield
    from tasks.capture.browser import close_pool

    close_pool()


def pytest_report_header() -> str:
    from tasks.capture.browser import find_browser

    return f"browser: {find_browser(os.environ.get('SOMEARKIV_BROWSER_PATH')) or 'playwright default'}; " \
           f"weed: {shutil.which('weed') or 'venv'}"
