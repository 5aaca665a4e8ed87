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
