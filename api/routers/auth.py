"""/auth: register, login (OAuth2 password form), refresh (rotating), logout, password, me."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from api.core.errors import error_responses
from api.core.schemas import (
    PasswordChangeRequest,
    RefreshRequest,
    RegisterRequest,
    TokenPair,
    UserRead,
)
from api.deps import CurrentUser, Services
from api.services.auth import AuthService
from api.services.container import AppServices

router = APIRouter(prefix="/auth", tags=["auth"])


def auth_service(services: Services) -> AuthService:
    settings = services.settings
    return AuthService(
        services.database,
        services.hasher,
        services.tokens,
        services.passwords,
        timedelta(days=settings.refresh_family_max_days),
        timedelta(seconds=settings.refresh_grace_seconds),
    )


Auth = Annotated[AuthService, Depends(auth_service)]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def count_attempt(services: AppServices, request: Request, account: str) -> None:
    """429 RATE_LIMITED (with Retry-After) past the per-address or per-account limit."""
    await services.auth_limits.hit(account, client_address(request))


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserRead,
    summary="Create an account",
    description="Registers an e-mail address (stored lower-cased) with a password of 8 "
    "to 128 characters. The password is kept only as a bcrypt hash (of its SHA-256). "
    "Attempts are rate-limited per address and per e-mail (429 with Retry-After).",
    responses=error_responses("DUPLICATE_EMAIL", "RATE_LIMITED"),
)
async def register(
    body: RegisterRequest, request: Request, services: Services, auth: Auth
) -> UserRead:
    await count_attempt(services, request, body.email)
    user = await auth.register(body.email, body.password)
    return UserRead.model_validate(user, from_attributes=True)


@router.post(
    "/login",
    response_model=TokenPair,
    summary="Log in (OAuth2 password form)",
    description="Form fields `username` (your e-mail) and `password`. Returns a short-lived "
    "access token and a refresh token. Works with Swagger's Authorize button. Attempts are "
    "rate-limited per address and per account (429 with Retry-After).",
    responses=error_responses("INVALID_CREDENTIALS", "RATE_LIMITED"),
)
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    request: Request,
    services: Services,
    auth: Auth,
) -> TokenPair:
    await count_attempt(services, request, form.username)
    return await auth.login(form.username, form.password)


@router.post(
    "/refresh",
    response_model=TokenPair,
    summary="Rotate the refresh token",
    description="Exchanges a refresh token for a new access + refresh pair. Each refresh "
    "token works once; presenting a used one again revokes its whole chain (all tokens "
    "descended from the same login), so a stolen token is useless once either party uses it. "
    "Exception: the token just rotated may be presented again for a few seconds while its "
    "successor is unused (two tabs refreshing at once both succeed). A chain ends after an "
    "absolute lifetime however often it is refreshed.",
    responses=error_responses("INVALID_TOKEN"),
)
def refresh(body: RefreshRequest, auth: Auth) -> TokenPair:
    return auth.refresh(body.refresh_token)


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Log out this session",
    description="Revokes the refresh token's chain (this login). Access tokens already "
    "issued expire by themselves within minutes; use `/auth/logout-all` to end them now.",
    responses=error_responses("INVALID_TOKEN"),
)
def logout(body: RefreshRequest, auth: Auth) -> Response:
    auth.logout(body.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/logout-all",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Log out everywhere",
    description="Revokes every refresh chain of the account and refuses every access token "
    "issued before now, on every device.",
    responses=error_responses("INVALID_TOKEN", validation=False),
)
def logout_all(user: CurrentUser, auth: Auth) -> Response:
    auth.logout_everywhere(user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/password",
    response_model=TokenPair,
    summary="Change the password",
    description="Needs the current password. Ends every session of the account (as "
    "`/auth/logout-all`) and returns a fresh token pair for this one.",
    responses=error_responses("INVALID_TOKEN", "INVALID_CREDENTIALS"),
)
async def change_password(body: PasswordChangeRequest, user: CurrentUser, auth: Auth) -> TokenPair:
    return await auth.change_password(user, body.current_password, body.new_password)


@router.get(
    "/me",
    response_model=UserRead,
    summary="The current user",
    description="The account the bearer access token belongs to.",
    responses=error_responses("INVALID_TOKEN", validation=False),
)
def me(user: CurrentUser) -> UserRead:
    return UserRead.model_validate(user, from_attributes=True)
