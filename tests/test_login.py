"""`somearkiv login` through its remote screen page, and captures with the saved login (real Chromium)."""

from __future__ import annotations

import asyncio
import json
import queue
import threading
import time
import urllib.error
import urllib.request

import pytest

from deployments.login import log_in
from somearkiv.models import CaptureStatus, Trigger
from somearkiv.settings import get_settings
from tasks.capture import capture_account
from tasks.capture.browser import close_pool

from .factories import account

pytestmark = pytest.mark.browser


class RemoteLogin:
    """`log_in(..., remote=True)` in a thread; the test is the person at the screen page."""

    def __init__(self, member, settings):
        self.ready: queue.Queue[str] = queue.Queue()
        self.result = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(member, settings), daemon=True)
        self.thread.start()
        address = self.ready.get(timeout=60)
        self.base, _, self.token = address.partition("/?t=")

    def _run(self, member, settings):
        try:
            self.result = asyncio.run(log_in(member, settings, "redaktör för sidan", "Kim Kommunikatör", remote=True,
                                             on_ready=self.ready.put))
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            self.error = exc
            self.ready.put("")

    def call(self, path, body=None, token=True, headers=None):
        request = urllib.request.Request(self.base + path, method="POST" if body is not None else "GET",
                                         data=json.dumps(body).encode() if body is not None else None,
                                         headers={"Content-Type": "application/json", **(headers or {})})
        if token:
            request.add_header("X-Somearkiv-Token", self.token)
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read()

    def refused(self, path, body=None, **kwargs) -> int:
        with pytest.raises(urllib.error.HTTPError) as caught:
            self.call(path, body, **kwargs)
        return caught.value.code

    def finish(self):
        self.thread.join(60)
        if self.error:
            raise self.error
        return self.result


@pytest.fixture
def login_settings(tmp_path):
    return get_settings().model_copy(update={"data_dir": tmp_path / "data", "mobile_view": False,
                                             "session_key_file": tmp_path / "keys" / "session.key"})


def test_a_communicator_logs_in_through_the_screen_page_and_captures_use_the_login(sample_site, login_settings):
    member = account(id="members", url=sample_site.url + "members/")
    screen = RemoteLogin(member, login_settings)

    # the screen page answers only with its token, only from loopback host names, only same-origin input
    assert screen.refused("/screen.jpg", token=False) == 403
    assert screen.refused("/input", {"type": "click", "x": 1, "y": 1}, token=False) == 403
    assert screen.refused(f"/input?t={screen.token}", {"type": "text", "text": "x"}, token=False) == 403
    assert screen.refused("/input", {"type": "text", "text": "x"}, headers={"Origin": "http://evil.example"}) == 403
    assert screen.refused("/status", headers={"Host": "evil.example"}) == 403
    status, page = screen.call(f"/?t={screen.token}", token=False)
    assert status == 200 and "Logga in för arkivets räkning".encode() in page
    status, image = screen.call("/screen.jpg")
    assert image[:3] == b"\xff\xd8\xff"

    # the person clicks into the form's fields and types, as they would in the image
    screen.call("/input", {"type": "click", "x": 250, "y": 115})
    screen.call("/input", {"type": "text", "text": "redaktor"})
    screen.call("/input", {"type": "click", "x": 250, "y": 165})
    screen.call("/input", {"type": "text", "text": "hemligt"})
    screen.call("/input", {"type": "key", "key": "Enter"})
    deadline = time.monotonic() + 20
    while json.loads(screen.call("/status")[1])["url"] != sample_site.url + "members/":
        assert time.monotonic() < deadline, "the login form did not lead to the members' page"
        time.sleep(0.2)
    screen.call("/done", {})
    outcome = screen.finish()
    assert outcome.saved is not None and outcome.wall is None
    assert b"members=" not in outcome.saved.read_bytes(), "encrypted at rest"
    assert outcome.saved.stat().st_mode & 0o777 == 0o600

    record, folder = capture_account(member, municipality="P", trigger=Trigger.manual, settings=login_settings)
    assert record.status is CaptureStatus.captured
    assert "Bara för inloggade" in (folder / "page.html").read_text(encoding="utf-8")
    assert record.session.role == "redaktör för sidan" and record.session.saved_by == "Kim Kommunikatör"
    assert "members=" not in record.model_dump_json()

    urllib.request.urlopen(sample_site.url + "members/expire", timeout=10).close()  # the platform ends the login
    record, folder = capture_account(member, municipality="P", trigger=Trigger.manual, settings=login_settings)
    assert record.status is CaptureStatus.blocked and record.wall.kind == "session-expired"
    assert "session expired: run `somearkiv login members`" in record.wall.reason
    assert (folder / "wall.png").exists()


def test_cancelling_the_login_saves_nothing(sample_site, login_settings):
    screen = RemoteLogin(account(id="members", url=sample_site.url + "members/"), login_settings)
    screen.call("/cancel", {})
    outcome = screen.finish()
    assert outcome.saved is None
    assert not (login_settings.data_dir / "sessions" / "members.session").exists()


def teardown_module():
    close_pool()
