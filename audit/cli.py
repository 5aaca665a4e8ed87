"""``windvane audit``: serve the auditors' web application, manage accounts, export decisions.

    windvane audit serve [--store PATH] [--campaign C] [--rules DIR] [--host 127.0.0.1] [--port 8700]
                         [--proxy URL] [--qc-share F]
    windvane audit user add NAME        (password from stdin: one line, or asked twice on a terminal)
    windvane audit user passwd NAME | disable NAME | enable NAME | list
    windvane audit export decisions|approved [--run RUN] --out FILE

``add_audit_parser(sub)`` adds the ``audit`` command to windvane's subparsers; every error a user
can fix is raised as ``evidence.store.StoreError`` (a one-line message, no traceback).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import TextIO

from evidence.store import DEFAULT_STORE, Store, StoreError

ROOT = Path(__file__).resolve().parent.parent


class AuditCliError(StoreError):
    """A command-line mistake: printed as one line."""


def read_password(stdin: TextIO | None = None, *, prompt: str = "password: ") -> str:
    """The new password: asked twice (getpass) when stdin is a terminal, else stdin's first line.
    An empty password, or two that differ, is refused."""
    stdin = stdin or sys.stdin
    if stdin.isatty():
        first = getpass.getpass(prompt)
        if not first:
            raise AuditCliError("empty password refused")
        if getpass.getpass("again: ") != first:
            raise AuditCliError("the two passwords differ; nothing changed")
        return first
    line = stdin.readline()
    password = line.rstrip("\r\n")
    if not password:
        raise AuditCliError("empty password refused (give it on stdin: one line)")
    return password


def _open(args: argparse.Namespace) -> Store:
    return Store(args.store, create=False)


def cmd_serve(args: argparse.Namespace) -> int:
    from audit.app import serve

    serve(Path(args.store), host=args.host, port=args.port, rules_path=args.rules, campaign=args.campaign,
          proxy=args.proxy, qc_share=args.qc_share)
    return 0


def cmd_user(args: argparse.Namespace) -> int:
    from audit import accounts

    with _open(args) as store:
        if args.action == "list":
            for u in accounts.users(store):
                print(f"{u['name']}\t{'active' if u['active'] else 'disabled'}\t{u['created_at']}")
            return 0
        if not args.name:
            raise AuditCliError(f"audit user {args.action}: give the user NAME")
        if args.action == "add":
            accounts.check_name(args.name)
            accounts.add_user(store, args.name, read_password())
            print(f"user {args.name} added to {store.path}")
        elif args.action == "passwd":
            accounts.set_password(store, args.name, read_password())
            print(f"password of {args.name} changed")
        elif args.action in ("disable", "enable"):
            accounts.set_active(store, args.name, args.action == "enable")
            print(f"user {args.name} {args.action}d")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from audit import ledger

    out_path = Path(args.out)
    with _open(args) as store:
        campaign = store.campaign(args.campaign)["campaign"]
        if args.what == "approved":
            run_id = store.run(args.run, campaign=None if args.run else campaign)["run_id"]
        try:
            out_path.parent.mkdir(parents=True, exist_ok=True)
            with open(out_path, "w", encoding="utf-8-sig", newline="") as fh:
                if args.what == "decisions":
                    n = ledger.decisions_csv(store, campaign, fh)
                else:
                    n = ledger.approved_evidence_csv(store, campaign, run_id, fh)
        except OSError as e:
            raise AuditCliError(f"cannot write {out_path} ({e.strerror})") from None
    print(f"{out_path}: {n} {'decisions' if args.what == 'decisions' else 'approved evidence rows'}")
    return 0


def add_audit_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``audit serve | user | export`` to windvane's subcommands; returns the ``audit`` parser."""
    ap = sub.add_parser("audit", help="the auditors' web application, accounts and exports",
                        description="Review evidence in a browser (serve), manage auditor accounts (user), "
                                    "export decisions or the approved evidence of a run (export).")
    asub = ap.add_subparsers(dest="audit_command", required=True, metavar="{serve,user,export}")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--store", default=str(DEFAULT_STORE), help="the store (default: %(default)s)")

    sp = asub.add_parser("serve", help="serve the web application (waitress)")
    common(sp)
    sp.add_argument("--campaign", default=None, help="the campaign to review (default: the latest)")
    sp.add_argument("--rules", default=str(ROOT / "rules"), help="the rules folder (default: %(default)s)")
    sp.add_argument("--host", default="127.0.0.1", help="listen address (default: %(default)s)")
    sp.add_argument("--port", type=int, default=8700, help="port (default: %(default)s)")
    sp.add_argument("--proxy", default=None, metavar="URL",
                    help="fetch hand-added evidence through this HTTP proxy when archiving it")
    sp.add_argument("--qc-share", type=float, default=None, metavar="F",
                    help="share (0-1) of reviewed items sent blind to a second auditor (kept in the store)")
    sp.set_defaults(func=cmd_serve)

    up = asub.add_parser("user", help="manage auditor accounts (password read from stdin)")
    common(up)
    up.add_argument("action", choices=["add", "passwd", "disable", "enable", "list"])
    up.add_argument("name", nargs="?", default=None)
    up.set_defaults(func=cmd_user)

    ep = asub.add_parser("export", help="export all decisions, or the approved evidence of a run, as CSV")
    common(ep)
    ep.add_argument("what", choices=["decisions", "approved"])
    ep.add_argument("--campaign", default=None)
    ep.add_argument("--run", default=None, help="the scoring run (approved; default: the latest of the campaign)")
    ep.add_argument("--out", required=True, metavar="FILE")
    ep.set_defaults(func=cmd_export)
    return ap
