"""The yearly campaign: the job (``windvane campaign-run``) and its schedule (``windvane schedule``).

``run_campaign`` chains crawl → extract → score → report for one campaign (named by the year it
runs in, ``crawl-YYYY``, unless given), each step a ``windvane`` subprocess whose output goes to
``<store dir>/logs/windvane-<campaign>.log``; at the end it writes
``<store dir>/logs/windvane-<campaign>-summary.txt`` (coverage, failures, the sites that need a
person, where the report is) and prints it. Rerunning it resumes the crawl (``windvane crawl`` is
resumable) and scores again.

``install`` puts that job on a yearly schedule (default 1 August, 02:00):

* systemd, when it runs here (``/run/systemd/system`` exists and ``systemctl`` answers): a
  ``windvane-campaign.service`` + ``.timer`` pair (``OnCalendar=*-08-01 02:00:00``,
  ``Persistent=true``: a run missed while the machine was off happens at the next boot),
  system-wide in /etc/systemd/system when root, else the user's (``systemctl --user``);
  ``unit_dir`` writes the units to a folder of one's choice and leaves systemctl alone;
* cron otherwise: one line ``0 2 1 8 * … # windvane-schedule`` in the user's crontab (installed
  through ``crontab -l`` / ``crontab -``; other lines are kept, a reinstall replaces the line).

Arguments are escaped for where they land: ``%`` is ``%%`` in a unit (a specifier) and ``\\%`` in a
crontab (cron turns a bare ``%`` into a newline); ``$`` is ``$$`` in a unit.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UNIT = "windvane-campaign"
CRON_MARK = "# windvane-schedule"


class ScheduleError(Exception):
    """A schedule problem the user can fix (no permission, no scheduler, a bad date); one line."""


# --- the job ------------------------------------------------------------------------------
def default_campaign(today: date | None = None) -> str:
    return f"crawl-{(today or date.today()).year}"


def log_paths(store: str | Path, campaign: str) -> tuple[Path, Path]:
    """The job's log and summary file: ``<store dir>/logs/windvane-<campaign>.log`` / ``-summary.txt``."""
    logs = Path(store).resolve().parent / "logs"
    return logs / f"windvane-{campaign}.log", logs / f"windvane-{campaign}-summary.txt"


def _windvane() -> list[str]:
    return [sys.executable, "-m", "windvane.cli"]


def run_campaign(store: str, registry: str, campaign: str | None = None, proxy: str | None = None,
                 ca_bundle: str | None = None, crawl_args: list[str] | None = None) -> tuple[int, Path]:
    """Crawl, extract, score and report one campaign; returns (exit code, summary file).

    Stops at the first step that fails (exit code of that step); the summary says which.
    ``crawl_args``: more ``windvane crawl`` options (``--delay 0``, ``--max-pages N`` ...).
    """
    campaign = campaign or default_campaign()
    store, registry = str(Path(store).resolve()), str(Path(registry).resolve())  # the steps run in ROOT
    ca_bundle = str(Path(ca_bundle).resolve()) if ca_bundle else None
    log_path, summary_path = log_paths(store, campaign)
    try:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.touch()
    except OSError as e:
        raise ScheduleError(f"cannot write the log {log_path}: {e.strerror or e}") from None
    common = ["--store", store, "--campaign", campaign]
    crawl = [*_windvane(), "crawl", "--registry", registry, *common, "--json", *(crawl_args or [])]
    if proxy:
        crawl += ["--proxy", proxy]
    if ca_bundle:
        crawl += ["--ca-bundle", ca_bundle]
    steps = [("crawl", crawl), ("extract", [*_windvane(), "extract", *common]),
             ("score", [*_windvane(), "score", *common]), ("report", [*_windvane(), "report", *common])]
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    done: list[str] = []
    outputs: dict[str, str] = {}
    rc = 0
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(f"\n=== windvane campaign {campaign}: started {started} ===\n")
        for name, cmd in steps:
            log.write(f"--- {name}: {shlex.join(cmd)}\n")
            log.flush()
            t0 = time.monotonic()
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=log, text=True, cwd=ROOT, env=env)
            log.write(proc.stdout)
            outputs[name] = proc.stdout
            done.append(f"{name}: {'ok' if proc.returncode == 0 else f'failed (exit code {proc.returncode})'}, "
                        f"{time.monotonic() - t0:.0f}s")
            if proc.returncode != 0:
                rc = proc.returncode
                break
        summary = format_summary(campaign, started, done, outputs, log_path)
        log.write(summary)
    summary_path.write_text(summary, encoding="utf-8")
    return rc, summary_path


