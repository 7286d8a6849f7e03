"""FastAPI dependencies: the app's services, a database session, the current user."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlmodel import Session

from api.errors import Forbidden, InvalidToken
from api.models import User
from api.repositories import users
from api.state import AppServices

oauth2_scheme = OAuth2PasswordBearer(
    tokenUrl="/auth/login",
    auto_error=False,
    description="Log in with your e-mail as username; the access token goes in "
    "`Authorization: Bearer <token>`.",
)


def get_services(request: Request) -> AppServices:
    return request.app.state.services


Services = Annotated[AppServices, Depends(get_services)]


def get_session(services: Services) -> Iterator[Session]:
    with services.database.session() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_current_user(
    services: Services,
    session: SessionDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> User:
    if not token:
        raise InvalidToken("not authenticated: send Authorization: Bearer <access token>")
    user_id = services.tokens.user_id_from_access(token)
    user = users.get(session, user_id)
    if user is None:
        raise InvalidToken("the token's user no longer exists")
    if not user.is_active:
        raise Forbidden("this account is deactivated")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


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
    services = get_services(request)
    settings = services.settings
    if settings.public_operations:
        return
    if (
        token is not None
        and settings.operations_token is not None
        and secrets.compare_digest(token.encode(), settings.operations_token.encode())
    ):
        return
    with services.database.session() as session:
        get_operator(get_current_user(services, session, token))


OperationsAccess = Depends(get_operations_access)
