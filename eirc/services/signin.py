"""Sign-in (SPEC §4, §11): login by phone or confirmed e-mail, the lockout, sessions, password change.

The rules, and why (docs/signin.md has the long version):

- A login is a phone number in any spelling people type, or an e-mail (it contains «@»). A login that
  is neither, an unknown login, a user without a password and a wrong password all answer
  ``INVALID_CREDENTIALS`` with the same text after exactly one argon2 verification (against a dummy hash
  when there is no stored one), so neither the answer nor its timing tells whether the person exists.
- Every attempt is counted *before* the password is verified: one atomic statement reserves an attempt
  on the subject's counter unless it is locked. A subject is the user (so the phone and the e-mail share
  one counter) or, for an unknown login, the normalized login string (so an unknown login locks exactly
  like a known one). After ``EIRC_LOGIN_MAX_FAILURES`` consecutive failures the subject is locked for
  ``EIRC_LOGIN_LOCKOUT_SECONDS`` (``LOGIN_LOCKED``, even for the right password). Because the attempt is
  reserved before the slow hash, concurrent requests — several processes, or several aliased fields —
  can never get more passwords checked than the attempts left. A success clears the counters; time
  alone does not (failures are consecutive until a success), only the end of a lock starts a new round.
- NIST SP 800-63B's ceiling of 100 consecutive failures per account: each lock adds its round of failures
  to a second counter; when one more round would pass ``MAX_CONSECUTIVE_FAILURES``, the lock becomes a
  suspension (``LOGIN_LOCKED`` with its own text) that time does not lift — a password reset by SMS or
  `eirc users unlock` does.
- Per client address, at most ``EIRC_LOGIN_PER_CLIENT_PER_MINUTE`` attempts (``RATE_LIMITED``), counted
  before anything else: one source can neither walk through many accounts nor lock many residents out.
- All counters live in the database (`counter` table), so the limits hold across gateway processes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Boolean,
    Connection,
    Integer,
    String,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session as OrmSession

from eirc.domain import texts
from eirc.domain.email import parse_email
from eirc.domain.errors import DomainError, DomainErrors, ErrorCode
from eirc.domain.password import check_password, normalize_password
from eirc.domain.phone import mask_phone, parse_phone
from eirc.security import token_digest
from eirc.services import sessions
from eirc.services.profile import ProfileView, load_profile, profile_for_user
from eirc.storage.db import UnitOfWork
from eirc.storage.driver import Driver, DriverStatement, driver_connection, sa_driver
from eirc.storage.tables import Counter, Session, User
from eirc.storage.types import UTCDateTime

if TYPE_CHECKING:
    from eirc.bootstrap import Container

log = logging.getLogger("eirc.signin")

# NIST SP 800-63B §5.2.2: no more than 100 consecutive failed attempts on one account.
MAX_CONSECUTIVE_FAILURES = 100
# Failures are consecutive until a success: the counters keep them this long (a row's life, for purging).
MEMORY_SECONDS = 365 * 86400
# A suspension is a lock that time does not lift in practice; a success path (SMS reset, support) does.
SUSPENSION_SECONDS = 100 * 365 * 86400
# «мы отправили повторное письмо»: at most one confirmation letter per this many seconds.
EMAIL_RESEND_SECONDS = 300
CLIENT_WINDOW_SECONDS = 60

_counter = Counter.__table__  # type: ignore[attr-defined]
# The counters' statements are synchronous code on the driver interface (storage.driver): the sign-in runs
# them in its worker thread on a pooled DB-API connection of the blocking engine; units of work run them
# with `AsyncSession.run_sync` (a Session, through `sa_driver`).
Executor = Connection | OrmSession | Driver


# --- logins and subjects -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ParsedLogin:
    kind: str  # phone | email | invalid
    value: str  # normalized phone / e-mail, or the stripped, lower-cased text


def parse_login(raw: str) -> ParsedLogin:
    """A phone in any accepted spelling, or an e-mail when it contains «@»; otherwise `invalid`."""
    text = raw.strip()
    try:
        if "@" in text:
            return ParsedLogin("email", parse_email(text, "login"))
        return ParsedLogin("phone", parse_phone(text))
    except DomainError:
        return ParsedLogin("invalid", text.lower())


def user_subject(user_id: str) -> str:
    return f"u:{user_id}"


def login_subject(c: Container, login: ParsedLogin) -> str:
    # Keyed by an HMAC so the counter table holds no phone numbers or e-mails of strangers.
    return "l:" + c.secrets.mac("login-subject", login.kind, login.value)[:40]


def fail_key(subject: str) -> str:
    return f"login:fail:{subject}"


def streak_key(subject: str) -> str:
    return f"login:streak:{subject}"


def client_key(client_ip: str) -> str:
    return f"login:client:{client_ip}"


async def find_user_by_login(tx: UnitOfWork, login: ParsedLogin) -> User | None:
    if login.kind == "phone":
        stmt = select(User).where(User.phone == login.value)
    elif login.kind == "email":
        stmt = select(User).where(User.email == login.value)
    else:
        return None
    return (await tx.session.execute(stmt)).scalar_one_or_none()


# --- the attempt counters --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Attempt:
    subject: str
    count: int  # consecutive attempts of the subject since its last success or lock, this one included


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


# One statement for the subject's and the client's counters. Plain SQL that SQLite (≥ 3.35) and PostgreSQL
# both accept: SQLAlchemy does not cache the compiled form of a multi-row upsert, and this runs on every
# attempt. A key that is locked keeps its values; an expired one (the client's window, or a lock that ended —
# its `expires_at` is the end of the lock) starts afresh; otherwise the count goes up by one.
_RESERVE_SET = """
ON CONFLICT ("key") DO UPDATE SET
  "count" = CASE WHEN counter.locked_until IS NOT NULL AND counter.locked_until > :now THEN counter."count"
                 WHEN counter.expires_at <= :now THEN 1 ELSE counter."count" + 1 END,
  expires_at = CASE WHEN counter.locked_until IS NOT NULL AND counter.locked_until > :now THEN counter.expires_at
                    WHEN counter.expires_at <= :now THEN excluded.expires_at ELSE counter.expires_at END,
  locked_until = CASE WHEN counter.locked_until IS NOT NULL AND counter.locked_until > :now
                      THEN counter.locked_until ELSE NULL END
