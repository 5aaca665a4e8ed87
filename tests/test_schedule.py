"""`windvane schedule` (systemd units in a folder of the test's; a crontab behind a stand-in `crontab`
command that keeps the table in a file) and `windvane campaign-run`, the job it installs."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.conftest import run_cli
from windvane.cli import main


class Result:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


@pytest.fixture
def wv(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch):
    """`windvane ARGS...` in this process (the schedule commands start no crawl), with ``env`` set."""

    def run(*args: str, env: dict[str, str] | None = None, check: bool = False) -> Result:
        with monkeypatch.context() as m:
            for k, v in (env or {}).items():
                m.setenv(k, v)
            capsys.readouterr()
            rc = main(list(args))
            out, err = capsys.readouterr()
        assert not check or rc == 0, (args, out, err)
        return Result(rc, out, err)

    return run

FAKE_CRONTAB = """#!/bin/sh
# the interface of crontab(1) that windvane uses: -l prints the table, - replaces it from stdin
case "$1" in
  -l) if [ -f "$FAKE_CRONTAB_FILE" ]; then cat "$FAKE_CRONTAB_FILE"; else echo "no crontab for tester" >&2; exit 1; fi ;;
  -) cat > "$FAKE_CRONTAB_FILE" ;;
  *) echo "usage: crontab [-l | -]" >&2; exit 1 ;;