def format_summary(campaign: str, started: str, steps: list[str], outputs: dict[str, str], log_path: Path) -> str:
    """The completion summary: steps, coverage, failures, the sites that need a person, the report."""
    lines = [f"windvane campaign {campaign}", f"started: {started}", f"finished: {time.strftime('%Y-%m-%d %H:%M:%S')}",
             *[f"step {s}" for s in steps]]
    try:
        crawl = json.loads((outputs.get("crawl") or "").strip().splitlines()[-1])
    except (ValueError, IndexError):
        crawl = None
    if isinstance(crawl, dict):
        status = crawl.get("site_status", {})
        total = crawl.get("sites", 0) + crawl.get("skipped_done", 0)
        done = status.get("done", 0) + crawl.get("skipped_done", 0)
        lines += [f"coverage: {done}/{total} sites done ({', '.join(f'{k} {v}' for k, v in status.items()) or '-'}), "
                  f"{crawl.get('pages', 0)} pages",
                  f"failures: {crawl.get('failures', 0)} failed fetches, {crawl.get('robots_blocked', 0)} robots-disallowed"]
        people = crawl.get("need_a_person", [])
        lines.append(f"sites needing a person: {len(people)}")
        lines += [f"  {p}" for p in people]
    lines += [f"report: {ln.split(':', 1)[1].strip()}" for ln in (outputs.get("report") or "").splitlines()
              if ln.startswith("report report.html:")]
    lines.append(f"log: {log_path}")
    return "\n".join(lines) + "\n"


# --- the schedule -------------------------------------------------------------------------
@dataclass
class When:
    month: int = 8
    day: int = 1
    hour: int = 2
    minute: int = 0

    @classmethod
    def parse(cls, on: str = "08-01", at: str = "02:00") -> When:
        m1 = re.fullmatch(r"(\d{1,2})-(\d{1,2})", on.strip())
        m2 = re.fullmatch(r"(\d{1,2}):(\d{2})", at.strip())
        if not m1:
            raise ScheduleError(f"--on {on!r}: expected MM-DD, e.g. 08-01")
        if not m2:
            raise ScheduleError(f"--at {at!r}: expected HH:MM, e.g. 02:00")
        w = cls(int(m1[1]), int(m1[2]), int(m2[1]), int(m2[2]))
        try:
            date(2024, w.month, w.day)  # a leap year: 02-29 is a date
        except ValueError:
            raise ScheduleError(f"--on {on!r}: not a day of the year") from None
        if w.hour > 23 or w.minute > 59:
            raise ScheduleError(f"--at {at!r}: not a time of day")
        return w

    def calendar(self) -> str:
        return f"*-{self.month:02d}-{self.day:02d} {self.hour:02d}:{self.minute:02d}:00"

    def cron(self) -> str:
        return f"{self.minute} {self.hour} {self.day} {self.month} *"


def job_command(store: str, registry: str, proxy: str | None = None, ca_bundle: str | None = None) -> list[str]:
    """The command the schedule runs (absolute paths: a timer or cron starts in another folder)."""
    exe = Path(sys.executable).parent / "windvane"
    cmd = [str(exe)] if exe.exists() else _windvane()
    cmd += ["campaign-run", "--store", str(Path(store).resolve()), "--registry", str(Path(registry).resolve())]
    if proxy:
        cmd += ["--proxy", proxy]
    if ca_bundle:
        cmd += ["--ca-bundle", str(Path(ca_bundle).resolve())]
    return cmd


