"""FastAPI dependencies: the app's services, a database session, the current user.

No dependency holds a database connection while the request waits: the current user is
loaded in a session of its own that is closed at once, and the request session is closed
when the endpoint function returns (`scope="function"`), before a response streams.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlmodel import Session

from api.core.accounts import AccessClaims, check_account, missing_user
from api.core.errors import Forbidden, InvalidToken
from api.core.models import User
from api.core.threads import in_thread
from api.http import timing
from api.repositories import users
from api.services.container import AppServices

oauth2_scheme = OAuth2PasswordBearer(
    tokenUrl="/auth/login",
    auto_error=False,
    description="Log in with your e-mail as username; the access token goes in "
    "`Authorization: Bearer <token>`.",
)


# Dependencies that only read or build objects are `async def`: FastAPI runs a plain `def`
# dependency in its thread pool, a round trip through the event loop per dependency per request
# (and, with the GIL, a wait for it behind whatever image work runs meanwhile).


def services_of(request: Request) -> AppServices:
    return request.app.state.services


async def get_services(request: Request) -> AppServices:
    return services_of(request)


Services = Annotated[AppServices, Depends(get_services)]


async def open_session(services: AppServices) -> Session:
    """A request's session; it connects on first use, in whichever thread uses it."""
    if not services.database.ready:
        await in_thread(services.database.ensure_ready)  # migrations, once: blocking I/O
    return services.database.new_session()


async def close_session(session: Session) -> None:
    if session.in_transaction():  # still holds a connection: the rollback is I/O
        await in_thread(session.close)
    else:
        session.close()


async def get_session(services: Services) -> AsyncIterator[Session]:
    """The request's session (`open_session`), closed when the endpoint returns."""
    session = await open_session(services)
    try:
        yield session
    finally:
        await close_session(session)


# Closed when the endpoint returns, not after the response is sent (a file or a stream).
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def verified_claims(services: AppServices, token: str | None) -> AccessClaims:
    """The access token's user id and issue time, its signature and claims checked (no I/O);
    InvalidToken when there is none or it does not verify."""
    if not token:
        raise InvalidToken("not authenticated: send Authorization: Bearer <access token>")
    return AccessClaims(*services.tokens.access_claims(token))


def load_user(services: AppServices, token: str | None) -> User:
    """The token's user, from a short session of its own (a detached, fully loaded row)."""
    claims = verified_claims(services, token)
    return _user_of_token(services, claims.user_id, claims.issued_at)


def load_stream_user(services: AppServices, stream_token: str, job_id: int) -> User:
    """The user of a stream token for `job_id` (the events endpoint's only other credential),
    checked like an access token's: the account exists, is active, its sessions not ended."""
    claims = services.stream_tokens.claims(stream_token, job_id)
    return _user_of_token(services, claims.user_id, claims.issued_at)


def _user_of_token(services: AppServices, user_id: int, issued_at: float) -> User:
    with services.database.session() as session:
        user = users.get(session, user_id)
    if user is None:
        raise missing_user()
    check_account(user.is_active, user.sessions_revoked_at, issued_at)
    return user


def get_current_user(
    services: Services, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> User:
    with timing.phase("auth"):  # token check + the user's row
        return load_user(services, token)


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_access_claims(
    request: Request, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> AccessClaims:
    """The token checked in the event loop (no I/O); the caller checks the account itself,
    in a query it makes anyway (`ImageService.process`). The services come from the request,
    not from a dependency: each one FastAPI solves costs the hot path CPU."""
    with timing.phase("auth"):
        return verified_claims(services_of(request), token)


CurrentClaims = Annotated[AccessClaims, Depends(get_access_claims)]


def get_operator(user: CurrentUser) -> User:
    if user.role != "operator":
        raise Forbidden("this needs an operator account")
    return user


Operator = Annotated[User, Depends(get_operator)]


def get_operations_access(
    request: Request, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> None:
    """/metrics and /api/system: with PUBLIC_OPERATIONS anyone; else OPERATIONS_TOKEN (no
    database needed, for scrapers) or an operator's access token."""
    services = services_of(request)
    settings = services.settings
    if settings.public_operations:
        return
    if (
        token is not None
        and settings.operations_token is not None
        and secrets.compare_digest(token.encode(), settings.operations_token.encode())
    ):
        return
    # load_user opens (and closes) its own short session.
    get_operator(load_user(services, token))


OperationsAccess = Depends(get_operations_access)
