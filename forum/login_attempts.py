"""Password attempts and lockouts (NodeBB's ``loginAttempts`` and ``lockoutDuration``)
kept in the database: the store every API process of the embedded default shares.

Each attempt counts before its password is checked (so concurrent guesses cannot slip
past the limit); a key (``uid:7``, ``addr:192.0.2.1``) with more attempts than its limit
within ``window_ms`` is locked for ``lockout_ms``. A right password takes its attempt
back: the uid's count is cleared, the address's decremented."""

from sqlalchemy import case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from forum.models import LoginAttempt


def attempt(
    session: Session, limits: dict[str, int], window_ms: int, lockout_ms: int, now: int
) -> int:
    """Count an attempt for each key of ``limits`` (key -> attempts allowed), unless one
    is locked. Returns how long the caller is locked out, in ms (0: go ahead)."""
    session.execute(
        delete(LoginAttempt).where(LoginAttempt.window_ends < now, LoginAttempt.locked_until < now)
    )
    until = session.scalar(
        select(LoginAttempt.locked_until).where(LoginAttempt.key.in_(limits))
        .order_by(LoginAttempt.locked_until.desc()).limit(1)
    )  # fmt: skip
    if until is not None and until > now:
        return until - now
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    locked = 0
    for key, limit in limits.items():
        insert = dialect.insert(LoginAttempt).values(
            key=key, attempts=1, window_ends=now + window_ms, locked_until=0
        )
        attempts = session.scalar(
            insert.on_conflict_do_update(
                index_elements=[LoginAttempt.key],
                set_={
                    "attempts": case(
                        (LoginAttempt.window_ends < now, 1), else_=LoginAttempt.attempts + 1
                    ),
                    "window_ends": now + window_ms,
                },
            ).returning(LoginAttempt.attempts)
        )
        if (attempts or 0) > limit:
            session.execute(
                update(LoginAttempt).where(LoginAttempt.key == key)
                .values(attempts=0, locked_until=now + lockout_ms)
            )  # fmt: skip
            locked = lockout_ms
    return locked


def take_back(session: Session, cleared: str, decremented: str) -> None:
    """A right password: forget ``cleared``'s attempts, one less for ``decremented``."""
    session.execute(delete(LoginAttempt).where(LoginAttempt.key == cleared))
    session.execute(
        update(LoginAttempt)
        .where(LoginAttempt.key == decremented, LoginAttempt.attempts > 0)
        .values(attempts=LoginAttempt.attempts - 1)
    )
