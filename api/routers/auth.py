"""/auth: register, login (OAuth2 password form), refresh (rotating), me."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from fastapi.security import OAuth2PasswordRequestForm

from api.deps import CurrentUser, Services, SessionDep
from api.errors import error_responses
from api.schemas import RefreshRequest, RegisterRequest, TokenPair, UserRead
from api.services.auth import AuthService

router = APIRouter(prefix="/auth", tags=["auth"])


def auth_service(services: Services, session: SessionDep) -> AuthService:
    return AuthService(session, services.hasher, services.tokens)


Auth = Annotated[AuthService, Depends(auth_service)]


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserRead,
    summary="Create an account",
    description="Registers an e-mail address (stored lower-cased) with a password of 8 "
    "to 128 characters. The password is kept only as a bcrypt hash (of its SHA-256).",
    responses=error_responses("DUPLICATE_EMAIL"),
)
def register(body: RegisterRequest, auth: Auth) -> UserRead:
    user = auth.register(body.email, body.password)
    return UserRead.model_validate(user, from_attributes=True)


@router.post(
    "/login",
    response_model=TokenPair,
    summary="Log in (OAuth2 password form)",
    description="Form fields `username` (your e-mail) and `password`. Returns a short-lived "
    "access token and a refresh token. Works with Swagger's Authorize button.",
    responses=error_responses("INVALID_CREDENTIALS"),
)
def login(form: Annotated[OAuth2PasswordRequestForm, Depends()], auth: Auth) -> TokenPair:
    return auth.login(form.username, form.password)


@router.post(
    "/refresh",
    response_model=TokenPair,
    summary="Rotate the refresh token",
    description="Exchanges a refresh token for a new access + refresh pair. Each refresh "
    "token works once; presenting a used one again revokes its whole chain (all tokens "
    "descended from the same login), so a stolen token is useless once either party uses it.",
    responses=error_responses("INVALID_TOKEN"),
)
def refresh(body: RefreshRequest, auth: Auth) -> TokenPair:
    return auth.refresh(body.refresh_token)


@router.get(
    "/me",
    response_model=UserRead,
    summary="The current user",
    description="The account the bearer access token belongs to.",
    responses=error_responses("INVALID_TOKEN", validation=False),
)
def me(user: CurrentUser) -> UserRead:
    return UserRead.model_validate(user, from_attributes=True)
