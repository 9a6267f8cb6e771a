"""The CLI: help everywhere, and every error is one clear line with a non-zero exit."""

from __future__ import annotations

import contextlib
import gzip
import io
import itertools
import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from streams.cli import main
from streams.local.broker import free_port
from streams.replay.states import OBJECTS
from streams.sim import SimulationSpec, generate
from tests.file_limits import capped_file_size

pytestmark = pytest.mark.unit

COMMANDS = ["run", "worker", "simulate", "produce", "tail", "replay", "check-config", "detectors"]


@pytest.fixture
def cli() -> CliRunner:
    return CliRunner()


@pytest.mark.parametrize("command", [[], *([name] for name in COMMANDS)], ids=["touchpoint", *COMMANDS])
def test_every_command_has_help(cli: CliRunner, command: list[str]) -> None:
    result = cli.invoke(main, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output


def test_top_level_help_lists_every_command(cli: CliRunner) -> None:
    output = cli.invoke(main, ["--help"]).output
    assert all(name in output for name in COMMANDS)


def _error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("Error:")]


@pytest.mark.parametrize(
    "args",
    [
        ["tail", "touchpoints"],
        ["worker", "--development"],
        ["produce", "{file}"],
        ["simulate", "--events", "5"],
    ],
    ids=["tail", "worker", "produce", "simulate"],
)
def test_unreachable_broker_is_a_one_line_error(cli: CliRunner, args: list[str], tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text("{}\n")
    port = free_port()
    result = cli.invoke(
        main, [a.format(file=events) for a in args] + ["--broker", f"kafka://127.0.0.1:{port}"]
    )
    assert result.exit_code == 1
    assert _error_lines(result.output) == [f"Error: no Kafka broker answers at 127.0.0.1:{port}"]


def test_worker_without_a_broker_explains_how_to_give_one(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TOUCHPOINT_BROKER", raising=False)
    result = cli.invoke(main, ["worker"])
    assert result.exit_code == 2
    assert "TOUCHPOINT_BROKER" in _error_lines(result.output)[0]


@pytest.mark.parametrize("command", ["replay", "produce"])
def test_missing_input_file_is_a_one_line_error(cli: CliRunner, command: str, tmp_path: Path) -> None:
    args = [command, str(tmp_path / "nope.jsonl")] + (
        ["--out", str(tmp_path / "o")] if command == "replay" else []
    )
    result = cli.invoke(main, args)
    assert result.exit_code == 2
    assert len(_error_lines(result.output)) == 1
    assert "does not exist" in result.output


def test_unknown_option_is_a_usage_error(cli: CliRunner) -> None:
    result = cli.invoke(main, ["replay", "--frobnicate"])
    assert result.exit_code == 2
    assert "No such option" in result.output


def test_bad_setting_in_the_environment_is_a_usage_error(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOUCHPOINT_PARTITIONS", "lots")
    result = cli.invoke(main, ["worker", "--broker", "kafka://127.0.0.1:1"])
    assert result.exit_code == 2
    assert "TOUCHPOINT_PARTITIONS must be a whole number" in result.output


def test_replay_prints_a_summary_and_writes_both_files(cli: CliRunner, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(
        '{"schema_version":1,"event_id":"e","occurred_at":"2026-01-05T10:00:00Z","customer_id":"c",'
        '"channel":"web","type":"visit","actor":"customer"}\nnonsense\n'
    )
    result = cli.invoke(main, ["replay", str(source), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "replayed 2 records" in result.output
    assert (tmp_path / "out/by-customer.jsonl").read_text().count("\n") == 1
    assert (tmp_path / "out/dead-letter.jsonl").read_text().count("\n") == 1


def test_replay_of_a_gzip_file_reads_its_lines_and_names_it_in_the_dead_letters(
    cli: CliRunner, tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl.gz"
    source.write_bytes(
        gzip.compress(
            b'{"schema_version":1,"event_id":"e","occurred_at":"2026-01-05T10:00:00Z","customer_id":"c",'
            b'"channel":"web","type":"visit","actor":"customer"}\nnonsense\n'
        )
    )
    result = cli.invoke(main, ["replay", str(source), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "replayed 2 records" in result.output
    assert (tmp_path / "out/by-customer.jsonl").read_text().count("\n") == 1
    (dead_letter,) = map(json.loads, (tmp_path / "out/dead-letter.jsonl").read_text().splitlines())
    assert dead_letter["source"]["topic"] == "file:in.jsonl.gz"


def test_replay_reads_the_standard_input_given_as_a_dash(cli: CliRunner, tmp_path: Path) -> None:
    source = _events(tmp_path / "events.jsonl", 40)
    plain = cli.invoke(main, ["replay", str(source), "--out", str(tmp_path / "plain")])
    assert plain.exit_code == 0, plain.output
    piped = cli.invoke(
        main, ["replay", "-", "--out", str(tmp_path / "piped")], input=gzip.compress(source.read_bytes())
    )
    assert piped.exit_code == 0, piped.output
    assert "replayed 40 records" in piped.output
    for name in ("by-customer.jsonl", "enriched.jsonl", "transitions.jsonl", "alerts.jsonl"):
        assert (tmp_path / "piped" / name).read_bytes() == (tmp_path / "plain" / name).read_bytes(), name


def test_replay_reads_a_pipe(tmp_path: Path) -> None:
    # A real pipe, as `curl … | touchpoint replay -` gives it: it cannot seek back over what was read.
    source = _events(tmp_path / "events.jsonl", 40)
    nonsense = b"nonsense\n"
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "replay", "-", "--out", str(tmp_path / "out")],
        input=gzip.compress(source.read_bytes() + nonsense),
        capture_output=True,
        check=False,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert b"replayed 41 records" in done.stdout
    (dead_letter,) = map(json.loads, (tmp_path / "out/dead-letter.jsonl").read_text().splitlines())
    assert dead_letter["source"] == {"topic": "file:-", "partition": 0, "offset": 40}


@pytest.mark.parametrize("flag", ["", "--erasures"])
def test_a_compressed_input_cut_short_is_a_one_line_error_naming_it(
    cli: CliRunner, tmp_path: Path, flag: str
) -> None:
    packed = gzip.compress(b"".join(b'{"n":%d}\n' % n for n in range(3000)))
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(packed[:20])  # within the first line: any reader meets the cut before a record
    plain = tmp_path / "in.jsonl"
    plain.write_text("")
    args = ["replay", str(cut), "--out", str(tmp_path / "out")]
    if flag:
        args = ["replay", str(plain), "--out", str(tmp_path / "out"), flag, str(cut)]
    result = cli.invoke(main, args)
    assert result.exit_code == 1
    assert _error_lines(result.output) == [f"Error: {cut}: the gzip data ends early: the file is cut short"]


def test_replay_with_one_state_in_memory_writes_the_same_files(cli: CliRunner, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(
        b"".join(line + b"\n" for line in itertools.islice(generate(SimulationSpec(customers=40)), 800))
    )
    outputs = {}
    for states in ("1", str(OBJECTS)):
        out = tmp_path / f"out-{states}"
        args = ["replay", str(source), "--out", str(out), "--processes", "1", "--states-in-memory", states]
        result = cli.invoke(main, args)
        assert result.exit_code == 0, result.output
        outputs[states] = {path.name: path.read_bytes() for path in sorted(out.iterdir())}
    assert outputs["1"] == outputs[str(OBJECTS)]
    assert outputs["1"]["enriched.jsonl"]
    assert f"(default: {OBJECTS:,})" in " ".join(cli.invoke(main, ["replay", "--help"]).output.split())
    refused = cli.invoke(
        main, ["replay", str(source), "--out", str(tmp_path / "o"), "--states-in-memory", "0"]
    )
    assert refused.exit_code == 2


def test_check_config_prints_the_effective_configuration_with_defaults(
    cli: CliRunner, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text("[lifecycle]\ndefault_gap_days = 30\n\n[currency]\nrates = { USD = 0.9 }\n")
    result = cli.invoke(main, ["check-config", str(rules)])
    assert result.exit_code == 0, result.output
    effective = json.loads(result.stdout)
    assert effective["lifecycle"]["default_gap_days"] == 30
    assert effective["lifecycle"]["lapse_window_days"] == 365, "defaults filled in"
    assert effective["currency"] == {"base": "EUR", "rates": {"USD": 0.9}}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[lifecycle]\ndefault_gap_dayz = 30\n", "lifecycle: unknown key(s): default_gap_dayz"),
        ("[lifecycle]\ndefault_gap_days = -3\n", "lifecycle.default_gap_days: must be bigger than 0"),
        ("[lifecycle\n", "not valid TOML"),
    ],
    ids=["unknown key", "bad value", "bad TOML"],
)
@pytest.mark.parametrize("command", ["check-config", "replay", "worker"])
def test_a_bad_rules_file_is_one_line_naming_the_file_the_key_and_the_problem(
    cli: CliRunner, tmp_path: Path, text: str, expected: str, command: str
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(text)
    args = {
        "check-config": ["check-config", str(rules)],
        "replay": ["replay", str(rules), "--out", str(tmp_path / "out"), "--config", str(rules)],
        "worker": ["worker", "--broker", "kafka://127.0.0.1:1", "--config", str(rules)],
    }[command]
    result = cli.invoke(main, args)
    assert result.exit_code == 1
    assert _error_lines(result.output) == [f"Error: {rules}: {expected}"] or (
        expected == "not valid TOML"
        and _error_lines(result.output)[0].startswith(f"Error: {rules}: not valid TOML")
    )


def test_check_config_reports_every_problem_at_once_one_line_each(cli: CliRunner, tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(
        "[lifecycle]\ndefault_gap_days = -3\n"
        "[alerts.cooldown_minutes]\nlong_wiat = 5\n"
        '[calendars.support]\ntimezone = "UTC"\nhours = { mon = ["09:60-17:00"] }\n'
    )
    result = cli.invoke(main, ["check-config", str(rules)])
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == "Error: 3 problems:"
    assert lines[1].startswith(
        f"  {rules}: calendars.support.hours.mon[0]: must be an opening interval HH:MM-HH:MM"
    )
    assert lines[2] == f"  {rules}: lifecycle.default_gap_days: must be bigger than 0"
    assert lines[3].startswith(f"  {rules}: alerts.cooldown_minutes.long_wiat: unknown alert type")
    assert len(lines) == 4


def test_detectors_lists_every_built_in_and_whether_the_rules_file_enables_it(
    cli: CliRunner, tmp_path: Path
) -> None:
    from agents.catalogue import DETECTORS

    rules = tmp_path / "rules.toml"
    rules.write_text("[detectors.long_wait]\nenabled = false\n")
    result = cli.invoke(main, ["detectors", "--config", str(rules)])
    assert result.exit_code == 0, result.output
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["type", "source", "enabled", "what", "it", "raises"]
    assert [row.split()[0] for row in rows] == list(DETECTORS)
    enabled = {row.split()[0]: row.split()[2] for row in rows}
    assert enabled == {kind: "no" if kind == "long_wait" else "yes" for kind in DETECTORS}
    assert all(row.split()[1] == "built-in" and len(row.split()) > 3 for row in rows)


def _few_repeat_buyers_csv(path: Path) -> Path:
    """300 customers with one or two purchases each and wildly mixed amounts: nothing for BG/NBD to pin down."""
    import random
    from datetime import date, timedelta

    rng = random.Random(0)
    lines = ["customer_id,date,amount"]
    for customer in range(300):
        day = date(2025, 1, 1) + timedelta(days=rng.randrange(200))
        for _ in range(rng.choice([1, 1, 1, 2])):
            lines.append(f"c{customer},{day.isoformat()},{rng.choice([5, 5000, 20])}")
            day += timedelta(days=rng.choice([1, 2, 100]))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_fit_refuses_a_degenerate_fit_in_one_line_writing_nothing_and_warning_nothing(
    cli: CliRunner, tmp_path: Path
) -> None:
    import warnings

    history = _few_repeat_buyers_csv(tmp_path / "history.csv")
    out = tmp_path / "params.json"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = cli.invoke(main, ["fit", str(history), "--out", str(out), "--calibration-end", "2025-09-30"])
    assert result.exit_code == 1
    [error] = _error_lines(result.output)
    assert error.startswith("Error: no parameters written: degenerate fit on 300 customers (")
    assert "ran to the edge of the search" in error
    assert "the best-customer CLV threshold is not a finite number" in error
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [history]
    assert [str(warning.message) for warning in caught] == []


def test_fit_of_a_compressed_history_names_it_in_what_it_says(cli: CliRunner, tmp_path: Path) -> None:
    plain = _few_repeat_buyers_csv(tmp_path / "history.csv")
    history = tmp_path / "history.csv.gz"
    history.write_bytes(gzip.compress(plain.read_bytes() + b"c1,not a day,5\n"))
    out = tmp_path / "params.json"
    skipped = cli.invoke(main, ["fit", str(history), "--out", str(out), "--calibration-end", "2025-09-30"])
    assert f"skipped {history}:" in skipped.output
    strict = ["fit", str(history), "--out", str(out), "--calibration-end", "2025-09-30", "--strict"]
    [error] = _error_lines(cli.invoke(main, strict).output)
    assert error.startswith(f"Error: {history}:")
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(history.read_bytes()[:20])
    refused = cli.invoke(main, ["fit", str(cut), "--out", str(out), "--calibration-end", "2025-09-30"])
    assert refused.exit_code == 1
    assert _error_lines(refused.output) == [f"Error: {cut}: the gzip data ends early: the file is cut short"]
    assert not out.exists()


def test_fit_refuses_a_calibration_end_after_the_history(cli: CliRunner, tmp_path: Path) -> None:
    history = _few_repeat_buyers_csv(tmp_path / "history.csv")
    out = tmp_path / "params.json"
    result = cli.invoke(main, ["fit", str(history), "--out", str(out), "--calibration-end", "2027-01-01"])
    assert result.exit_code == 1
    [error] = _error_lines(result.output)
    assert error.startswith("Error: calibration end 2027-01-01 is after the last purchase in the history (")
    assert not out.exists()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _events(path: Path, count: int, blank_every: int = 0) -> Path:
    lines = []
    for number in range(count):
        lines.append(
            f'{{"schema_version":1,"event_id":"e{number}","occurred_at":"2026-01-05T10:{number % 60:02d}:00+01:00",'
            f'"customer_id":"c{number % 7}","channel":"web","type":"visit","actor":"customer"}}'
        )
        if blank_every and number % blank_every == 0:
            lines.append("")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_replay_is_silent_on_stderr_when_piped_and_counts_the_blank_lines_it_skipped(
    cli: CliRunner, tmp_path: Path
) -> None:
    source = _events(tmp_path / "events.jsonl", 10, blank_every=4)
    result = cli.invoke(main, ["replay", str(source), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert "replayed 10 records" in result.stdout
    assert "  blank lines           3  (skipped, not records)" in result.stdout.splitlines()
    clean = cli.invoke(
        main, ["replay", str(_events(tmp_path / "clean.jsonl", 10)), "--out", str(tmp_path / "o")]
    )
    assert "blank lines" not in clean.stdout


@pytest.mark.parametrize(
    ("args", "labels", "stdin"),
    [
        (["replay", "{events}", "--out", "{tmp}/out"], ["reading events.jsonl", "applying touchpoints"], ""),
        (
            ["replay", "{events}.gz", "--out", "{tmp}/out"],
            ["unpacking events.jsonl.gz", "reading events.jsonl.gz", "applying touchpoints"],
            "",
        ),
        (
            ["replay", "-", "--out", "{tmp}/out"],
            ["reading standard input", "applying touchpoints"],
            "{events}.gz",
        ),
        (["simulate", "--events", "3000", "--out", "{tmp}/sim.jsonl"], ["simulating"], ""),
        (
            ["fit", "{history}", "--out", "{tmp}/p.json", "--calibration-end", "2025-09-30"],
            ["reading history.csv"],
            "",
        ),
        (
            ["fit", "-", "--out", "{tmp}/p.json", "--calibration-end", "2025-09-30"],
            ["reading standard input"],
            "{history}",
        ),
    ],
    ids=["replay", "replay compressed", "replay standard input", "simulate", "fit", "fit standard input"],
)
def test_long_commands_show_progress_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, args: list[str], labels: list[str], stdin: str
) -> None:
    import sys

    import streams.cli.progress
    import streams.replay

    events = _events(tmp_path / "events.jsonl", 50)
    (tmp_path / "events.jsonl.gz").write_bytes(gzip.compress(events.read_bytes()))
    history = _few_repeat_buyers_csv(tmp_path / "history.csv")
    terminal = _Terminal()
    monkeypatch.setattr(streams.replay, "PROGRESS_EVERY", 5)
    monkeypatch.setattr(streams.cli.progress, "interactive", lambda: True)
    monkeypatch.setattr(sys, "stderr", terminal)
    arguments = [arg.format(events=events, tmp=tmp_path, history=history) for arg in args]
    if stdin:
        piped = Path(stdin.format(events=events, history=history)).open("rb")  # noqa: SIM115 - closed below
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(piped))
    with contextlib.suppress(
        click.ClickException
    ):  # the fit itself is refused: only its progress counts here
        main.main(arguments, standalone_mode=False)
    if stdin:
        piped.close()
    shown = terminal.getvalue()
    for label in labels:
        assert f"{label}  [" in shown, shown
    assert "100%" in shown
    assert " -  [" not in shown, shown


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    found: list[tuple[tuple[str, ...], click.Command]] = [(path, group)]
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found.extend(_commands(command, (*path, name)))
        else:
            found.append(((*path, name), command))
    return found


@pytest.mark.parametrize(
    "command",
    [command for _, command in _commands(main)],
    ids=[" ".join(path) or "touchpoint" for path, _ in _commands(main)],
)
def test_every_option_of_every_command_has_help(command: click.Command) -> None:
    assert command.help, f"{command.name} has no help"
    undocumented = [
        "/".join(parameter.opts)
        for parameter in command.params
        if isinstance(parameter, click.Option) and not parameter.help
    ]
    assert undocumented == []


def test_a_worker_refuses_the_public_identity_key_unless_it_is_a_development_run(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TOUCHPOINT_IDENTITY_SALT", raising=False)
    monkeypatch.delenv("TOUCHPOINT_IDENTITY_SALT_FILE", raising=False)
    port = free_port()
    result = cli.invoke(main, ["worker", "--broker", f"kafka://127.0.0.1:{port}"])
    assert result.exit_code == 2
    assert "no identity key" in _error_lines(result.output)[0]
    # A development run goes on (to the missing broker).
    result = cli.invoke(main, ["worker", "--development", "--broker", f"kafka://127.0.0.1:{port}"])
    assert _error_lines(result.output) == [f"Error: no Kafka broker answers at 127.0.0.1:{port}"]


def test_a_worker_refuses_to_listen_beyond_loopback_without_a_token(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOUCHPOINT_IDENTITY_SALT", "k" * 32)
    monkeypatch.delenv("TOUCHPOINT_WEB_TOKEN", raising=False)
    port = free_port()
    args = ["worker", "--web-host", "0.0.0.0", "--broker", f"kafka://127.0.0.1:{port}"]
    result = cli.invoke(main, args)
    assert result.exit_code == 2
    [error] = _error_lines(result.output)
    assert "refusing to serve the worker's web server" in error
    assert "TOUCHPOINT_WEB_TOKEN" in error
    monkeypatch.setenv("TOUCHPOINT_WEB_TOKEN", "t" * 32)
    result = cli.invoke(main, args)
    assert _error_lines(result.output) == [f"Error: no Kafka broker answers at 127.0.0.1:{port}"]


def test_erase_names_one_customer_by_id_or_by_identifier_with_the_workers_key(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TOUCHPOINT_IDENTITY_SALT", raising=False)
    assert "give either CUSTOMER_ID or --identifier" in cli.invoke(main, ["erase", "--reason", "x"]).output
    result = cli.invoke(main, ["erase", "--identifier", "email=anna@example.com", "--reason", "x"])
    assert result.exit_code == 2
    assert "needs the workers' identity key" in result.output
    result = cli.invoke(main, ["erase", "--identifier", "fax=123", "--reason", "x"])
    assert "KIND one of" in result.output


def test_simulate_writes_who_made_each_event_beside_the_traffic(cli: CliRunner, tmp_path: Path) -> None:
    out, persons = tmp_path / "sim.jsonl", tmp_path / "persons.jsonl"
    result = cli.invoke(main, ["simulate", "--events", "2000", "--out", str(out), "--persons", str(persons)])
    assert result.exit_code == 0, result.output
    events = {}
    for line in out.read_bytes().splitlines():
        with contextlib.suppress(ValueError, KeyError, TypeError):
            event = json.loads(line)
            events[event["event_id"]] = event
    truth = [json.loads(line) for line in persons.read_text().splitlines()]
    assert len({row["event_id"] for row in truth}) == len(truth), "one line per event, redeliveries once"
    assert all(row["person"].startswith("person-") for row in truth)
    assert {row["event_id"] for row in truth} <= set(events)
    assert len(truth) > 1900, "every valid event has its person"
    assert all("person" not in event for event in events.values()), "the ground truth stays out of the events"


def test_a_file_a_command_cannot_write_is_one_line_naming_it(cli: CliRunner, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder" / "traffic.jsonl"
    result = cli.invoke(main, ["simulate", "--events", "10", "--out", str(missing)])
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {missing}: No such file or directory"


def test_a_full_disk_under_any_command_is_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "streams.cli",
            "simulate",
            "--events",
            "1000",
            "--out",
            str(tmp_path / "t.jsonl"),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[3],
        preexec_fn=capped_file_size(4096),
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == "Error: File too large"


@pytest.mark.parametrize(
    ("data", "reasons"),
    [
        (
            b"customer_id,date,amount\nc-1,2024-01-02,10\n",
            "not_json 2",
        ),  # a purchase history, not touchpoints
        (b'{"a":1}\r{"b":2}\r', "not_json 1"),  # lines ending in CR alone: one line
    ],
)
def test_a_replay_that_refused_every_record_warns_that_the_file_is_of_another_kind(
    cli: CliRunner, tmp_path: Path, data: bytes, reasons: str
) -> None:
    source = tmp_path / "history.csv"
    source.write_bytes(data)
    result = cli.invoke(main, ["replay", str(source), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    every = "the record" if reasons.endswith(" 1") else "all 2 records"
    assert result.stderr.splitlines() == [
        f"warning: {every} of history.csv refused ({reasons}), nothing applied: a replay reads touchpoint events "
        "as JSON, one object per line, in UTF-8, each line ending in LF"
    ]
