"""Local auditor accounts kept in the store, and the web application's session secret.

Table ``auditors(name TEXT PRIMARY KEY, password_hash TEXT, created_at TEXT, active INTEGER)``:
one row per auditor, the password hashed with argon2id (argon2-cffi's ``PasswordHasher``, its
default parameters; a hash made with older parameters is re-hashed on the next good sign-in).
Accounts are managed from the command line (``windvane audit user add NAME``); the web
application only reads them. The session secret (signs the session cookie and the CSRF tokens)
is generated once and kept in a file only its owner can read, beside the store
(``<store>.files/audit-secret.key``, mode 0600) — not in a table, because the store is meant to
be opened in Datasette, where anyone with SQL could read a table and forge sessions. A restarted
server keeps everyone signed in.
"""

from __future__ import annotations

import os
import re
import secrets
import sqlite3

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from evidence.store import Store, StoreError, now_iso

_SCHEMA = """CREATE TABLE IF NOT EXISTS auditors (
  name TEXT PRIMARY KEY, password_hash TEXT, created_at TEXT, active INTEGER)"""
SECRET_KEY_META = "audit_secret_key"
NAME_RE = re.compile(r"^[\w.@-]{1,64}$")
MIN_PASSWORD = 8

_hasher = PasswordHasher()
# verified against when the name is unknown, so a wrong name costs as much time as a wrong password
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class AccountError(StoreError):
    """An account request that cannot be done; the message says why (printed without a traceback)."""


def ensure_table(conn: sqlite3.Connection) -> None:
    conn.execute(_SCHEMA)
    conn.commit()


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not NAME_RE.match(name):
        raise AccountError(f"user name {name!r} is not usable: 1-64 letters, digits, '.', '_', '-' or '@'")
    return name


def check_password(password: str) -> str:
    if not password:
        raise AccountError("empty password refused")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password too short: at least {MIN_PASSWORD} characters")
    return password


def add_user(store: Store, name: str, password: str) -> None:
    """Create an active auditor; an existing name is refused (use ``set_password``)."""
    name, password = check_name(name), check_password(password)
    ensure_table(store.conn)
    try:
        with store.conn:
            store.conn.execute("INSERT INTO auditors (name, password_hash, created_at, active) VALUES (?, ?, ?, 1)",
                               (name, _hasher.hash(password), now_iso()))
    except sqlite3.IntegrityError:
        raise AccountError(f"user {name!r} exists already (to change the password: "
                           f"`windvane audit user passwd {name}`)") from None


def set_password(store: Store, name: str, password: str) -> None:
    """Change an existing auditor's password (and make the account active again)."""
    name, password = check_name(name), check_password(password)
    ensure_table(store.conn)
    with store.conn:
        cur = store.conn.execute("UPDATE auditors SET password_hash = ?, active = 1 WHERE name = ?",
                                 (_hasher.hash(password), name))
    if cur.rowcount == 0:
        raise AccountError(f"no user {name!r} (create it: `windvane audit user add {name}`)")


def set_active(store: Store, name: str, active: bool) -> None:
    """Disable (or re-enable) an account; a disabled auditor's sessions stop working at the next request."""
    ensure_table(store.conn)
    with store.conn:
        cur = store.conn.execute("UPDATE auditors SET active = ? WHERE name = ?", (int(active), name))
    if cur.rowcount == 0:
        raise AccountError(f"no user {name!r}")


def users(store: Store) -> list[dict]:
    ensure_table(store.conn)
    return [{"name": n, "created_at": c, "active": bool(a)} for n, c, a in
            store.conn.execute("SELECT name, created_at, active FROM auditors ORDER BY name")]


def is_active(store: Store, name: str) -> bool:
    ensure_table(store.conn)
    row = store.conn.execute("SELECT active FROM auditors WHERE name = ?", (name,)).fetchone()
    return bool(row and row[0])


def check(store: Store, name: str, password: str) -> bool:
    """True when ``name`` is an active auditor and ``password`` is theirs."""
    ensure_table(store.conn)
    row = store.conn.execute("SELECT password_hash, active FROM auditors WHERE name = ?",
                             ((name or "").strip(),)).fetchone()
    stored = row[0] if row and row[1] else _DUMMY_HASH
    try:
        _hasher.verify(stored, password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    if not (row and row[1]):
        return False
    if _hasher.check_needs_rehash(stored):
        with store.conn:
            store.conn.execute("UPDATE auditors SET password_hash = ? WHERE name = ?",
                               (_hasher.hash(password), name.strip()))
    return True


SECRET_FILE = "audit-secret.key"


def secret_key(store: Store) -> str:
    """The session secret, from ``<store>.files/audit-secret.key`` (created on first use with mode
    0600; concurrent first uses agree: the file is created exclusively). A secret an older version
    kept in ``meta`` moves into the file and leaves the table."""
    path = store.files_dir / SECRET_FILE
    store.files_dir.mkdir(parents=True, exist_ok=True)
    old = store.conn.execute("SELECT value FROM meta WHERE key = ?", (SECRET_KEY_META,)).fetchone()
    if not path.exists():
        value = old[0] if old else secrets.token_hex(32)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(value)
    if old:
        with store.conn:
            store.conn.execute("DELETE FROM meta WHERE key = ?", (SECRET_KEY_META,))
    try:
        value = path.read_text().strip()
    except OSError as e:
        raise StoreError(f"{path}: cannot read the audit session secret ({e.strerror})") from None
    if len(value) < 32:
        raise StoreError(f"{path}: the audit session secret is damaged; delete the file to make a new one "
                         "(everyone signs in again)")
    return value
