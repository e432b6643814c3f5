"""Bad input gets a clear error and takes bounded resources: YAML bombs, huge files, blank reasons."""

from __future__ import annotations

import time

import pytest
from typer.testing import CliRunner

from deployments.cli import app
from somearkiv import yamlfile
from somearkiv.models import Account

BOMB = "register_version: 1\nmunicipality: x\n" + 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 10)) + "accounts: []\n"


def test_a_yaml_bomb_is_refused_quickly_naming_the_limit(tmp_path):
    path = tmp_path / "accounts.yaml"
    path.write_text(BOMB, encoding="utf-8")
    started = time.monotonic()
    result = CliRunner().invoke(app, ["register", "check", str(path)])
    assert time.monotonic() - started < 10
    assert result.exit_code == 2 and "aliases expand to more than" in result.output
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
    assert result.exit_code == 2 and "larger than" in result.output


def test_blank_reasons_are_refused():
    runner = CliRunner()
    for args in (["hold", "some-account", "--reason", "   "], ["before-change", "some-account", "--reason", ""]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and "--reason must say why" in result.output, result.output
    for args, says in ((["hold", "a", "--reason", "ok\n2026-01-01 release a by x"], "may not hold line breaks"),
                       (["hold", "a", "--reason", "\x01\x02"], "may not hold line breaks or control characters"),
                       (["hold", "a", "--reason", "beslut \u202eslutgiltigt"], "control characters"),
                       (["hold", "a", "--reason", "x" * 5000], "at most 2000"),
                       (["hold", "a", "--reason", "rättstvist", "--by", " "], "--by must say who"),
                       (["before-change", "a", "--reason", "ny bild", "--by", "Kim\nAdmin"], "--by may not hold")):
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and says in result.output and result.output.count("\n") == 1, (args, result.output)
    result = runner.invoke(app, ["metrics", "--format", "xml"])
    assert result.exit_code == 2 and "use table, csv or json" in result.output


def _check(path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["register", "check", str(path)])
    return result.exit_code, result.output


def test_what_is_not_a_regular_file_is_refused_without_reading_it(tmp_path):
    """A FIFO would block the open, a device never ends: neither is opened for a read that waits."""
    import os

    fifo = tmp_path / "accounts.yaml"
    os.mkfifo(fifo)
    loop = tmp_path / "loop.yaml"
    loop.symlink_to(loop)
    for path in (fifo, "/dev/zero", tmp_path):
        started = time.monotonic()
        code, output = _check(path)
        assert time.monotonic() - started < 10
        assert code == 2 and "not a regular file: not read" in output and output.count("\n") == 1, output
    code, output = _check(loop)
    assert code == 2 and "cannot read: Too many levels of symbolic links" in output, output


def test_nesting_deeper_than_the_stack_is_refused_in_one_line(tmp_path):
    for name, text in (("flow.yaml", "a: " + "[" * 50_000 + "]" * 50_000 + "\n"),
                       ("block.yaml", "".join(" " * i + f"k{i}:\n" for i in range(3000)) + " " * 3000 + "v: 1\n")):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        code, output = _check(path)
        assert code == 2 and "values nested more than 100 levels deep: not read" in output, output
        assert output.count("\n") == 1 and f"{name}:" in output, output
        assert "Traceback" not in output and "RecursionError" not in output


def test_characters_yaml_forbids_and_other_encodings_are_named_with_their_line(tmp_path):
    nul = tmp_path / "nul.yaml"
    nul.write_bytes(b"register_version: 1\nmunicipality: a\x00b\n")
    code, output = _check(nul)
    assert code == 2 and output == f"{nul}:2: not valid YAML: character #x0000 is not allowed in YAML text\n", output
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("register_version: 1\n\nmunicipality: Malmö\n".encode("latin-1"))
    code, output = _check(latin1)
    assert code == 2 and output == f"{latin1}:3: not UTF-8 text (byte 0xf6): save the file as UTF-8\n", output
    impossible = tmp_path / "date.yaml"
    impossible.write_text("register_version: 1\nmunicipality: a\naccounts:\n  - id: a\n    opened: 2026-02-30\n",
                          encoding="utf-8")
    code, output = _check(impossible)
    assert code == 2 and output == f"{impossible}:5: '2026-02-30' is not a date: day is out of range for month\n", output
    two = tmp_path / "two.yaml"
    two.write_text("register_version: 1\n---\nregister_version: 2\n", encoding="utf-8")
    code, output = _check(two)
    assert code == 2 and "expected a single document in the stream but found another document" in output
    assert output.count("\n") == 1, output


def test_verify_names_what_it_cannot_read_and_touches_no_storage(tmp_path, monkeypatch):
    """A directory, a FIFO or a symlink loop is not an object's key: one line, exit 7, without asking S3."""
    import os

    from deployments import cli

    monkeypatch.setattr(cli, "_archive", lambda *a: (_ for _ in ()).throw(AssertionError("asked the archive")))
    fifo = tmp_path / "startpage.pdf"
    os.mkfifo(fifo)
    loop = tmp_path / "loop.pdf"
    loop.symlink_to(loop)
    for target in (tmp_path, fifo, loop, "/dev/zero"):
        result = CliRunner().invoke(app, ["verify", str(target)])
        assert result.exit_code == 7 and "is not a regular file" in result.output, result.output
        assert result.output.count("\n") == 1
    for blank in ("", "  ", "captures/nowhere/"):
        result = CliRunner().invoke(app, ["verify", blank])
        assert result.exit_code == 2 and "neither a file nor an object's key" in result.output, result.output
    # a "regular file" that cannot be read, and paths no archive key looks like: named, exit 7, no S3 started
    for target, says in (("/proc/self/mem", "cannot be read"), (str(tmp_path / "gone.pdf"), "no such file"),
                         ("gone.pdf", "no such file"), ("../gone.pdf", "no such file")):
        result = CliRunner().invoke(app, ["verify", target])
        assert result.exit_code == 7 and repr(target) in result.output and says in result.output, result.output
        assert result.output.count("\n") == 1


def test_a_file_named_like_an_option_gets_told_how_to_name_it(tmp_path, monkeypatch, capsys):
    """`somearkiv verify -dash.pdf`: click reads '-d' as an option; the line says how to name the file."""
    import sys

    import pytest

    from deployments import cli

    monkeypatch.chdir(tmp_path)
    (tmp_path / "-dash.pdf").write_bytes(b"%PDF-1.7\n")
    for argv, hint in ((["verify", "-dash.pdf"], "write it as ./-dash.pdf or after --"),
                       (["verify", "-nofile.pdf"], "try 'somearkiv verify --help'"),
                       (["search", "--qurey=" + "nya skolan " * 30], "try 'somearkiv search --help'"),  # no
                       (["verify", "-d" + "x" * 300], "try 'somearkiv verify --help'")):  # 'File name too long'
        monkeypatch.setattr(sys, "argv", ["somearkiv", *argv])
        with pytest.raises(SystemExit) as ended:
            cli.main()
        err = capsys.readouterr().err
        assert ended.value.code == 2 and hint in err and err.count("\n") == 1, err


def test_export_sip_refuses_what_it_cannot_do_before_a_flow_runs(tmp_path, monkeypatch):
    import os

    runner = CliRunner()
    existing = tmp_path / "notes.txt"
    existing.write_text("x", encoding="utf-8")
    for out in ("/dev/null", str(existing)):
        result = runner.invoke(app, ["export-sip", "--out", out])
        assert result.exit_code == 7 and "exists and is not a folder" in result.output, result.output
    result = runner.invoke(app, ["export-sip", "--out", str(tmp_path / "d"), "--from", "2026-05-01",
                                 "--to", "2026-01-01"])
    assert result.exit_code == 2 and "is not after --from" in result.output, result.output
    fifo = tmp_path / "sip.yaml"
    os.mkfifo(fifo)
    from somearkiv.settings import get_settings

    monkeypatch.setenv("SOMEARKIV_SIP_PROFILE", str(fifo))
    get_settings.cache_clear()
    started = time.monotonic()
    try:
        result = runner.invoke(app, ["export-sip", "--out", str(tmp_path / "d")])
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert time.monotonic() - started < 10
    assert result.exit_code == 2 and "SIP profile" in result.output and "not a regular file" in result.output
    assert result.output.count("\n") == 1 and not (tmp_path / "d").exists(), result.output


def test_bad_settings_are_one_line_naming_the_variable_or_file(tmp_path, monkeypatch):
    """A value that would misbehave later (a port that wraps, NaN timeouts, a bucket S3 refuses with a
    regex dump, a config file that is not there) is refused when the settings are read."""
    import os

    import pytest

    from somearkiv.settings import SettingsError, get_settings

    fifo = tmp_path / "somearkiv.toml"
    os.mkfifo(fifo)
    wrong_type = tmp_path / "wrong.toml"
    wrong_type.write_text('capture_concurrency = "many"\n', encoding="utf-8")
    deep = tmp_path / "deep.toml"
    deep.write_text("a = " + "[" * 100_000 + "]" * 100_000 + "\n", encoding="utf-8")  # 200 KB
    cases = [({"SOMEARKIV_S3_EMBEDDED_PORT": "-1"}, "SOMEARKIV_S3_EMBEDDED_PORT='-1': Input should be greater"),
             ({"SOMEARKIV_S3_EMBEDDED_PORT": "60000"}, "less than or equal to 55527"),
             ({"SOMEARKIV_S3_ENDPOINT_URL": "notaurl"}, "must be an http:// or https:// URL with a host"),
             ({"SOMEARKIV_S3_BUCKET": "../.."}, "SOMEARKIV_S3_BUCKET='../..': An S3 bucket name"),
             ({"SOMEARKIV_NAVIGATION_TIMEOUT_S": "nan"}, "finite number"),
             ({"SOMEARKIV_CAPTURE_TIMEOUT_S": "-5"}, "greater than 0"),
             ({"SOMEARKIV_CONFIG": str(fifo)}, "not a regular file, not read"),
             ({"SOMEARKIV_CONFIG": str(wrong_type)}, f"capture_concurrency in {wrong_type}='many'"),
             ({"SOMEARKIV_CONFIG": str(deep)}, f"{deep}: values nested too deeply, not read")]
    try:
        for env, says in cases:
            with monkeypatch.context() as patch:
                for name, value in env.items():
                    patch.setenv(name, value)
                get_settings.cache_clear()
                with pytest.raises(SettingsError) as raised:
                    get_settings()
                assert says in str(raised.value) and "\n" not in str(raised.value), (env, str(raised.value))
    finally:
        get_settings.cache_clear()
    from tests.test_e2e import _cli

    done = _cli("captures", SOMEARKIV_LOG_LEVEL="loud")
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [
        "configuration error: SOMEARKIV_LOG_LEVEL='loud': use one of debug, info, warning, error, critical"]
    done = _cli("captures", SOMEARKIV_CONFIG=str(tmp_path / "somearkiv.tmol"))  # a typo is not "no settings"
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [
        f"configuration error: SOMEARKIV_CONFIG={tmp_path / 'somearkiv.tmol'}: no such file "
        "(unset it to read ./somearkiv.toml if there is one)"]
    done = _cli("captures", SOMEARKIV_S3_BUCKET="../..")
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_usage_errors_are_one_line_naming_the_command_and_its_help():
    """Click's own errors (unknown option, missing argument, a value of the wrong type) used to be
    Typer's boxed block of five or six lines."""
    from tests.test_e2e import _cli

    cases = [(("captures", "--bogus"),
              "somearkiv captures: No such option: --bogus  (try 'somearkiv captures --help')"),
             (("get",), "somearkiv get: Missing argument 'key'.  (try 'somearkiv get --help')"),
             (("search", "-n", "abc", "x"), "somearkiv search: Invalid value for '--limit' / '-n'"),
             (("nosuchcommand",), "somearkiv: No such command 'nosuchcommand'.  (try 'somearkiv --help')"),
             (("register", "nosub"), "somearkiv register: No such command 'nosub'.")]
    for args, says in cases:
        done = _cli(*args)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith(says), (args, done.stderr)
    group = _cli("register")  # a group without its command still shows the group's help
    assert group.returncode == 2 and "publish" in group.stdout + group.stderr
    helped = _cli("captures", "--help")
    assert helped.returncode == 0 and "--account" in helped.stdout


def test_ctrl_c_while_the_cli_starts_is_one_line_not_a_traceback():
    """The console script guards the CLI's import (about a second) as well as the command.

    The Ctrl-C comes once the CLI's import is under way: before the console script runs, Python
    itself is starting (its site module, which on a busy machine took longer than 0.15 s) and
    nothing of ours can answer. `-X importtime` writes a line as each module is in: the first one
    after the script's own module comes from inside the guarded import.
    """
    import signal
    import subprocess
    import sys
    from pathlib import Path

    script = Path(sys.executable).with_name("somearkiv")

    # Ctrl-C as at a terminal: a test run started in the background (`./run test &`, nohup) has SIGINT
    # ignored, a child inherits that, and the command then rightly ignores it (seen: exit 0, no line). So
    # the command is started through an exec that gives SIGINT its default first (the same process id).
    at_a_terminal = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
                     "signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT}); "
                     "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])")

    def dispositions(pid: int | str) -> str:
        try:
            return " ".join(line.strip() for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                            if line.startswith(("SigBlk", "SigIgn", "SigCgt")))
        except OSError:
            return "-"

    def interrupted_after(delay: float) -> tuple[bool, int, str]:
        """Start `captures`, send Ctrl-C *delay* s into its import: (still running then?, exit status, stderr)."""
        started = subprocess.Popen([sys.executable, "-c", at_a_terminal, "-X", "importtime", str(script), "captures"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        seen = []
        while (line := started.stderr.readline()) and not (seen and "deployments.entry" in seen[-1]):
            seen.append(line)
        assert line, "".join(seen)[-2000:]
        time.sleep(delay)
        running = started.poll() is None  # send_signal sends nothing to a process that has ended
        shown = f"this worker: {dispositions('self')}; the command: {dispositions(started.pid) if running else '-'}"
        started.send_signal(signal.SIGINT)
        err = started.stderr.read()
        started.wait(60)
        # the command had already said its own last line and was ending: the Ctrl-C came too late, as if it had
        # ended (seen in `./run test --fast`: killed by the signal while the interpreter shut down)
        ended = "(--debug shows the traceback)" in err and not err.rstrip().endswith("interrupted")
        return running and not ended, started.returncode, f"{shown}\n{err}"

    # as the CLI's import begins, and at points in it (a KeyboardInterrupt inside pydantic's building of a
    # model came out as a SchemaError traceback: the guard must not depend on where the signal lands)
    for delay in (0.0, 0.2, 0.4, 0.6):
        for _ in range(3):  # a command that ended before the Ctrl-C was sent tells nothing: again
            running, status, err = interrupted_after(delay)
            if running:
                break
        assert running, f"`captures` ended within {delay} s of its import three times: the Ctrl-C came too late"
        assert "Traceback" not in err, err
        assert status == 130, (delay, status, err.splitlines()[0], err[-3000:])
        assert err.rstrip().endswith("interrupted"), err[-3000:]


RETAINED = """
import sys
if sys.argv[1] == "somearkiv":
    import somearkiv
def rss_mb():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 >> 20
base = rss_mb()
for _ in range(3):  # a few large buffers made and freed, as a capture's screenshots and PDFs are
    freed = bytearray(8 << 20)
    del freed
kept = [bytes(1000) for _ in range(10)]
buffers = [bytearray(6 << 20) for _ in range(4)]
del buffers
print(rss_mb() - base)
"""


def test_large_buffers_go_back_to_the_system_when_freed():
    """In a process that imported somearkiv, freed buffers of a few MB leave it; with glibc's own
    setting (the threshold raised after the first free) they stay in the heap."""
    import subprocess
    import sys
    from pathlib import Path

    def retained(imported: str) -> int:
        return int(subprocess.run([sys.executable, "-c", RETAINED, imported], check=True, capture_output=True,
                                  text=True, cwd=Path(__file__).parent.parent).stdout)

    assert retained("somearkiv") <= 1
    assert retained("plain") >= 4  # the bad case: without the setting, most of the last 24 MB stays


def test_millions_of_plain_values_are_refused_before_a_tree_of_them_is_built(tmp_path):
    """No aliases, only many short values (15 MB of 'a,'): the tree would take gigabytes; refused from the
    parser's events, naming the limit and the line."""
    path = tmp_path / "accounts.yaml"
    values = "a," * (yamlfile.MAX_NODES + 10)
    path.write_text(f"register_version: 1\nmunicipality: x\naccounts: []\nx: [{values}a]\n", encoding="utf-8")
    started = time.monotonic()
    code, output = _check(path)
    assert time.monotonic() - started < 30
    assert code != 0 and f"more than {yamlfile.MAX_NODES} values" in output and ":4:" in output, output
    assert "aliases" not in output, "no alias in this file"


def test_an_alias_of_a_long_text_used_many_times_is_refused(tmp_path):
    """Few values, but each alias stands for the whole long text: as much text as whatever reads or publishes
    the register would handle."""
    long = "x" * (1024 * 1024)
    path = tmp_path / "accounts.yaml"
    path.write_text(f"register_version: 1\nmunicipality: x\nlong: &p {long}\nmany: [{', '.join(['*p'] * 80)}]\n"
                    "accounts: []\n", encoding="utf-8")
    code, output = _check(path)
    assert code != 0 and "of text" in output and "aliases" in output, output
    path.write_text(f"register_version: 1\nmunicipality: x\nlong: &p {long}\nmany: [*p, *p]\naccounts: []\n",
                    encoding="utf-8")
    code, output = _check(path)
    assert "of text" not in output, output  # a few uses are fine (the unknown keys are what is wrong here)


def test_a_long_base_60_number_is_read_as_text_not_built_for_half_an_hour(tmp_path):
    """YAML 1.1 reads 1:30 as 90; building a long one takes time growing with its length squared."""
    path = tmp_path / "accounts.yaml"
    path.write_text("register_version: 1\nmunicipality: x\naccounts: []\nx: 1" + ":0" * 400_000 + "\n",
                    encoding="utf-8")
    started = time.monotonic()
    code, output = _check(path)
    assert time.monotonic() - started < 10, "built as a number"
    assert code != 0 and "x" in output
    node = yamlfile.yaml.compose("a: 1:30\nb: 90\nc: 1:30.5\n", Loader=yamlfile._Loader)
    assert [v.tag.rsplit(":", 1)[1] for _, v in node.value] == ["str", "int", "str"]


def test_a_file_of_many_wrong_keys_lists_the_first_problems_and_counts_the_rest(tmp_path):
    """Finding a problem's line walks the file's mapping: 100 000 wrong keys, each looked up, took hours."""
    path = tmp_path / "accounts.yaml"
    path.write_text("register_version: 1\nmunicipality: x\naccounts: []\n" +
                    "".join(f"k{i}: 1\n" for i in range(100_000)), encoding="utf-8")
    started = time.monotonic()
    code, output = _check(path)
    assert time.monotonic() - started < 30
    assert code != 0 and f"and {100_000 - yamlfile.MAX_PROBLEMS} more problems" in output, output[-300:]
    assert output.count("\n") <= yamlfile.MAX_PROBLEMS + 3 and ":4: k0:" in output, output[:300]


def test_a_register_of_many_broken_accounts_lists_the_first_problems_by_line_and_counts_every_other_last(tmp_path):
    """The accounts are checked one by one and capped once for the file: an account with more errors than are
    listed adds its count to the one count at the end (it came first, without a line, and was counted as one)."""
    from tasks.register import read_register

    path = tmp_path / "accounts.yaml"
    extra = "".join(f"    x{i}: 1\n" for i in range(yamlfile.MAX_PROBLEMS + 20))
    path.write_text("register_version: 1\nmunicipality: x\naccounts:\n  - id: a\n" + extra +
                    "  - id: b\n  - id: c\n", encoding="utf-8")
    with pytest.raises(yamlfile.ConfigError) as caught:
        read_register(path)
    problems = caught.value.problems
    # each account lacks every required field but its id; account a has 70 unknown keys besides
    missing = len([f for f, info in Account.model_fields.items() if info.is_required()]) - 1
    total = 3 * missing + yamlfile.MAX_PROBLEMS + 20
    *listed, count = problems
    assert len(listed) == yamlfile.MAX_PROBLEMS and all(p.line for p in listed)
    assert [p.line for p in listed] == sorted(p.line for p in listed)
    assert count.line is None and count.message.startswith(f"and {total - yamlfile.MAX_PROBLEMS} more problems")


def test_a_reason_of_only_invisible_characters_is_refused():
    for reason in ("\u200b", " \u200b\u2060 ", "\u00ad", "…"):
        result = CliRunner().invoke(app, ["hold", "some-account", "--reason", reason])
        assert result.exit_code == 2 and "--reason must say why" in result.output, (reason, result.output)


def test_a_broken_register_cannot_forge_lines_on_the_terminal(tmp_path):
    """A key is printed as part of its problem: an escape sequence or a line break in it is shown escaped."""
    path = tmp_path / "accounts.yaml"
    path.write_text('register_version: 1\nmunicipality: x\naccounts: []\n"\\e[2J\\e[1;1HFAKE: OK\\nx": 1\n',
                    encoding="utf-8")
    code, output = _check(path)
    assert code != 0 and "\x1b" not in output and "\\x1b[2J" in output and output.count("\n") == 1, repr(output)


def test_a_start_page_with_a_password_in_its_address_is_refused_naming_the_line(tmp_path):
    """The register is published (förteckning): a user name or password in an address would be too."""
    path = tmp_path / "accounts.yaml"
    path.write_text("register_version: 1\nmunicipality: x\naccounts:\n  - id: a\n    platform: blog\n    handle: a\n"
                    "    name: A\n    url: http://kim:hemligt@example.se/\n    department: D\n    responsible: R\n"
                    "    substitute: S\n    purpose: P\n    opened: 2020-01-01\n", encoding="utf-8")
    code, output = _check(path)
    assert code != 0 and ":8: accounts[0].url: holds a user name or password" in output, output
    assert "hemligt" not in output


def test_an_unreachable_prefect_server_is_named_with_its_exit_status():
    from deployments.cli import EXIT_PREFECT, _one_line

    code, line = _one_line(RuntimeError("Failed to reach API at http://127.0.0.1:9/api/"))
    assert code == EXIT_PREFECT and "Prefect server" in line and "PREFECT_API_URL" in line


def test_a_fixity_sample_outside_zero_to_one_is_refused_before_anything_runs():
    for share in ("0", "-1", "nan", "1.5"):
        result = CliRunner().invoke(app, ["fixity", "--sample", share])
        assert result.exit_code == 2 and "a share above 0 and at most 1" in result.output, (share, result.output)


def test_an_announcement_to_a_prefect_server_that_is_down_says_nothing_was_announced(tmp_path):
    """The event would be queued in the process and lost with it: the command must not say "announced"."""
    import os
    import socket
    import subprocess
    import sys
    from pathlib import Path

    with socket.socket() as s:  # a port on loopback that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    register = Path(__file__).parents[1] / "accounts.example.yaml"
    env = {**os.environ, "PREFECT_API_URL": f"http://127.0.0.1:{port}/api", "SOMEARKIV_DATA_DIR": str(tmp_path)}
    ended = subprocess.run([str(Path(sys.executable).with_name("somearkiv")), "before-change", "perstorp-facebook",
                            "--reason", "ny logga", "--no-follow", "--register", str(register)],
                           capture_output=True, text=True, env=env, timeout=120)
    assert ended.returncode == 6, ended.stderr
    assert "announced:" not in ended.stdout and "nothing was announced" in ended.stderr, ended.stdout + ended.stderr
    assert ended.stderr.count("\n") == 1 and "Traceback" not in ended.stderr


def test_an_empty_listing_shows_the_account_it_was_asked_for_as_escapes(monkeypatch, capsys):
    """`captures -a $'x\\ny'`: the id comes from the command line and is printed back; a line break or an
    escape sequence in it must not make a second line or clear the screen."""
    from deployments import cli

    monkeypatch.setattr(cli, "_known_account", lambda account: False)
    cli._nothing_for("no captures filed", "x\ny\x1b[2J")
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "\x1b" not in out and "x\\ny\\x1b[2J" in out, out


def test_an_external_s3_without_credentials_is_told_which_variables_to_set():
    from botocore.exceptions import EndpointConnectionError, NoCredentialsError

    from deployments import cli

    code, line = cli._one_line(NoCredentialsError())
    assert code == cli.EXIT_STORAGE and "AWS_ACCESS_KEY_ID" in line and "is it running" not in line
    code, line = cli._one_line(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"))
    assert code == cli.EXIT_STORAGE and "is it running" in line


def test_a_port_taken_by_another_program_is_said_as_such_not_as_a_path():
    import errno

    from deployments import cli

    code, line = cli._one_line(OSError(errno.EADDRINUSE, "Address already in use"))
    assert code == cli.EXIT_USAGE and "a port somearkiv listens on is taken" in line and "path" not in line


def test_the_terminal_shows_an_exception_in_one_line_and_a_kept_record_stays_whole():
    """console_without_tracebacks changes how the terminal's handlers show a record, not the record: the
    Prefect UI's handler (and any that keeps records) still gets its traceback."""
    import io
    import logging
    import sys

    from somearkiv.log import console_without_tracebacks

    logger = logging.getLogger("somearkiv-test-one-line")
    logger.propagate = False
    terminal, kept = logging.StreamHandler(sys.stderr), logging.StreamHandler(io.StringIO())
    for handler in (terminal, kept):
        logger.addHandler(handler)
    raise_exceptions = logging.raiseExceptions
    try:
        console_without_tracebacks()
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except OSError:
            record = logger.makeRecord(logger.name, logging.ERROR, __file__, 1, "the run failed", None,
                                       sys.exc_info())
        shown = terminal.format(record)
        assert shown == "the run failed (ConnectionRefusedError: [Errno 111] Connection refused)", shown
        assert "Traceback" in kept.format(record) and record.exc_info is not None
    finally:
        logging.raiseExceptions = raise_exceptions
        for handler in (terminal, kept):
            logger.removeHandler(handler)


def test_the_embedded_s3_servers_own_refusal_is_a_storage_error():
    from deployments import cli
    from storage.embedded import EmbeddedS3Error

    code, line = cli._one_line(EmbeddedS3Error("the S3 server on port 18336 is the one of the data directory /a"))
    assert code == cli.EXIT_STORAGE and line.startswith("the embedded S3 server: the S3 server on port")


def test_only_a_prefect_server_that_cannot_be_reached_is_given_up_on():
    """Prefect's queued logs and events are dropped for a server that is gone, not for one that answered
    with an error (its run's log lines still reach the UI)."""
    import httpx

    from deployments.cli_runs import server_unreachable

    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except OSError as exc:
            raise httpx.ConnectError("[Errno 111] Connection refused") from exc
    except httpx.ConnectError as wrapped:
        assert server_unreachable(wrapped)
    assert server_unreachable(RuntimeError("Failed to reach API at http://127.0.0.1:4200/api/"))
    answered = httpx.HTTPStatusError("500", request=httpx.Request("GET", "http://127.0.0.1/"),
                                     response=httpx.Response(500))
    assert not server_unreachable(answered) and not server_unreachable(ValueError("x"))


def test_a_log_line_whose_exception_cannot_be_read_is_still_shown():
    import logging
    import sys

    from somearkiv.log import _OneLineExceptions

    class Odd(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no text")

    try:
        raise Odd()
    except Odd:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "the run failed", None, sys.exc_info())
    assert _OneLineExceptions(None).format(record) == "the run failed (Odd: <its text could not be read>)"
