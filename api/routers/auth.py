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


async def auth_service(services: Services) -> AuthService:
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


async def count_attempt(
    services: AppServices, request: Request, account: str, *, account_wide: bool = False
) -> None:
    """429 RATE_LIMITED (with Retry-After) past the per-address or per-account-and-address
    limit (and with `account_wide`, the per-account one)."""
    await services.auth_limits.hit(account, client_address(request), account_wide=account_wide)


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserRead,
    summary="Create an account",
    description="Registers an e-mail address (stored lower-cased) with a password of 8 "
    "to 128 characters. The password is kept only as a bcrypt hash (of its SHA-256). "
    "Attempts are rate-limited per address and per e-mail from that address (429 with "
    "Retry-After).",
    responses=error_responses("DUPLICATE_EMAIL", "RATE_LIMITED"),
)
async def register(
    body: RegisterRequest, request: Request, services: Services, auth: Auth
) -> UserRead:
    await count_attempt(services, request, body.email)
    user = await auth.register(body.email, body.password, client_address(request))
    return UserRead.model_validate(user, from_attributes=True)


@router.post(
    "/login",
    response_model=TokenPair,
    summary="Log in (OAuth2 password form)",
    description="Form fields `username` (your e-mail) and `password`. Returns a short-lived "
    "access token and a refresh token. Works with Swagger's Authorize button. Attempts are "
    "rate-limited per address and per account from that address (429 with Retry-After), so "
    "nobody else's failed attempts can lock you out. A deactivated account gets 403 after "
    "the right password.",
    responses=error_responses("INVALID_CREDENTIALS", "FORBIDDEN", "RATE_LIMITED"),
)
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    request: Request,
    services: Services,
    auth: Auth,
) -> TokenPair:
    await count_attempt(services, request, form.username)
    return await auth.login(form.username, form.password, client_address(request))


@router.post(
    "/refresh",
    response_model=TokenPair,
    summary="Rotate the refresh token",
    description="Exchanges a refresh token for a new access + refresh pair. Each refresh "
    "token works once; presenting a used one again revokes its whole chain (all tokens "
    "descended from the same login), so a stolen token is useless once either party uses it. "
    "Exception: the token just rotated may be presented again for a few seconds while its "
    "successor is unused, and gets that same successor again (two tabs refreshing at once "
    "both succeed and share one chain). A chain ends after an absolute lifetime however "
    "often it is refreshed. A deactivated account gets 403.",
    responses=error_responses("INVALID_TOKEN", "FORBIDDEN"),
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
    "`/auth/logout-all`) and returns a fresh token pair for this one. Attempts are "
    "rate-limited per address, per account from that address and per account (429 with "
    "Retry-After).",
    responses=error_responses("INVALID_TOKEN", "INVALID_CREDENTIALS", "RATE_LIMITED"),
)
async def change_password(
    body: PasswordChangeRequest,
    user: CurrentUser,
    request: Request,
    services: Services,
    auth: Auth,
) -> TokenPair:
    # Only the account's own token reaches here: counting the account from every address
    # lets nobody else lock it, and bounds a stolen token's guesses however many addresses.
    await count_attempt(services, request, user.email, account_wide=True)
    return await auth.change_password(
        user, body.current_password, body.new_password, client_address(request)
    )


@router.get(
    "/me",
    response_model=UserRead,
    summary="The current user",
    description="The account the bearer access token belongs to.",
    responses=error_responses("INVALID_TOKEN", validation=False),
)
def me(user: CurrentUser) -> UserRead:
    return UserRead.model_validate(user, from_attributes=True)