esac
"""


def test_systemd_units_install_show_remove(wv, tmp_path: Path) -> None:
    units = tmp_path / "units"
    store = tmp_path / "odd 100%$name" / "store.db"
    r = wv("schedule", "install", "--unit-dir", str(units), "--store", str(store), "--proxy", "http://127.0.0.1:9",
                check=True)
    assert "systemctl was not called" in r.stdout
    timer = (units / "windvane-campaign.timer").read_text(encoding="utf-8")
    service = (units / "windvane-campaign.service").read_text(encoding="utf-8")
    assert "OnCalendar=*-08-01 02:00:00" in timer and "Persistent=true" in timer
    assert "WantedBy=timers.target" in timer and "Unit=windvane-campaign.service" in timer
    exec_start = next(ln for ln in service.splitlines() if ln.startswith("ExecStart="))
    assert "campaign-run" in exec_start and "--proxy http://127.0.0.1:9" in exec_start
    # % is a specifier and $ a variable in a unit: both doubled, the path with a space quoted
    assert f'"{tmp_path}/odd 100%%$$name/store.db"' in exec_start
    assert "Type=oneshot" in service
    # another day and time replaces the units
    wv("schedule", "install", "--unit-dir", str(units), "--on", "09-15", "--at", "23:05", check=True)
    assert "OnCalendar=*-09-15 23:05:00" in (units / "windvane-campaign.timer").read_text(encoding="utf-8")
    shown = wv("schedule", "show", "--unit-dir", str(units), check=True).stdout
    assert "OnCalendar=*-09-15 23:05:00" in shown and "ExecStart=" in shown
    removed = wv("schedule", "remove", "--unit-dir", str(units), check=True).stdout
    assert removed.count("removed") == 2 and not list(units.iterdir())
    assert "no windvane schedule" in wv("schedule", "show", "--unit-dir", str(units), check=True).stdout


def test_dry_run_prints_and_installs_nothing(wv, tmp_path: Path) -> None:
    units = tmp_path / "units"
    r = wv("schedule", "install", "--unit-dir", str(units), "--dry-run", check=True)
    assert "OnCalendar=*-08-01 02:00:00" in r.stdout and not units.exists()
    r = wv("schedule", "--via", "cron", "--dry-run", "--store", str(tmp_path / "a%b.db"), check=True)
    line = r.stdout.strip().splitlines()[-1]
    assert line.startswith("0 2 1 8 * ") and line.endswith("# windvane-schedule")
    assert "a\\%b.db" in line and line.count("%") == line.count("\\%")  # cron: a bare % is a newline


@pytest.fixture
def fake_crontab(tmp_path: Path) -> tuple[dict[str, str], Path]:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    exe = bindir / "crontab"
    exe.write_text(FAKE_CRONTAB, encoding="utf-8")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    table = tmp_path / "table"
    return {"PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}", "FAKE_CRONTAB_FILE": str(table)}, table


def test_crontab_round_trip_keeps_other_lines(wv, tmp_path: Path, fake_crontab: tuple[dict[str, str], Path]) -> None:
    env, table = fake_crontab
    others = ["MAILTO=ops@example.org", "5 4 * * * /usr/local/bin/backup --all"]
    table.write_text("\n".join(others) + "\n", encoding="utf-8")
    store = tmp_path / "x%y" / "store.db"
    for _ in range(2):  # installing twice leaves one line
        r = wv("schedule", "install", "--via", "cron", "--store", str(store), env=env, check=True)
        assert "installed in the crontab" in r.stdout
    lines = table.read_text(encoding="utf-8").splitlines()
    ours = [ln for ln in lines if ln.endswith("# windvane-schedule")]
    assert len(ours) == 1 and lines[:2] == others
    assert ours[0].startswith("0 2 1 8 * cd ") and "campaign-run" in ours[0] and "x\\%y" in ours[0]
    wv("schedule", "install", "--via", "cron", "--on", "07-31", "--at", "21:45", env=env, check=True)
    ours = [ln for ln in table.read_text(encoding="utf-8").splitlines() if "windvane" in ln]
    assert len(ours) == 1 and ours[0].startswith("45 21 31 7 * ")
    assert ours[0] in wv("schedule", "show", "--via", "cron", env=env, check=True).stdout
    assert "removed 1 line" in wv("schedule", "remove", "--via", "cron", env=env, check=True).stdout
    assert table.read_text(encoding="utf-8").splitlines() == others
    assert "nothing to remove" in wv("schedule", "remove", "--via", "cron", env=env, check=True).stdout


def test_crontab_from_scratch(wv, fake_crontab: tuple[dict[str, str], Path]) -> None:
    env, table = fake_crontab  # no table yet: `crontab -l` says "no crontab for ..."
    wv("schedule", "install", "--via", "cron", env=env, check=True)
    assert len(table.read_text(encoding="utf-8").splitlines()) == 1


def test_errors_are_one_line(wv, tmp_path: Path) -> None:
    empty = tmp_path / "nothing"
    empty.mkdir()
    cases = [(["schedule", "install", "--via", "cron"], {"PATH": str(empty)}, "neither systemd nor crontab"),
             (["schedule", "install", "--on", "02-30", "--dry-run"], None, "not a day of the year"),
             (["schedule", "install", "--at", "2am", "--dry-run"], None, "expected HH:MM")]
    if not Path("/run/systemd/system").is_dir():
        cases.append((["schedule", "install", "--via", "systemd"], None, "systemd is not running here"))
    blocked = tmp_path / "ro"
    blocked.write_text("a file, not a folder", encoding="utf-8")
    cases.append((["schedule", "install", "--unit-dir", str(blocked / "units")], None, "cannot write the units"))
    cases.append((["campaign-run", "--store", str(blocked / "store.db")], None, "cannot write the log"))
    for args, env, message in cases:
        r = wv(*args, env=env)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert message in r.stderr and "Traceback" not in r.stderr


@pytest.mark.slow
def test_campaign_run_end_to_end(tmp_path: Path) -> None:
    """The job the schedule runs: crawl two generated sites, extract, score, report, log and summary."""
    from simweb.server import SimWebProcess
    reg = tmp_path / "registry.csv"
    store = tmp_path / "store.db"
    with SimWebProcess(str(reg), sites=2) as web:
        r = run_cli("campaign-run", "--registry", str(reg), "--store", str(store), "--campaign", "crawl-test",
                    "--proxy", web.proxy_url, "--crawl-arg=--delay", "--crawl-arg=0", "--crawl-arg=--max-pages",
                    "--crawl-arg=8", check=True)
    summary = (tmp_path / "logs" / "windvane-crawl-test-summary.txt").read_text(encoding="utf-8")
    assert summary in r.stdout
    for step in ("crawl", "extract", "score", "report"):
        assert f"step {step}: ok" in summary
    assert "coverage: 2/2 sites done" in summary and "sites needing a person: 0" in summary
    report = next(ln.split(": ", 1)[1] for ln in summary.splitlines() if ln.startswith("report: "))
    assert Path(report).is_file()
    log = (tmp_path / "logs" / "windvane-crawl-test.log").read_text(encoding="utf-8")
    assert "--- crawl:" in log and "--- report:" in log


def test_systemd_user_mode_calls_systemctl(wv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where systemd runs (detected as the user's manager here): the units go to the user's unit folder and
    systemctl --user reloads, enables and starts the timer; remove disables it first."""
    from windvane import schedule
    bindir = tmp_path / "bin"
    bindir.mkdir()
    calls = tmp_path / "calls"
    exe = bindir / "systemctl"
    exe.write_text(f'#!/bin/sh\necho "$@" >> {calls}\ncase "$*" in *list-timers*) echo "NEXT LEFT UNIT";; esac\n',
                   encoding="utf-8")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    units = tmp_path / "user-units"
    monkeypatch.setattr(schedule, "detect", lambda via="auto": "user")
    monkeypatch.setattr(schedule, "unit_dir_for", lambda mode: units if mode == "user" else tmp_path / "system-units")
    env = {"PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}
    out = wv("schedule", "install", env=env, check=True).stdout
    assert "enabled windvane-campaign.timer (systemctl --user)" in out and "enable-linger" in out
    assert (units / "windvane-campaign.timer").exists()
    assert calls.read_text().splitlines() == ["--user daemon-reload", "--user enable --now windvane-campaign.timer"]
    assert "NEXT LEFT UNIT" in wv("schedule", "show", "--via", "systemd", env=env, check=True).stdout
    wv("schedule", "remove", "--via", "systemd", env=env, check=True)
    assert calls.read_text().splitlines()[2:] == ["--user list-timers --all windvane-campaign.timer",
                                                  "--user disable --now windvane-campaign.timer", "--user daemon-reload"]
    assert not list(units.iterdir())