def systemd_quote(arg: str) -> str:
    """One ExecStart argument: ``%`` → ``%%`` (specifiers), ``$`` → ``$$``, quoted when it has to be."""
    arg = arg.replace("%", "%%").replace("$", "$$")
    if arg and not re.search(r"[\s\"'\\;]", arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def cron_quote(arg: str) -> str:
    """One argument of a crontab command: shell-quoted, then ``%`` → ``\\%`` (cron's newline)."""
    return shlex.quote(arg).replace("%", "\\%")


def units(when: When, cmd: list[str]) -> dict[str, str]:
    """The .service and .timer files, by file name."""
    exec_start = " ".join(systemd_quote(a) for a in cmd)
    service = f"""[Unit]
Description=windvane yearly campaign: crawl, extract, score, report
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
WorkingDirectory={str(ROOT).replace("%", "%%")}
ExecStart={exec_start}
# a campaign crawls for hours; the log and summary are under the store's logs/ folder
TimeoutStartSec=infinity
Nice=10
"""
    timer = f"""[Unit]
Description=windvane yearly campaign ({when.month:02d}-{when.day:02d} {when.hour:02d}:{when.minute:02d})

[Timer]
OnCalendar={when.calendar()}
Persistent=true
Unit={UNIT}.service

[Install]
WantedBy=timers.target
"""
    return {f"{UNIT}.service": service, f"{UNIT}.timer": timer}


def cron_line(when: When, cmd: list[str]) -> str:
    return f"{when.cron()} cd {cron_quote(str(ROOT))} && {' '.join(cron_quote(a) for a in cmd)} {CRON_MARK}"


def _answers(cmd: list[str]) -> bool:
    try:
        return subprocess.run(cmd, capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def detect(via: str = "auto") -> str:
    """``system`` (root, systemd), ``user`` (systemctl --user), or ``cron``."""
    if via == "cron":
        return "cron"
    systemd = Path("/run/systemd/system").is_dir() and shutil.which("systemctl") is not None
    if systemd and os.geteuid() == 0 and _answers(["systemctl", "show-environment"]):
        return "system"
    if systemd and _answers(["systemctl", "--user", "show-environment"]):
        return "user"
    if via == "systemd":
        raise ScheduleError("systemd is not running here (no /run/systemd/system, or systemctl does not answer); "
                            "use --via cron, or --unit-dir DIR to write the units somewhere")
    return "cron"


def unit_dir_for(mode: str) -> Path:
    if mode == "system":
        return Path("/etc/systemd/system")
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "systemd" / "user"


def _systemctl(mode: str, *args: str) -> None:
    cmd = ["systemctl", *(["--user"] if mode == "user" else []), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        msg = (proc.stderr or proc.stdout).strip().splitlines()
        raise ScheduleError(f"`{shlex.join(cmd)}` failed: {msg[-1] if msg else f'exit code {proc.returncode}'}")


def _crontab_read() -> list[str]:
    if shutil.which("crontab") is None:
        raise ScheduleError("neither systemd nor crontab is available here; run `windvane campaign-run` "
                            "from whatever scheduler this machine has")
    proc = subprocess.run(["crontab", "-l"], capture_output=True, text=True)
    if proc.returncode != 0:  # "no crontab for USER" is an empty table; anything else is an error
        if "no crontab" in (proc.stderr or "").lower():
            return []
        raise ScheduleError(f"`crontab -l` failed: {(proc.stderr or '').strip() or proc.returncode}")
    return proc.stdout.splitlines()


def _crontab_write(lines: list[str]) -> None:
    proc = subprocess.run(["crontab", "-"], input="\n".join(lines) + "\n" if lines else "", capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise ScheduleError(f"`crontab -` failed: {(proc.stderr or '').strip() or proc.returncode}")


def install(when: When, store: str, registry: str, *, proxy: str | None = None, ca_bundle: str | None = None,
            via: str = "auto", unit_dir: str | None = None, dry_run: bool = False) -> str:
    """Install (or replace) the yearly schedule; returns what to print."""
    cmd = job_command(store, registry, proxy, ca_bundle)
    mode = "dir" if unit_dir else detect(via)
    if mode == "cron":
        line = cron_line(when, cmd)
        if dry_run:
            return f"would add to the crontab of {_user()}:\n{line}"
        kept = [ln for ln in _crontab_read() if CRON_MARK not in ln]
        _crontab_write([*kept, line])
        return (f"schedule: installed in the crontab of {_user()} ({when.cron()}: every year on "
                f"{when.month:02d}-{when.day:02d} at {when.hour:02d}:{when.minute:02d}):\n{line}\n"
                f"logs: {log_paths(store, default_campaign())[0].parent}/")
    files = units(when, cmd)
    folder = Path(unit_dir) if unit_dir else unit_dir_for(mode)
    if dry_run:
        return "\n".join(f"would write {folder / name}:\n{text}" for name, text in files.items())
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (folder / name).write_text(text, encoding="utf-8")
    except OSError as e:
        raise ScheduleError(f"cannot write the units to {folder}: {e.strerror or e}") from None
    out = [f"schedule: wrote {folder / (UNIT + '.service')} and {folder / (UNIT + '.timer')} "
           f"(OnCalendar={when.calendar()}, Persistent=true)"]
    if mode == "dir":
        out.append(f"systemctl was not called; to enable: systemctl daemon-reload && systemctl enable --now {UNIT}.timer")
    else:
        _systemctl(mode, "daemon-reload")
        _systemctl(mode, "enable", "--now", f"{UNIT}.timer")
        out.append(f"enabled {UNIT}.timer ({'system-wide' if mode == 'system' else 'systemctl --user'})")
        if mode == "user":  # a user's manager stops at logout unless lingering is on
            out.append(f"note: a --user timer fires only while {_user()} is logged in, unless "
                       f"`loginctl enable-linger {_user()}` (or install as root for a system-wide timer)")
    out.append(f"logs: {log_paths(store, default_campaign())[0].parent}/")
    return "\n".join(out)


def _user() -> str:
    import getpass
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def _installed_dirs(via: str, unit_dir: str | None) -> list[tuple[str, Path]]:
    if unit_dir:
        return [("dir", Path(unit_dir))]
    if via == "cron":
        return []
    return [(m, unit_dir_for(m)) for m in ("system", "user") if (unit_dir_for(m) / f"{UNIT}.timer").exists()]


def show(via: str = "auto", unit_dir: str | None = None) -> str:
    """What is installed: the units (and systemctl's view of the timer) or the crontab line."""
    out: list[str] = []
    for mode, folder in _installed_dirs(via, unit_dir):
        for name in (f"{UNIT}.timer", f"{UNIT}.service"):
            p = folder / name
            if p.exists():
                out.append(f"# {p}\n{p.read_text(encoding='utf-8').rstrip()}")
        if mode != "dir" and shutil.which("systemctl"):
            proc = subprocess.run(["systemctl", *(["--user"] if mode == "user" else []), "list-timers", "--all",
                                   f"{UNIT}.timer"], capture_output=True, text=True)
            if proc.returncode == 0 and proc.stdout.strip():
                out.append(proc.stdout.rstrip())
    if not unit_dir and via != "systemd" and shutil.which("crontab"):
        lines = [ln for ln in _crontab_read() if CRON_MARK in ln]
        if lines:
            out.append(f"# crontab of {_user()}\n" + "\n".join(lines))
    return "\n".join(out) if out else "schedule: no windvane schedule is installed"


def remove(via: str = "auto", unit_dir: str | None = None) -> str:
    """Remove the timer and service (disabled first) and the crontab line, wherever installed."""
    out: list[str] = []
    for mode, folder in _installed_dirs(via, unit_dir):
        if mode != "dir" and shutil.which("systemctl"):
            _systemctl(mode, "disable", "--now", f"{UNIT}.timer")
        for name in (f"{UNIT}.timer", f"{UNIT}.service"):
            p = folder / name
            if p.exists():
                try:
                    p.unlink()
                except OSError as e:
                    raise ScheduleError(f"cannot remove {p}: {e.strerror or e}") from None
                out.append(f"schedule: removed {p}")
        if mode != "dir" and shutil.which("systemctl"):
            _systemctl(mode, "daemon-reload")
    if not unit_dir and via != "systemd" and shutil.which("crontab"):
        lines = _crontab_read()
        kept = [ln for ln in lines if CRON_MARK not in ln]
        if len(kept) != len(lines):
            _crontab_write(kept)
            out.append(f"schedule: removed {len(lines) - len(kept)} line(s) from the crontab of {_user()}")
    return "\n".join(out) if out else "schedule: nothing to remove (no windvane schedule is installed)"
