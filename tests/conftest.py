"""Shared test helpers: paths, the CLI as a subprocess, free ports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WINDVANE = str(BIN / "windvane")


def run_cli(*args: str, timeout: float = 600, check: bool = False, env: dict | None = None,
            cwd: str | Path | None = None) -> subprocess.CompletedProcess:
    """Run the real `windvane` console script; returns the completed process (text mode)."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run([WINDVANE, *args], capture_output=True, text=True, timeout=timeout,
                          env=full_env, cwd=cwd or ROOT)
    if check and proc.returncode != 0:
        raise AssertionError(f"windvane {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture(scope="session")
def rs():
    """The project's rules (rules/), loaded once."""
    from extractors.rules import load_rules
    return load_rules(ROOT / "rules")


@pytest.fixture(scope="session")
def registry():
    """The default registry (data/registry.csv), loaded once."""
    from evidence.registry import load_registry
    return load_registry()


FULL_CAMPAIGN = "full"


@pytest.fixture(scope="session")
def full_campaign(tmp_path_factory) -> dict:
    """The whole demo campaign, once per test session: every site of the registry crawled through
    the simulated web with every fault on, then extracted and scored (run ``r1``)."""
    from evidence.registry import DEFAULT_REGISTRY, load_registry
    from simweb.server import SimWebProcess
    from windvane.truth import load_truth

    tmp = tmp_path_factory.mktemp("full")
    store = tmp / "store.db"
    truth = tmp / "truth.json"
    requests = tmp / "requests.jsonl"  # the simulated web's own log: what politeness is checked on
    with SimWebProcess(str(DEFAULT_REGISTRY), seed=2023, truth_path=str(truth), faults="full",
                       request_log=str(requests)) as web:
        run_cli("crawl", "--proxy", web.proxy_url, "--ca-bundle", web.ca_path, "--store", str(store), "--campaign", FULL_CAMPAIGN,
                "--as-of", "2023-10-31", "--delay", "0", "--quiet", check=True, timeout=1800)
    run_cli("extract", "--store", str(store), check=True, timeout=1200)
    run_cli("score", "--store", str(store), "--run", "r1", check=True)
    return {"store": store, "truth": load_truth(truth), "campaign": FULL_CAMPAIGN,
            "sites": [s.site_id for s in load_registry().sites], "requests": requests}


def rule_member(match: dict, kind: str) -> dict:
    """The ``kind`` matcher of a rule's ``match``: itself, or a member of its ``all``/``any``."""
    if kind in match:
        return match[kind]
    for group in ("all", "any"):
        for m in match.get(group, ()):
            if kind in m:
                return m[kind]
    raise KeyError(kind)
