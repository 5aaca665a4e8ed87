"""`windvane datasette`: open the evidence store in Datasette, with metadata and full-text search.

Builds (or refreshes) the trigram index over page text (evidence/fulltext.py), writes the metadata of
audit/datasette.yaml keyed by the store's database name, and runs ``python -m datasette serve`` on
the store until Ctrl-C. docs/datasette.md describes the canned queries and the search.

Run it without the windvane command line as ``python -m audit.datasette_cmd --store data/windvane.db``.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import yaml

from evidence.fulltext import MIN_INDEXED, build_fulltext, has_fulltext
from evidence.store import DEFAULT_STORE, Store, StoreError

ROOT = Path(__file__).resolve().parent.parent
METADATA = ROOT / "audit" / "datasette.yaml"
DEFAULT_PORT = 8701
# page text cells are long: cut them in HTML tables (JSON keeps them whole); 2-character searches scan;
# facet suggestions try every column of every table view (2 s on the pages of a 31,000-page store):
# off, the metadata names the useful facets instead
SETTINGS = {"sql_time_limit_ms": 5000, "truncate_cells_html": 300, "facet_time_limit_ms": 1000,
            "suggest_facets": "off", "default_page_size": 50}


def add_datasette_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``datasette`` subcommand to an argparse subparsers object; returns its parser."""
    sp = sub.add_parser("datasette", help="browse the store in Datasette (metadata, canned queries, Chinese full-text search)",
                        description="Build the full-text index of the store's pages, then serve the store "
                                    "with Datasette and windvane's metadata (docs/datasette.md).")
    sp.add_argument("--store", default=str(DEFAULT_STORE), help="SQLite store file (default: %(default)s)")
    sp.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    sp.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default: %(default)s)")
    sp.add_argument("--metadata", default=str(METADATA), help="Datasette metadata YAML/JSON (default: %(default)s)")
    sp.add_argument("--index-only", action="store_true",
                    help="build or refresh the full-text index and exit, without serving")
    sp.add_argument("--no-index", action="store_true",
                    help="serve without touching the index (e.g. while a crawl writes the store)")
    sp.add_argument("--open", action="store_true", help="open the browser once the server is up")
    sp.set_defaults(func=cmd_datasette)
    return sp


def metadata_for(store: Path, metadata_path: Path = METADATA) -> dict:
    """The metadata of ``metadata_path`` with its (single) database block keyed by ``store``'s name."""
    try:
        meta = yaml.safe_load(metadata_path.read_text(encoding="utf-8")) or {}
    except OSError as e:
        raise StoreError(f"{metadata_path}: cannot read Datasette metadata ({e.strerror})") from None
    except yaml.YAMLError as e:
        raise StoreError(f"{metadata_path}: not valid YAML ({str(e).splitlines()[0]})") from None
    dbs = meta.get("databases") or {}
    if len(dbs) == 1:
        meta["databases"] = {store.stem: next(iter(dbs.values()))}
    return meta


# --- the pages table's search box and 2-character words ---------------------------------------
# Datasette's own search (?_search=) is an FTS MATCH, which a trigram index answers only for words of
# 3+ characters: 数据 would silently give 0 rows. A small plugin (written to a temporary plugins folder
# by cmd_datasette) moves each shorter word of ?_search= on the pages table into ?_contains=, a filter
# of title/url/text with LIKE; longer words stay in the index search.
PLUGIN_SOURCE = '''"""windvane: 2-character words in the pages table's search box (audit/datasette_cmd.py)."""
from datasette import hookimpl
from datasette.filters import FilterArguments

from audit.datasette_cmd import contains_filter, hide_secrets, short_words_app


@hookimpl
def prepare_connection(conn, database, datasette):
    hide_secrets(conn)


@hookimpl
def asgi_wrapper(datasette):
    return short_words_app


@hookimpl(trylast=True)   # last: its search text (all words) is the one the search box shows
def filters_from_request(request, database, table, datasette):
    found = contains_filter(table, request.args.getlist("_contains"), request.args.get("_search"))
    return FilterArguments(*found) if found else None
'''
SEARCHED_TABLE = "pages"
_TABLE_PATH = re.compile(rf"^/[^/]+/{SEARCHED_TABLE}(\.[a-z]+)?$")


