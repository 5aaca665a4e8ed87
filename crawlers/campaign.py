"""A campaign keeps the settings it started with: resuming with other ones is refused unless forced.

The settings that decide *what* a campaign collects are fixed when it starts and recorded in its
``campaigns`` row: the registry (``registry_csv``, a snapshot of the file's contents, and
``registry_path``), the document cut-off ``as_of``, and in ``config`` the crawl options
``depth``, ``max_pages``, ``obey_robots``, ``browser`` and ``max_attachments``. How the web is
reached (``--proxy``, ``--ca-bundle``), how fast (``--delay``, ``--concurrency``, ``--timeout``,
``--browser-tabs``) and which sites one run takes (``--site``) may change from run to run.

``windvane crawl --campaign NAME`` with none of these options resumes with the campaign's own
settings, its registry snapshot included (no ``--registry`` needed). An option given with another
value than the campaign's is named, old → new, in one line, and the crawl is refused unless
``--force``; forced, the run uses the new values, the campaign row keeps the ones it started
with, and the change is appended to the row's ``notes``. A registry file at another path with
the same contents is the same registry.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from evidence.registry import Registry, load_registry, parse_registry
from evidence.store import Store, now_iso

# config key: (option named in messages, value of a new campaign when the option is not given)
KEPT: dict[str, tuple[str, Any]] = {
    "depth": ("--depth", 4),
    "max_pages": ("--max-pages", 400),
    "obey_robots": ("robots.txt obeyed", True),
    "browser": ("--browser", "auto"),
    "max_attachments": ("--max-attachments", 300),
}


class SettingsChanged(Exception):
    """Resuming would change the campaign's settings; the message is one line naming each."""


@dataclass
class CampaignSettings:
    """The settings a crawl run uses, and what differs from the campaign's own (empty: none)."""

    registry: Registry
    as_of: str | None
    options: dict[str, Any]
    changed: list[str] = field(default_factory=list)
    resumed: bool = False


def _registry_label(text: str, path: str | None) -> str:
    n = max(0, len([line for line in text.splitlines() if line.strip()]) - 1)
    return f"{path or 'registry'} ({n} rows, sha256 {hashlib.sha256(text.encode('utf-8')).hexdigest()[:12]})"


def campaign_settings(store: Store, campaign: str, *, registry_path: str | None, as_of: str | None,
                      options: dict[str, Any], force: bool = False) -> CampaignSettings:
    """The settings of this run of ``campaign``: those given (``None``: not given) over the campaign's own.

    A new campaign takes what is given, else the defaults (``KEPT``, the default registry). An
    existing one takes its own for what is not given; what is given and differs raises
    ``SettingsChanged`` naming every difference, unless ``force`` (then ``changed`` lists them).
    """
    row = store.campaign(campaign, missing_ok=True)
    if row is None:
        reg = load_registry(registry_path) if registry_path else load_registry()
        opts = {k: (options.get(k) if options.get(k) is not None else default) for k, (_n, default) in KEPT.items()}
        return CampaignSettings(reg, as_of, opts)
    stored = json.loads(row.get("config") or "{}")
    changed: list[str] = []
    if registry_path:
        reg = load_registry(registry_path)
        if reg.text != row["registry_csv"]:
            changed.append(f"registry {_registry_label(row['registry_csv'] or '', row['registry_path'])} → "
                           f"{_registry_label(reg.text, str(registry_path))}")
    else:
        reg = parse_registry(row["registry_csv"], row["registry_path"])
    if as_of is not None and as_of != row.get("as_of"):
        changed.append(f"as-of {row.get('as_of') or '(none)'} → {as_of}")
    opts: dict[str, Any] = {}
    for key, (name, default) in KEPT.items():
        old = stored.get(key, default)
        new = options.get(key)
        if new is not None and key in stored and new != old:
            changed.append(f"{name} {_show(old)} → {_show(new)}")
        opts[key] = new if new is not None else old
    if changed and not force:
        raise SettingsChanged(
            f"campaign {campaign!r} was started with other settings: {'; '.join(changed)}. Resume it with its "
            f"own (leave these options out), crawl into another --campaign, or pass --force to crawl with the new "
            f"ones (the campaign keeps the settings it started with)")
    return CampaignSettings(reg, as_of if as_of is not None else row.get("as_of"), opts, changed, resumed=True)


def _show(v: Any) -> str:
    return {True: "yes", False: "no"}.get(v, str(v)) if isinstance(v, bool) else str(v)


def note_forced(store: Store, campaign: str, changed: list[str]) -> None:
    """Append a forced change of settings to the campaign's ``notes`` (the row's settings stay)."""
    row = store.campaign(campaign)
    line = f"{now_iso()} resumed with --force: {'; '.join(changed)}"
    notes = f"{row['notes']}\n{line}" if row.get("notes") else line
    store.conn.execute("UPDATE campaigns SET notes=? WHERE campaign=?", [notes, campaign])
    store.conn.commit()
