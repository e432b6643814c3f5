"""The register: valid files load; every broken one names the file, the line and the field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deployments.cli import app
from somearkiv.models import AccountStatus, Platform
from somearkiv.settings import PROJECT_ROOT
from somearkiv.yamlfile import ConfigError
from tasks.register import UnknownAccountError, read_register, select_accounts
from tasks.retention import read_retention_schedule

CLASSES = read_retention_schedule(PROJECT_ROOT / "config" / "retention.yaml").ids

GOOD_ACCOUNT = """\
  - id: perstorp-facebook
    platform: facebook
    handle: perstorpskommun
    name: Perstorps kommun
    url: https://www.facebook.com/perstorpskommun
    department: Kommunledningsförvaltningen
    responsible: Kommunikatör
    substitute: Kommunsekreterare
    purpose: Information
    opened: 2012-05-02
"""


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "accounts.yaml"
    path.write_text("register_version: 1\nmunicipality: Perstorps kommun\naccounts:\n" + body, encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        read_register(path, CLASSES)
    return [str(p) for p in info.value.problems]


def test_the_shipped_registers_are_valid():
    example = read_register(PROJECT_ROOT / "accounts.example.yaml", CLASSES)
    assert {a.platform for a in example.accounts} >= {Platform.facebook, Platform.instagram, Platform.youtube,
                                                      Platform.mastodon, Platform.linkedin}
    closed = [a for a in example.accounts if a.status is AccountStatus.closed]
    assert closed and all(a.closed for a in closed)
    demo = read_register(PROJECT_ROOT / "samples" / "accounts.yaml", CLASSES)
    assert len(demo.active) == 4


def test_select_accounts_defaults_to_active_and_refuses_unknown_ids():
    register = read_register(PROJECT_ROOT / "accounts.example.yaml", CLASSES)
    assert [a.id for a in select_accounts(register, None)] == [a.id for a in register.active]
    assert [a.id for a in select_accounts(register, ["perstorp-sommarlov-instagram"])] == [
        "perstorp-sommarlov-instagram"]  # a closed account can still be captured by name
    with pytest.raises(UnknownAccountError, match="nope"):
        select_accounts(register, ["perstorp-facebook", "nope"])


@pytest.mark.parametrize("url", ["file:///etc/passwd", "javascript:alert(1)", "ftp://example.org/", "example.org"])
def test_non_http_urls_are_refused_with_file_line_and_field(tmp_path, url):
    path = write(tmp_path, GOOD_ACCOUNT.replace("https://www.facebook.com/perstorpskommun", url))
    [message] = problems(path)
    assert message.startswith(f"{path}:8: accounts[0].url: ")


def test_duplicate_ids_name_both_lines(tmp_path):
    path = write(tmp_path, GOOD_ACCOUNT + GOOD_ACCOUNT)
    [message] = problems(path)
    assert message == f"{path}:14: accounts[1].id: duplicate id 'perstorp-facebook' (first at line 4)"


def test_every_problem_is_reported_at_once(tmp_path):
    body = GOOD_ACCOUNT.replace("platform: facebook", "platform: myspace").replace(
        "opened: 2012-05-02", "opened: yesterday\n    colour: blue")
    found = problems(write(tmp_path, body))
    assert any(":5: accounts[0].platform: " in m for m in found)
    assert any(":13: accounts[0].opened: " in m for m in found)
    assert any(":14: accounts[0].colour: " in m and "Extra inputs" in m for m in found)


def test_missing_field_points_at_the_account(tmp_path):
    [message] = problems(write(tmp_path, GOOD_ACCOUNT.replace("    responsible: Kommunikatör\n", "")))
    assert ":4: accounts[0].responsible: Field required" in message


def test_bad_yaml_names_the_line(tmp_path):
    path = write(tmp_path, GOOD_ACCOUNT.replace("    purpose: Information", "    purpose: [unclosed"))
    [message] = problems(path)
    assert message.startswith(f"{path}:") and "not valid YAML" in message


def test_a_key_that_overrides_a_merged_one_is_not_a_duplicate(tmp_path):
    """YAML's merge key: the accounts share the first one's fields and set their own; a key written twice
    in one account is still refused."""
    shared = GOOD_ACCOUNT.replace("  - id:", "  - &first\n    id:", 1)
    path = write(tmp_path, shared + "  - <<: *first\n    id: perstorp-fb2\n    url: https://www.facebook.com/p2\n"
                                    "    department: Barn- och utbildningsförvaltningen\n")
    register = read_register(path, CLASSES)
    assert [(a.id, a.department, a.purpose) for a in register.accounts] == [
        ("perstorp-facebook", "Kommunledningsförvaltningen", "Information"),
        ("perstorp-fb2", "Barn- och utbildningsförvaltningen", "Information")]
    twice = write(tmp_path, shared + "  - <<: *first\n    id: perstorp-fb2\n    id: perstorp-fb3\n")
    assert problems(twice) == [f"{twice}:17: accounts[1].id: duplicate key (first at line 16)"]
    merged_twice = write(tmp_path, shared + "  - <<: *first\n    <<: *first\n    id: perstorp-fb2\n")
    assert problems(merged_twice) == [f"{merged_twice}:16: accounts[1].<<: duplicate key (first at line 15); "
                                      "merge several with '<<: [*a, *b]'"]


def test_duplicate_keys_are_not_silently_merged(tmp_path):
    path = write(tmp_path, GOOD_ACCOUNT + "    url: https://evil.example/\n")
    [message] = problems(path)
    assert message == f"{path}:14: accounts[0].url: duplicate key (first at line 8)"


def test_unknown_retention_class_and_closed_without_date(tmp_path):
    body = GOOD_ACCOUNT + "    retention_class: forever\n" + GOOD_ACCOUNT.replace(
        "id: perstorp-facebook", "id: other").replace("opened:", "status: closed\n    opened:")
    found = problems(write(tmp_path, body))
    assert any(":14: accounts[0].retention_class: unknown retention class 'forever'" in m for m in found)
    assert any("accounts[1]: Value error, a closed account needs a 'closed' date" in m for m in found)


@pytest.mark.parametrize("text, expected", [
    ("", "expected a mapping"),
    ("- just\n- a list\n", "expected a mapping"),
    ("municipality: X\naccounts: 12\n", "accounts: Input should be a valid list"),
])
def test_wrong_shapes(tmp_path, text, expected):
    path = tmp_path / "r.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=expected):
        read_register(path)


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        read_register(tmp_path / "nope.yaml")
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        read_register(binary)


def test_cli_register_check(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(app, ["register", "check", str(PROJECT_ROOT / "accounts.example.yaml")])
    assert ok.exit_code == 0, ok.output
    assert "OK, 7 accounts (6 active)" in ok.output
    bad = write(tmp_path, GOOD_ACCOUNT.replace("https://www.facebook.com/perstorpskommun", "file:///etc/passwd"))
    result = runner.invoke(app, ["register", "check", str(bad)])
    assert result.exit_code == 2  # a bad register is a usage error, as for every command
    assert f"{bad}:8: accounts[0].url:" in result.output
    assert "Traceback" not in result.output


def test_retention_schedule_rules(tmp_path):
    path = tmp_path / "retention.yaml"
    path.write_text(textwrap.dedent("""\
        default_class: bevaras
        classes:
          - id: bevaras
            name: B
            ihp_row: r
            decision: {body: KS, date: 2024-01-01, paragraph: "§ 1"}
            action: bevaras
            lock_days: 10
          - id: kort
            name: K
            ihp_row: r
            decision: {body: KS, date: 2024-01-01, paragraph: "§ 1"}
            action: gallras
        """), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        read_retention_schedule(path)
    text = str(info.value)
    assert "legal_hold: true" in text and "period_days" in text
    assert f"{path}:3: classes[0]" in text and f"{path}:9: classes[1]" in text


def test_a_start_page_the_browser_would_refuse_is_named_when_the_register_is_checked(tmp_path):
    """The egress guard refuses a non-public address at capture; `register check` says so the day the register
    is written (a warning: IT may allow the host), with the guard's own reason."""
    from tasks.register import start_pages_refused

    inside = GOOD_ACCOUNT.replace("https://www.facebook.com/perstorpskommun", "http://10.0.0.5/@info")
    local = GOOD_ACCOUNT.replace("perstorp-facebook", "lokal").replace(
        "https://www.facebook.com/perstorpskommun", "http://localhost:8080/@info")
    public = GOOD_ACCOUNT.replace("perstorp-facebook", "publik")
    path = write(tmp_path, inside + local + public)
    register = read_register(path, CLASSES)
    assert [(a.id, why) for a, why in start_pages_refused(register, ())] == [
        ("perstorp-facebook", "10.0.0.5 is a private address"),
        ("lokal", "localhost is this machine (it may be 127.0.0.1): 127.0.0.1 is a loopback address")]
    assert start_pages_refused(register, ("10.0.0.5", "localhost:8080")) == []  # a name allowed by its name
    assert start_pages_refused(register, ("10.0.0.5", "127.0.0.1:8080", "::1")) == []
    # (localhost may be ::1 too, as in Debian's /etc/hosts: allowing 127.0.0.1 alone is not enough)
    assert [(a.id, why) for a, why in start_pages_refused(register, ("10.0.0.5", "127.0.0.1:8080"))] == [
        ("lokal", "localhost is this machine (it may be ::1): ::1 is a loopback address")]
    assert [a.id for a, _ in start_pages_refused(register, ("127.0.0.1:9999",))] == ["perstorp-facebook", "lokal"]
    result = CliRunner().invoke(app, ["register", "check", str(path)])
    assert result.exit_code == 0 and "OK, 3 accounts" in result.stdout
    # (the tests' settings allow the loopback sample site)
    assert "warning: perstorp-facebook (http://10.0.0.5/@info): 10.0.0.5 is a private address" in result.stderr
    assert "publik" not in result.stderr
