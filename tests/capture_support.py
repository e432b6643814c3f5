"""What the browser tests share: a capture of one page with the test settings."""

from __future__ import annotations

from somearkiv.models import Trigger
from somearkiv.settings import get_settings
from tasks.capture import capture_account

from .factories import account


def capture(url: str, tmp_path, **settings):
    """Capture *url* as account 'trap' into *tmp_path* (desktop view only unless mobile_view=True)."""
    s = get_settings().model_copy(update={"data_dir": tmp_path, "mobile_view": False, **settings})
    return capture_account(account(id="trap", url=url), municipality="Perstorps kommun", trigger=Trigger.manual,
                           settings=s)
