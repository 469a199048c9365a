"""Users, API tokens and browser sessions: the store half of sign-in (hashing and rules are ``backend.auth``).

Secrets never reach this module in plain form: it keeps an argon2 hash per password and the SHA-256 of
each random token and session id, and looks them up by that hash.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from backend.store.account_changes import note_change
from backend.store.db import as_utc, transaction, utc_now
from backend.store.entities import ApiToken, Conflict, LoginSession, NotFound, User
from backend.store.models import SqlApiToken, SqlLoginSession, SqlUser
from backend.store.rows import entity_from

# A token's last use is written at most this often, so that scripts polling the API do not write on
# every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


_now, _aware = utc_now, as_utc


def _user(row: SqlUser) -> User:
    return entity_from(User, row, created_at=_aware(row.created_at) or row.created_at)


def _token(row: SqlApiToken, user_name: str) -> ApiToken:
    return entity_from(
        ApiToken,
        row,
        user_name=user_name,
        created_at=_aware(row.created_at) or row.created_at,
        last_used_at=_aware(row.last_used_at),
        revoked_at=_aware(row.revoked_at),
    )


class Accounts:
    """Reached as ``Store.accounts``; each method runs in its own transaction."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    # -- users -------------------------------------------------------------------------------------------

    def count_users(self) -> int:
        with transaction(self._sessions) as session:
            return int(session.scalar(select(func.count()).select_from(SqlUser)) or 0)

    def create_user(self, *, name: str, role: str, password_hash: str, must_change_password: bool) -> User:
        # A new user is enabled and created now: the columns' defaults.
        row = SqlUser(name=name, role=role, password_hash=password_hash, must_change_password=must_change_password)
        try:
            with transaction(self._sessions) as session:
                session.add(row)
                session.flush()
                return _user(row)
        except IntegrityError:
            raise Conflict(f"a user named {name!r} already exists") from None

    def list_users(self) -> list[User]:
        with transaction(self._sessions) as session:
            return [_user(row) for row in session.scalars(select(SqlUser).order_by(SqlUser.name))]

    def get_user(self, *, name: str) -> User:
        with transaction(self._sessions) as session:
            row = session.scalar(select(SqlUser).where(SqlUser.name == name))
            if row is None:
                raise NotFound(f"no user named {name!r}")
            return _user(row)

    def credentials(self, *, name: str) -> tuple[User, str] | None:
        """The user and their password hash, to check a sign-in; None if there is no such user."""
        with transaction(self._sessions) as session:
            row = session.scalar(select(SqlUser).where(SqlUser.name == name))
            return None if row is None else (_user(row), row.password_hash)

    def update_user(
        self,
        *,
        name: str,
        role: str | None = None,
        disabled: bool | None = None,
        password_hash: str | None = None,
        must_change_password: bool | None = None,
    ) -> User:
        """Change what is given; disabling a user or changing their password ends their sessions, and
        disabling or a one-time password (a reset) revokes their API tokens."""
        with transaction(self._sessions) as session:
            row = session.scalar(select(SqlUser).where(SqlUser.name == name))
            if row is None:
                raise NotFound(f"no user named {name!r}")
            if role is not None:
                row.role = role
            if disabled is not None:
                row.disabled = disabled
            if must_change_password is not None:
                row.must_change_password = must_change_password
            if password_hash is not None:
                row.password_hash = password_hash
            if disabled or password_hash is not None:
                session.execute(delete(SqlLoginSession).where(SqlLoginSession.user_id == row.id))
            if disabled or must_change_password:
                # A disable or an admin's reset revokes the user's tokens for good: re-enabling the user, or
                # their choosing a new password, must not bring back a token someone else may hold.
                session.execute(
                    update(SqlApiToken)
                    .where(SqlApiToken.user_id == row.id, SqlApiToken.revoked_at.is_(None))
                    .values(revoked_at=_now())
                )
            changed = _user(row)
        note_change()  # after the commit: a sign-in kept from before it is not served again (backend/auth/signins.py)
        return changed

    # -- API tokens --------------------------------------------------------------------------------------

    def create_token(self, *, user_name: str, name: str, token_hash: str, prefix: str) -> ApiToken:
        with transaction(self._sessions) as session:
            user = session.scalar(select(SqlUser).where(SqlUser.name == user_name))
            if user is None:
                raise NotFound(f"no user named {user_name!r}")
            row = SqlApiToken(user_id=user.id, name=name, token_hash=token_hash, prefix=prefix, created_at=_now())
            session.add(row)
            session.flush()
            return _token(row, user.name)

    def list_tokens(self, *, user_name: str | None = None) -> list[ApiToken]:
        """Every token (revoked ones too, marked), or one user's."""
        with transaction(self._sessions) as session:
            query = select(SqlApiToken, SqlUser.name).join(SqlUser, SqlUser.id == SqlApiToken.user_id)
            if user_name is not None:
                query = query.where(SqlUser.name == user_name)
            return [_token(row, name) for row, name in session.execute(query.order_by(SqlApiToken.id))]

    def get_token(self, *, token_id: int) -> ApiToken:
        with transaction(self._sessions) as session:
            found = session.execute(
                select(SqlApiToken, SqlUser.name)
                .join(SqlUser, SqlUser.id == SqlApiToken.user_id)
                .where(SqlApiToken.id == token_id)
            ).first()
            if found is None:
                raise NotFound(f"no API token with id {token_id}")
            return _token(found[0], found[1])

    def revoke_token(self, *, token_id: int) -> ApiToken:
        """Revoke a token (revoking a revoked one changes nothing)."""
        with transaction(self._sessions) as session:
            session.execute(
                update(SqlApiToken)
                .where(SqlApiToken.id == token_id, SqlApiToken.revoked_at.is_(None))
                .values(revoked_at=_now())
            )
        note_change()
        return self.get_token(token_id=token_id)

    def user_for_token(self, *, token_hash: str) -> User | None:
        """The enabled user a live token belongs to, or None; notes the token's use."""
        now = _now()
        with transaction(self._sessions) as session:
            found = session.execute(
                select(SqlApiToken, SqlUser)
                .join(SqlUser, SqlUser.id == SqlApiToken.user_id)
                .where(SqlApiToken.token_hash == token_hash, SqlApiToken.revoked_at.is_(None))
            ).first()
            if found is None or found[1].disabled:
                return None
            token, user = found
            last = _aware(token.last_used_at)
            if last is None or now - last > LAST_USED_RESOLUTION:
                token.last_used_at = now
            return _user(user)

    # -- browser sessions --------------------------------------------------------------------------------

    def create_session(self, *, id_hash: str, user_id: int, csrf_token: str, lifetime: timedelta) -> None:
        now = _now()
        with transaction(self._sessions) as session:
            # Expired sessions are swept here, on sign-in, rather than by a timer.
            session.execute(delete(SqlLoginSession).where(SqlLoginSession.expires_at < now))
            session.add(
                SqlLoginSession(
                    id_hash=id_hash, user_id=user_id, csrf_token=csrf_token, created_at=now, expires_at=now + lifetime
                )
            )

    def get_session(self, *, id_hash: str) -> LoginSession | None:
        """The live session with this id hash and its enabled user, or None."""
        with transaction(self._sessions) as session:
            found = session.execute(
                select(SqlLoginSession, SqlUser)
                .join(SqlUser, SqlUser.id == SqlLoginSession.user_id)
                .where(SqlLoginSession.id_hash == id_hash)
            ).first()
            if found is None:
                return None
            login, user = found
            expires = _aware(login.expires_at) or login.expires_at
            if user.disabled or expires <= _now():
                return None
            return LoginSession(user=_user(user), csrf_token=login.csrf_token, expires_at=expires)

    def delete_session(self, *, id_hash: str) -> None:
        with transaction(self._sessions) as session:
            session.execute(delete(SqlLoginSession).where(SqlLoginSession.id_hash == id_hash))
        note_change()
