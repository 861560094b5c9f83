"""Who may open the app and which calls they see.

Logins live in the database (`analyzer users add`). With none configured the app is single-user:
it serves only this computer and says so. With logins, everyone signs in (password, hashed with
Argon2id, or the deployment's OIDC provider through Streamlit's `st.login`) and their role decides
which calls every query covers:

- rep: the calls where they are the rep;
- manager: the calls of their team's reps (`analyzer users team TEAM REP...`);
- cs_lead and admin: every call. Only admins and managers may edit trackers.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from analyzer.errors import InputError
from analyzer.store import EVERYTHING, Scope, Store

ROLES = ("rep", "manager", "cs_lead", "admin")
ROLE_LABELS = {"rep": "Rep", "manager": "Manager", "cs_lead": "CS lead", "admin": "Admin"}
MIN_PASSWORD_LENGTH = 10
MAX_FAILURES = 5  # wrong passwords in a row before a login is paused
PAUSE_S = 60.0

_hasher = PasswordHasher()  # Argon2id with the library's (RFC 9106 low-memory) parameters
# Checked when the username is unknown, so a wrong name costs as long as a wrong password.
_NOBODY = _hasher.hash("no such user")


@dataclass(frozen=True)
class User:
    username: str
    role: str
    rep: str | None = None
    team: str | None = None

    @property
    def can_edit_trackers(self) -> bool:
        return self.role in ("admin", "manager")

    @property
    def label(self) -> str:
        detail = self.rep if self.role == "rep" else self.team if self.role == "manager" else None
        return f"{ROLE_LABELS[self.role]}" + (f" · {detail}" if detail else "")


# Whoever uses the app when no logins are configured: one person, on this computer.
LOCAL_USER = User("local", "admin")


def normalize(username: str) -> str:
    return username.strip().lower()


def validate_user(role: str, rep: str | None, team: str | None) -> None:
    """Raise InputError when a login's role lacks what it needs to scope its calls."""
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    if role == "rep" and not rep:
        raise InputError("a rep login needs --rep, the rep's name as it appears on calls")
    if role == "manager" and not team:
        raise InputError("a manager login needs --team")


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(f"passwords need at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def add_user(
    store: Store,
    username: str,
    role: str,
    *,
    rep: str | None = None,
    team: str | None = None,
    password: str | None = None,
) -> User:
    """Add or replace a login. Without a password the user can sign in only through OIDC, as
    the email address they log in with."""
    username = normalize(username)
    if not username:
        raise InputError("a username is needed")
    validate_user(role, rep, team)
    hashed = hash_password(password) if password is not None else None
    store.save_user(username, role, rep, team, hashed)
    return User(username, role, rep, team)


@dataclass(frozen=True)
class Directory:
    """Every login and team as one read found them; the app reads it again whenever the
    database changes, so a removed login or a new team member applies at the next click."""

    users: dict[str, User]
    teams: dict[str, str]  # rep -> team

    @classmethod
    def read(cls, store: Store) -> Directory:
        users, teams = store.logins()
        return cls(
            {row["username"]: User(**row) for row in users},
            {row["rep"]: row["team"] for row in teams},
        )

    @property
    def configured(self) -> bool:
        """Whether the app requires a login."""
        return bool(self.users)

    def find(self, username: str) -> User | None:
        return self.users.get(normalize(username))

    def team(self, name: str | None) -> tuple[str, ...]:
        """The reps in team `name`, by name."""
        return tuple(sorted(rep for rep, team in self.teams.items() if team == name))

    def scope_for(self, user: User) -> Scope:
        """The calls `user` may see."""
        if user.role == "rep":
            return Scope(reps=(user.rep,) if user.rep else ())
        if user.role == "manager":
            return Scope(reps=self.team(user.team))
        return EVERYTHING


def check_password(store: Store, username: str, password: str) -> User | None:
    """The user when `password` is theirs, else None (unknown names take as long)."""
    row = store.user(normalize(username))
    try:
        if row is None or row["password_hash"] is None:
            _hasher.verify(_NOBODY, password + "\0")
            return None
        _hasher.verify(row["password_hash"], password)
    except (VerificationError, InvalidHashError):
        return None
    return User(row["username"], row["role"], row["rep"], row["team"])


class Throttle:
    """Pauses a username after MAX_FAILURES wrong passwords in a row, for PAUSE_S seconds."""

    def __init__(self, max_failures: int = MAX_FAILURES, pause_s: float = PAUSE_S):
        self.max_failures = max_failures
        self.pause_s = pause_s
        self._failures: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def wait_s(self, username: str) -> float:
        """Seconds before `username` may try again (0 when it may now)."""
        with self._lock:
            count, last = self._failures.get(normalize(username), (0, 0.0))
        if count < self.max_failures:
            return 0.0
        return max(0.0, last + self.pause_s - time.monotonic())

    def failed(self, username: str) -> None:
        with self._lock:
            key = normalize(username)
            count, _ = self._failures.get(key, (0, 0.0))
            self._failures[key] = (count + 1, time.monotonic())

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(normalize(username), None)
