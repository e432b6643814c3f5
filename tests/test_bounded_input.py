"""Bad input gets a clear error and takes bounded resources: YAML bombs, huge files, blank reasons."""

from __future__ import annotations

import time

from typer.testing import CliRunner

from deployments.cli import app
from somearkiv import yamlfile

BOMB = "register_version: 1\nmunicipality: x\n" + 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 10)) + "accounts: []\n"


def test_a_yaml_bomb_is_refused_quickly_naming_the_limit(tmp_path):
    path = tmp_path / "accounts.yaml"
    path.write_text(BOMB, encoding="utf-8")
    started = time.monotonic()
    result = CliRunner().invoke(app, ["register", "check", str(path)])
    assert time.monotonic() - started < 10
    assert result.exit_code != 0 and "aliases expand to more than" in result.output
    assert str(yamlfile.MAX_NODES) in result.output


def test_a_few_aliases_are_still_fine(tmp_path):
    path = tmp_path / "retention.yaml"
    path.write_text("a: &x [1, 2]\nb: *x\nc: *x\n", encoding="utf-8")
    node = yamlfile.yaml.compose(path.read_text(), Loader=yamlfile.yaml.SafeLoader)
    assert yamlfile._expanded_size(node) == 1 + 3 + 3 * 3  # the mapping, its 3 keys, the list of 2 three times


def test_a_huge_register_is_refused_before_it_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(yamlfile, "MAX_BYTES", 1000)
    path = tmp_path / "accounts.yaml"
    path.write_text("# " + "x" * 2000 + "\nregister_version: 1\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["register", "check", str(path)])
    assert result.exit_code != 0 and "larger than" in result.output


def test_blank_reasons_are_refused():
    runner = CliRunner()
    for args in (["hold", "some-account", "--reason", "   "], ["before-change", "some-account", "--reason", ""]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and "--reason must say why" in result.output, result.output