RETURNING "key", "count", locked_until
"""
_RESERVE_TYPES = {"now": UTCDateTime(), "subject_expires": UTCDateTime(), "client_expires": UTCDateTime()}
_RESERVE_COLUMNS = {"key": String(), "count": Integer(), "locked_until": UTCDateTime()}
# Constant SQL text only; every value is a bound parameter.
_RESERVE_SUBJECT = DriverStatement(
    text(
        'INSERT INTO counter ("key", "count", expires_at) VALUES (:subject, 1, :subject_expires)'  # noqa: S608
        + _RESERVE_SET
    )
    .bindparams(*(bindparam(k, type_=t) for k, t in _RESERVE_TYPES.items() if k != "client_expires"))
    .columns(**_RESERVE_COLUMNS)
)
_RESERVE_BOTH = DriverStatement(
    text(
        'INSERT INTO counter ("key", "count", expires_at) VALUES (:client, 1, :client_expires), '  # noqa: S608
        "(:subject, 1, :subject_expires)" + _RESERVE_SET
    )
    .bindparams(*(bindparam(k, type_=t) for k, t in _RESERVE_TYPES.items()))
    .columns(**_RESERVE_COLUMNS)
)


def _reserve(
    db: Executor, *, subject_key: str, client: str | None, now: datetime
) -> dict[str, tuple[int, datetime | None]]:
    """Count one attempt on the subject's key (unless it is locked) and on the client's key — one atomic
    statement for both. Returns {key: (count, locked_until)}.

    The client's key is never locked, so for it this is a plain fixed-window counter. With several rows
    the client's comes first, so concurrent attempts always lock rows in the same order.
    """
    params: dict[str, object] = {
        "now": now,
        "subject": subject_key,
        "subject_expires": now + timedelta(seconds=MEMORY_SECONDS),
    }
    stmt = _RESERVE_SUBJECT
    if client is not None:
        params.update(client=client, client_expires=now + timedelta(seconds=CLIENT_WINDOW_SECONDS))
        stmt = _RESERVE_BOTH
    rows = sa_driver(db).rows(stmt, params)
    return {key: (count, until) for key, count, until in rows}


def _is_suspension(locked_until: datetime, now: datetime) -> bool:
    return locked_until - now > timedelta(seconds=SUSPENSION_SECONDS // 2)


def count_attempt(
    db: Executor, c: Container, *, subject: str, client_ip: str | None
) -> Attempt | DomainError:
    """Count one password attempt for `subject` and the client: the attempt, or the refusal to answer
    without verifying anything (the caller commits, so the client's count stays counted).

    A client over its limit *raises* ``RATE_LIMITED``, so the caller's transaction rolls back and the
    subject's counter is untouched: throttled attempts cannot lock anyone out. The client's own count is
    rolled back too, which changes nothing — every further attempt in the window finds it over the limit.
    """
    now = c.clock.now()
    client = client_key(client_ip) if client_ip else None
    counts = _reserve(db, subject_key=fail_key(subject), client=client, now=now)
    client_count = counts[client][0] if client is not None else None
    count, locked_until = counts[fail_key(subject)]
    return _judge(c, subject, client_ip, client_count, count, locked_until, now)


def _judge(
    c: Container,
    subject: str,
    client_ip: str | None,
    client_count: int | None,
    count: int | None,
    locked_until: datetime | None,
    now: datetime,
) -> Attempt | DomainError:
    """The attempt, or the refusal, from the counters as reserved (`count` is None when the client was
    over its limit and the subject's counter was left alone)."""
    s = c.settings
    if client_count is not None and client_count > s.login_per_client_per_minute:
        log.info(
            "sign-in refused: client %s over %s attempts a minute", client_ip, s.login_per_client_per_minute
        )
        raise DomainError(ErrorCode.RATE_LIMITED, None)
    assert count is not None
    if locked_until is not None and locked_until > now:
        suspended = _is_suspension(locked_until, now)
        return DomainError(ErrorCode.LOGIN_LOCKED, None, message=texts.LOGIN_SUSPENDED if suspended else None)
    if count > s.login_max_failures:  # the attempts left are being checked by concurrent requests
        return DomainError(ErrorCode.LOGIN_LOCKED, None)
    return Attempt(subject=subject, count=count)


async def begin_attempt(tx: UnitOfWork, c: Container, *, subject: str, client_ip: str | None) -> Attempt:
    """`count_attempt` in a unit of work: commits (unless rate-limited), and raises the refusal if any."""
    outcome = await tx.session.run_sync(count_attempt, c, subject=subject, client_ip=client_ip)
    await tx.commit()
    if isinstance(outcome, DomainError):
        raise outcome
    return outcome


# One more round of failures on the subject's consecutive-failures counter (an upsert both dialects accept).
_ADD_STREAK = DriverStatement(
    text(
        'INSERT INTO counter ("key", "count", expires_at) VALUES (:key, :count, :expires) '
        'ON CONFLICT ("key") DO UPDATE SET "count" = counter."count" + excluded."count" RETURNING "count"'
    )
    .bindparams(bindparam("expires", type_=UTCDateTime()))
    .columns(count=Integer())
)
_LOCK = DriverStatement(
    update(_counter)
    .where(_counter.c.key == bindparam("fail"))
    .values(locked_until=bindparam("until", type_=UTCDateTime()), expires_at=bindparam("until"))
)
_DELETE_FAILURES = delete(_counter).where(_counter.c.key.in_([bindparam("fail"), bindparam("streak")]))
_CLEAR = DriverStatement(_DELETE_FAILURES)


def attempt_failed(db: Executor, c: Container, attempt: Attempt) -> None:
    """The attempt was counted already; lock the subject when it was the last one allowed.

    Each lock adds its failures to the subject's consecutive-failures counter; when one more round would
    pass NIST's ceiling, the lock becomes a suspension that only a success path lifts (SMS reset, support).
    """
    s = c.settings
    if attempt.count < s.login_max_failures:
        return
    now = c.clock.now()
    driver = sa_driver(db)
    expires = now + timedelta(seconds=MEMORY_SECONDS)
    (streak,) = driver.rows(
        _ADD_STREAK, {"key": streak_key(attempt.subject), "count": attempt.count, "expires": expires}
    )[0]
    if streak + s.login_max_failures > MAX_CONSECUTIVE_FAILURES:
        until = now + timedelta(seconds=SUSPENSION_SECONDS)
        log.warning(
            "password sign-in suspended for %s: %s consecutive failures", attempt.subject[:10], streak
        )
    else:
        until = now + timedelta(seconds=s.login_lockout_seconds)
        log.info("sign-in locked for %s until %s", attempt.subject[:10], until.isoformat())
    driver.rows(_LOCK, {"fail": fail_key(attempt.subject), "until": until})


def clear_failures(db: Executor, subject: str) -> None:
    sa_driver(db).rows(_CLEAR, {"fail": fail_key(subject), "streak": streak_key(subject)})


async def clear_user_lockout(tx: UnitOfWork, user_id: str) -> None:
    """Lift the user's lock and forget their failures (a success, a password reset, support)."""
    await tx.session.run_sync(clear_failures, user_subject(user_id))


@dataclass(frozen=True)
class LockState:
    failed_attempts: int  # since the last success or the end of the last lock
    consecutive_failures: int  # since the last success, across locks
    locked_until: datetime | None
    suspended: bool


async def lock_state(tx: UnitOfWork, c: Container, subject: str) -> LockState:
    now = c.clock.now()
    t = _counter.c
    rows = {
        r.key: r
        for r in (
            await tx.session.execute(
                select(t.key, t.count, t.expires_at, t.locked_until).where(
                    t.key.in_([fail_key(subject), streak_key(subject)])
                )
            )
        ).all()
    }
    fail = rows.get(fail_key(subject))
    streak = rows.get(streak_key(subject))
    failed = fail.count if fail is not None and _aware(fail.expires_at) > now else 0
    locked_until = _aware(fail.locked_until) if fail is not None else None
    if locked_until is not None and locked_until <= now:
        locked_until = None
    closed = streak.count if streak is not None and _aware(streak.expires_at) > now else 0
    return LockState(
        failed_attempts=failed,
        consecutive_failures=closed + (failed if locked_until is None else 0),
        locked_until=locked_until,
        suspended=locked_until is not None and _is_suspension(locked_until, now),
    )


# --- login ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SignedIn:
    user_id: str
    session: sessions.IssuedSession
    profile: ProfileView | None  # None when not asked for (`with_profile=False`)


def _required(login: str | None, password: str | None) -> None:
    missing = []
    if not (login or "").strip():
        missing.append(DomainError(ErrorCode.REQUIRED, "login"))
    if not password:
        missing.append(DomainError(ErrorCode.REQUIRED, "password"))
    if len(missing) == 1:
        raise missing[0]
    if missing:
        raise DomainErrors(missing)


async def login(
    c: Container,
    *,
    login: str | None,
    password: str | None,
    client_ip: str | None = None,
    user_agent: str | None = None,
    with_profile: bool = True,
) -> SignedIn:
    """Sign in by phone or confirmed e-mail: a new session, or a DomainError (see the module's rules).

    `with_profile=False` skips loading the profile (the client did not ask for it).
    """
    _required(login, password)
    assert login is not None and password is not None
    parsed = parse_login(login)
    # The attempt, the hash and the session are one piece of blocking work in a worker thread: one hop
    # from the loop for the whole sign-in instead of one per statement (its latency is the hash plus a few
    # statements on a synchronous connection). The hash itself runs in the hashing pool.
    outcome = await c.uow.run_blocking(
        _login_blocking, c, parsed, normalize_password(password), client_ip, user_agent
    )
    if isinstance(outcome, _Unconfirmed):
        async with c.uow() as tx:
            sent = await _resend_confirmation(tx, c, user_id=outcome.user_id, now=c.clock.now())
            await tx.commit()
        log.info("sign-in by an unconfirmed e-mail (user %s); letter re-sent: %s", outcome.user_id, sent)
        raise DomainError(ErrorCode.EMAIL_NOT_CONFIRMED, "login")
    profile = await profile_for_user(c.uow, outcome.user_id) if with_profile else None
    log.info(
        "signed in: user %s by %s",
        outcome.user_id,
        parsed.kind if parsed.kind != "phone" else mask_phone(parsed.value),
    )
    return SignedIn(user_id=outcome.user_id, session=outcome.session, profile=profile)


@dataclass(frozen=True)
class _Unconfirmed:
    """The right password for an unconfirmed e-mail: the letter is re-sent on the loop (a unit of work)."""

    user_id: str


@dataclass(frozen=True)
class _Issued:
    user_id: str
    session: sessions.IssuedSession


def _login_blocking(
    c: Container, parsed: ParsedLogin, password: str, client_ip: str | None, user_agent: str | None
) -> _Issued | _Unconfirmed:
    """The sign-in in a worker thread, on one pooled connection of the blocking engine: count the attempt
    (committed before the hash), verify (in the hashing pool), then either record the failure or clear
    the failures and open the session. Statements on the driver (storage.driver): after the hash the CPU
    caches are cold, and every layer between the code and the driver would cost more than the statement."""
    with driver_connection(c.uow.blocking, c.uow.listeners) as db:
        if db.dialect == "postgresql" and parsed.kind in _BEGIN_PG:
            user, attempt = _begin_in_one_statement(db, c, parsed, client_ip)
        else:
            with db.transaction():
                user = _user_row(db, parsed)
                subject = user_subject(user.id) if user is not None else login_subject(c, parsed)
                attempt = count_attempt(db, c, subject=subject, client_ip=client_ip)
        if isinstance(attempt, DomainError):
            raise attempt

        subject = attempt.subject
        stored = user.password_hash if user is not None else None
        ok = c.hasher.verify_in_pool(stored, password)
        if not ok or user is None:
            if attempt.count >= c.settings.login_max_failures:
                with db.transaction():
                    attempt_failed(db, c, attempt)
            raise DomainError(ErrorCode.INVALID_CREDENTIALS, None)
        if parsed.kind == "email" and not user.email_confirmed:
            clear_failures(db, subject)
            return _Unconfirmed(user.id)
        new_hash = c.hasher.hash_in_pool(password) if c.hasher.needs_rehash(stored or "") else None
        issued, values = sessions.new_session(
            user_id=user.id,
            now=c.clock.now(),
            ttl_seconds=c.settings.session_ttl_seconds,
            client_ip=client_ip,
            user_agent=user_agent,
        )
        if new_hash:
            db.rows(_SET_HASH, {"uid": user.id, "hash": new_hash})
        if db.dialect == "postgresql":  # one round trip: the session and the failures cleared together
            db.rows(
                _SESSION_AND_CLEAR_PG, {**values, "fail": fail_key(subject), "streak": streak_key(subject)}
            )
        else:
            # Each statement commits by itself: the session first, then the failures cleared — were the
            # second lost, the resident would only have had a failure counted that a success should clear.
            db.rows(_INSERT_SESSION, values)
            clear_failures(db, subject)
    return _Issued(user_id=user.id, session=issued)


_USER_COLUMNS = select(User.id, User.password_hash, User.email_confirmed)
_USER_BY = {
    "phone": DriverStatement(_USER_COLUMNS.where(User.phone == bindparam("login"))),
    "email": DriverStatement(_USER_COLUMNS.where(User.email == bindparam("login"))),
}
_SESSION_COLUMNS = ("id", "user_id", "created_at", "expires_at", "last_used_at", "client_ip", "user_agent")
_SESSION_TABLE = Session.__table__  # type: ignore[attr-defined]
_SESSION_INSERT = insert(_SESSION_TABLE).values(  # the values of sessions.new_session
    {name: bindparam(name, type_=_SESSION_TABLE.c[name].type) for name in _SESSION_COLUMNS}
)
_INSERT_SESSION = DriverStatement(_SESSION_INSERT)
_SET_HASH = DriverStatement(
    update(User).where(User.id == bindparam("uid")).values(password_hash=bindparam("hash"))
)


# PostgreSQL: the attempt before the hash in one statement and one round trip, in autocommit — the user
# looked up, the client's counter counted, and the subject's counter reserved only when the client is within
# its limit (so a throttled attempt cannot lock anyone out). What the transaction of the general path does in
# four round trips (BEGIN, SELECT, upsert, COMMIT). The client's row is written first, as there. A client
# over its limit keeps counting up (the general path rolls its count back): either way every further attempt
# in the window is refused, and the window ends when it would have.
_CLIENT_ROW_PG = (
    'cl AS (INSERT INTO counter ("key", "count", expires_at) VALUES (:client, 1, :client_expires)'  # noqa: S608
    + _RESERVE_SET.replace('RETURNING "key", "count", locked_until', 'RETURNING "count"')
    + "), "
)
_BEGIN_PG_SQL = (
    "WITH u AS (SELECT id, password_hash, email_confirmed FROM app_user WHERE {column} = :login), {client}"  # noqa: S608
    'subj AS (INSERT INTO counter ("key", "count", expires_at) '
    "SELECT COALESCE(:user_fail_prefix || (SELECT id FROM u), :login_fail_key), 1, :subject_expires {within} "
    + _RESERVE_SET
    + ") "
    'SELECT u.id, u.password_hash, u.email_confirmed, {client_count} AS client_count, subj."count", '
    "subj.locked_until FROM (SELECT 1) AS one LEFT JOIN u ON true LEFT JOIN subj ON true"
)
_BEGIN_PG_COLUMNS = {
    "id": String(),
    "password_hash": String(),
    "email_confirmed": Boolean(),
    "client_count": Integer(),
    "count": Integer(),
    "locked_until": UTCDateTime(),
}


def _begin_pg(column: str, with_client: bool) -> DriverStatement:
    sql = _BEGIN_PG_SQL.format(
        column=column,
        client=_CLIENT_ROW_PG if with_client else "",
        within='WHERE (SELECT "count" FROM cl) <= :client_limit' if with_client else "",
        client_count='(SELECT "count" FROM cl)' if with_client else "NULL::integer",
    )
    types = {k: t for k, t in _RESERVE_TYPES.items() if with_client or k != "client_expires"}
    return DriverStatement(
        text(sql).bindparams(*(bindparam(k, type_=t) for k, t in types.items())).columns(**_BEGIN_PG_COLUMNS)
    )


# Constant SQL text only (the column is one of two names); every value is a bound parameter.
_BEGIN_PG = {
    kind: {with_client: _begin_pg(kind, with_client) for with_client in (True, False)}
    for kind in ("phone", "email")
}


def _begin_in_one_statement(
    db: Driver, c: Container, parsed: ParsedLogin, client_ip: str | None
) -> tuple[Any, Attempt | DomainError]:
    """(the user's row or None, the attempt or the refusal) — `count_attempt` for PostgreSQL in one
    statement (see `_BEGIN_PG_SQL`)."""
    now = c.clock.now()
    unknown = login_subject(c, parsed)  # the subject when no user has this login
    params: dict[str, object] = {
        "now": now,
        "login": parsed.value,
        "user_fail_prefix": fail_key(user_subject("")),
        "login_fail_key": fail_key(unknown),
        "subject_expires": now + timedelta(seconds=MEMORY_SECONDS),
    }
    if client_ip:
        params.update(
            client=client_key(client_ip),
            client_expires=now + timedelta(seconds=CLIENT_WINDOW_SECONDS),
            client_limit=c.settings.login_per_client_per_minute,
        )
    (row,) = db.rows(_BEGIN_PG[parsed.kind][bool(client_ip)], params)
    user = row if row.id is not None else None
    subject = user_subject(user.id) if user is not None else unknown
    return user, _judge(c, subject, client_ip, row.client_count, row.count, row.locked_until, now)


# PostgreSQL: the session and the failures cleared in one statement (both or neither): the two statements
# above as data-modifying CTEs.
_SESSION_AND_CLEAR_PG = DriverStatement(
    select(_SESSION_INSERT.returning(_SESSION_TABLE.c.id).cte("s").c.id).add_cte(_DELETE_FAILURES.cte("d"))
)


def _user_row(db: Driver, login: ParsedLogin) -> Any:
    """(id, password_hash, email_confirmed) of the login's user, or None."""
    stmt = _USER_BY.get(login.kind)
    if stmt is None:
        return None
    rows = db.rows(stmt, {"login": login.value})
    return rows[0] if rows else None


async def _resend_confirmation(tx: UnitOfWork, c: Container, *, user_id: str, now: datetime) -> bool:
    """Queue a new confirmation letter unless one went out in the last EMAIL_RESEND_SECONDS.

    The throttle is one conditional UPDATE, so concurrent attempts in several processes send one letter.
    """
    from eirc.services.email_confirmation import send_confirmation

    since = now - timedelta(seconds=EMAIL_RESEND_SECONDS)
    claimed = await tx.session.execute(
        update(User)
        .where(
            User.id == user_id, or_(User.email_letter_sent_at.is_(None), User.email_letter_sent_at <= since)
        )
        .values(email_letter_sent_at=now)
    )
    if not claimed.rowcount:
        return False
    user = await tx.session.get(User, user_id)
    assert user is not None
    await send_confirmation(tx, c, user=user)
    return True


# --- sessions ------------------------------------------------------------------------------------------
async def logout(c: Container, *, token: str | None) -> bool:
    """End the caller's session; False when there is no live session."""
    if not token:
        return False
    now = c.clock.now()
    async with c.uow() as tx:
        result = await tx.session.execute(
            update(Session)
            .where(
                Session.id == token_digest(token),
                Session.ended_at.is_(None),
                Session.expires_at > now,
            )
            .values(ended_at=now)
        )
        await tx.commit()
    return bool(result.rowcount)


async def logout_everywhere(c: Container, *, token: str | None) -> bool:
    """End every live session of the caller's user; False when there is no live session."""
    found = await sessions.resolve(c.uow, token, now=c.clock.now()) if token else None
    if found is None:
        return False
    _session, user = found
    async with c.uow() as tx:
        ended = await sessions.end_all_sessions(tx, user.id, now=c.clock.now())
        await tx.commit()
    log.info("signed out everywhere: user %s, %s sessions", user.id, ended)
    return True


async def live_sessions(tx: UnitOfWork, user_id: str, *, now: datetime) -> int:
    return (
        await tx.session.execute(
            select(func.count())
            .select_from(Session)
            .where(Session.user_id == user_id, Session.ended_at.is_(None), Session.expires_at > now)
        )
    ).scalar_one()


# --- password change -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PasswordChanged:
    session: Session
    profile: ProfileView
    ended_sessions: int


async def change_password(
    c: Container,
    *,
    token: str | None,
    current_password: str | None,
    new_password: str | None,
    client_ip: str | None = None,
) -> PasswordChanged:
    """Check the current password (an attempt like a login), set the new one, end every other session."""
    found = await sessions.resolve(c.uow, token, now=c.clock.now()) if token else None
    if found is None:
        raise DomainError(ErrorCode.NOT_AUTHENTICATED, None)
    own, user = found
    errors = []
    if not current_password:
        errors.append(DomainError(ErrorCode.REQUIRED, "currentPassword"))
    try:
        check_password(new_password, "newPassword")
    except DomainError as exc:
        errors.append(exc)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise DomainErrors(errors)
    assert current_password is not None and new_password is not None

    subject = user_subject(user.id)
    async with c.uow() as tx:
        attempt = await begin_attempt(tx, c, subject=subject, client_ip=client_ip)
    ok = await c.hasher.verify(user.password_hash, normalize_password(current_password))
    now = c.clock.now()
    if not ok:
        async with c.uow() as tx:
            await tx.session.run_sync(attempt_failed, c, attempt)
            await tx.commit()
        raise DomainError(ErrorCode.INVALID_CREDENTIALS, "currentPassword")
    new_hash = await c.hasher.hash(normalize_password(new_password))
    async with c.uow() as tx:
        await clear_user_lockout(tx, user.id)
        await tx.session.execute(
            update(User)
            .where(User.id == user.id)
            .values(password_hash=new_hash, password_changed_at=now, updated_at=now)
        )
        ended = await sessions.end_all_sessions(tx, user.id, now=now, keep_session_id=own.id)
        fresh = await tx.session.get(User, user.id)
        profile = await load_profile(tx.session, fresh or user)
        await tx.commit()
    log.info("password changed: user %s, %s other sessions ended", user.id, ended)
    return PasswordChanged(session=own, profile=profile, ended_sessions=ended)