def split_search(query: str) -> tuple[str, list[str]]:
    """``(words for the index, words too short for it)`` of a search box query."""
    if '"' in query:
        return query, []       # FTS syntax typed on purpose: left to Datasette
    words = query.split()
    return " ".join(w for w in words if len(w) >= MIN_INDEXED), [w for w in words if len(w) < MIN_INDEXED]


def short_words_app(app):
    """ASGI middleware: on the pages table, move ``_search`` words shorter than 3 characters to ``_contains``."""
    async def wrapped(scope, receive, send):
        if scope.get("type") == "http" and _TABLE_PATH.match(scope.get("path", "")):
            args = parse_qsl(scope.get("query_string", b"").decode("utf-8", "replace"), keep_blank_values=True)
            keys = {k for k, _ in args}
            search = next((v for k, v in args if k == "_search"), None)
            indexed, short = split_search(search or "")
            # the table page's form (it always sends _filter_column) carries the last search's _contains as
            # hidden fields: the search box, which shows every word, replaces them
            fresh = "_filter_column" in keys and "_contains" in keys
            if short or fresh:
                args = [(k, v) for k, v in args if k != "_search" and not (fresh and k == "_contains")]
                args += [("_search", indexed)] if indexed else []
                args += [("_contains", w) for w in short]
                scope = {**scope, "query_string": urlencode(args).encode("ascii")}
        await app(scope, receive, send)
    return wrapped


def contains_filter(table: str, words: list[str], search: str | None) -> tuple | None:
    """Datasette filter arguments for ``?_contains=`` on the pages table: every word in title, url or text."""
    if table != SEARCHED_TABLE or not words:
        return None
    clauses, params, human = [], {}, []
    for i, w in enumerate(words):
        like = "%" + w.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        either = " or ".join(f"{c} like :contains_{i} escape '\\'" for c in ("title", "url", "text"))
        clauses.append(f"({either})")
        params[f"contains_{i}"] = like
        human.append(f'title, url or text contains "{w}"')
    return clauses, params, human, {"search": " ".join(filter(None, [search, *words]))}


# --- secrets the store holds for the audit app -----------------------------------------------------
# Datasette serves every table, and lets anyone who reaches it run SQL: the auditors' password hashes
# (audit/accounts.py) read as NULL through an SQLite authorizer on each of its connections, whatever the
# query (table view, canned query, arbitrary SQL). So does meta.value when an older store still keeps
# the audit app's session secret there (the cmd checks, and says so in HIDE_ENV).
HIDDEN_COLUMNS = {("auditors", "password_hash")}
HIDE_ENV = "WINDVANE_DATASETTE_HIDE"     # extra table.column pairs, comma-separated


def hidden_columns() -> set[tuple[str, str]]:
    extra = {tuple(p.split(".", 1)) for p in os.environ.get(HIDE_ENV, "").split(",") if "." in p}
    return HIDDEN_COLUMNS | extra


def hide_secrets(conn: sqlite3.Connection) -> None:
    """Make the hidden columns read as NULL on this connection (SQLITE_IGNORE on reading them)."""
    hidden = hidden_columns()

    def authorizer(action: int, arg1: str | None, arg2: str | None, db: str | None, source: str | None) -> int:
        if action == sqlite3.SQLITE_READ and (arg1, arg2) in hidden:
            return sqlite3.SQLITE_IGNORE
        return sqlite3.SQLITE_OK

    conn.set_authorizer(authorizer)


def _old_secret_in_meta(path: Path) -> bool:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT 1 FROM meta WHERE key = 'audit_secret_key'").fetchone() is not None
    except sqlite3.Error:
        return False
    finally:
        conn.close()


def _port_problem(host: str, port: int) -> str | None:
    """Why Datasette could not listen on host:port (None: it can), as the one line to print."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        return f"cannot listen on {host}:{port}: unknown host ({e.strerror}); use --host 127.0.0.1"
    family, _, _, _, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # as uvicorn does
        try:
            s.bind(addr)
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                return (f"port {port} on {host} is already in use (another Datasette or server?); "
                        f"pick a free one with --port {port + 1}, or stop the other server")
            if e.errno == errno.EACCES:
                return f"no permission to listen on port {port}; use a port above 1023 (--port {DEFAULT_PORT})"
            return f"cannot listen on {host}:{port} ({e.strerror}); use --host 127.0.0.1"
    return None


def datasette_command(store: Path, meta_file: Path, host: str, port: int, *, plugins_dir: Path | None = None,
                      open_browser: bool = False) -> list[str]:
    """The ``python -m datasette serve`` command line for the store."""
    cmd = [sys.executable, "-m", "datasette", "serve", str(store), "-m", str(meta_file),
           "--host", host, "--port", str(port)]
    if plugins_dir:
        cmd += ["--plugins-dir", str(plugins_dir)]
    for name, value in SETTINGS.items():
        cmd += ["--setting", name, str(value)]
    if open_browser:
        cmd.append("--open")
    return cmd


def index_store(path: Path) -> dict:
    """Open the store (it must exist) and build or refresh its full-text index."""
    store = Store(path, create=False)
    try:
        return build_fulltext(store.conn)
    except sqlite3.OperationalError as e:
        hint = "; SQLite 3.34+ is needed (trigram)" if "tokenizer" in str(e) else \
            "; a crawl may be writing it: retry, or serve with --no-index"
        raise StoreError(f"{path}: cannot build the full-text index ({e}){hint}") from None
    finally:
        store.close()


def _has_index(path: Path) -> bool:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return has_fulltext(conn)
    finally:
        conn.close()


def cmd_datasette(args: argparse.Namespace) -> int:
    """Build the full-text index, then serve the store with Datasette until interrupted."""
    path = Path(args.store)
    if path.is_dir():
        raise StoreError(f"{path}: is a directory, not a store file")
    if not path.exists():
        raise StoreError(f"{path}: no store here (run `windvane crawl --store {path}` first)")
    if not getattr(args, "no_index", False):
        info = index_store(path)
        what = f"built ({info['reason']})" if info["built"] else "up to date"
        print(f"full-text index of {info['pages']} pages {what} in {info['seconds']:.1f}s", file=sys.stderr)
    elif not _has_index(path):
        print(f"windvane datasette: warning: {path} has no full-text index yet, so search_text and the pages "
              f"search box fail; build it with `windvane datasette --index-only --store {path}`", file=sys.stderr)
    if getattr(args, "index_only", False):
        return 0
    meta = metadata_for(path, Path(getattr(args, "metadata", None) or METADATA))
    problem = _port_problem(args.host, args.port)
    if problem:
        print(f"windvane datasette: error: {problem}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="windvane-datasette-") as tmp:
        meta_file = Path(tmp) / "metadata.json"
        meta_file.write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
        plugins = Path(tmp) / "plugins"
        plugins.mkdir()
        (plugins / "windvane_short_words.py").write_text(PLUGIN_SOURCE, encoding="utf-8")
        cmd = datasette_command(path, meta_file, args.host, args.port, plugins_dir=plugins,
                                open_browser=getattr(args, "open", False))
        # the plugin imports audit.datasette_cmd: make this checkout importable whatever the cwd
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        if _old_secret_in_meta(path):
            env[HIDE_ENV] = "meta.value"
            print("windvane datasette: note: this store still keeps the audit app's session secret in meta; "
                  "meta.value reads as NULL here (the next `windvane audit` moves the secret out)", file=sys.stderr)
        print(f"Datasette on http://{args.host}:{args.port}/{path.stem} (Ctrl-C stops)", file=sys.stderr, flush=True)
        proc = subprocess.Popen(cmd, env=env)
        # a SIGTERM (kill, systemd, a test's cleanup) stops Datasette too, as Ctrl-C does
        main_thread = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _interrupt) if main_thread else None
        try:
            return proc.wait()
        except KeyboardInterrupt:
            return 0
        finally:
            if main_thread:
                signal.signal(signal.SIGTERM, previous)
            _stop(proc)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="windvane")
    add_datasette_parser(p.add_subparsers(dest="command", required=True))
    args = p.parse_args(["datasette", *(sys.argv[1:] if argv is None else argv)])
    try:
        return args.func(args)
    except StoreError as e:
        print(f"windvane datasette: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
