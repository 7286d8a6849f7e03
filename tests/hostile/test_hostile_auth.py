"""Hostile users against accounts and sessions, on a live uvicorn (SQLite and PostgreSQL).

Each attack gets its documented answer (a 4xx envelope) or has no effect on another user:
another user's login stays within 2x of its at-rest latency, measured in the same run.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import jwt
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, create_engine, select

from api.core.models import RefreshToken
from api.core.settings import Settings
from api.main import create_app
from nogilbench.store import repository
from tests.support.auth_server import (
    ATTACKER,
    DATABASES,
    PASSWORD,
    VICTIM,
    Shared,
    admin,
    assert_envelope,
    async_client,
    bearer,
    client,
    database_for,
    live_server,
    login,
    png,
    register,
    shared_server,
    user,
)

WRONG = "not the password at all"


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """For the tests that need settings of their own (and so a server of their own)."""
    return database_for(request, tmp_path)


@pytest.fixture(scope="module", params=DATABASES)
def shared(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    with shared_server(request, tmp_path_factory.mktemp("shared")) as running:
        yield running


# -- 5: every credential check is rate-limited, and guesses cannot starve other logins ------


def test_password_change_guesses_are_rate_limited(database_url: str, tmp_path: Path) -> None:
    limits = {"AUTH_RATE_LIMIT_ACCOUNT": "3/minute"}
    with live_server(tmp_path, database_url, **limits) as server, client(server, ATTACKER) as http:
        with client(server, VICTIM) as owner:  # the owner logs in; a thief uses the token
            headers = user(owner, "ada@example.com")
        body = {"current_password": WRONG, "new_password": "a brand new password"}
        for _ in range(3):
            response = http.post("/auth/password", json=body, headers=headers)
            assert_envelope(response, 401, "INVALID_CREDENTIALS")
        limited = http.post("/auth/password", json=body, headers=headers)
        assert_envelope(limited, 429, "RATE_LIMITED")
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        # The right password is refused too until the window passes: no more guesses.
        right = {"current_password": PASSWORD, "new_password": "a brand new password"}
        refused = http.post("/auth/password", json=right, headers=headers)
        assert_envelope(refused, 429, "RATE_LIMITED")


async def _guess_password(http: httpx.AsyncClient, headers: dict[str, str], n: int) -> int:
    body = {"current_password": f"{WRONG} {n}", "new_password": "a brand new password"}
    return (await http.post("/auth/password", json=body, headers=headers)).status_code


async def _guess_login(http: httpx.AsyncClient, _headers: dict[str, str], n: int) -> int:
    form = {"username": f"guess{n}@example.com", "password": WRONG}
    return (await http.post("/auth/login", data=form)).status_code


ATTACKS = {"password-change": _guess_password, "login": _guess_login}


GUESSERS = 8  # concurrent guesses: a queue of 8 checks ahead of the victim, before the fix
CYCLES = 5


async def _login_latency_under_attack(server, attack, attacker_headers) -> dict:
    """The victim's login at rest and under attack, alternating: both see the same load."""
    async with (
        async_client(server, ATTACKER) as attacker,
        async_client(server, VICTIM) as victim,
    ):
        waits: list[float] = []  # under attack: the victim's wait for a bcrypt worker
        pending: list[int] = []  # under attack: the guesses in flight as the victim logs in
        in_flight = 0

        async def timed_login() -> float:
            if not stop.is_set():
                pending.append(in_flight)
            started = time.perf_counter()
            form = {"username": "victim@example.com", "password": PASSWORD}
            response = await victim.post("/auth/login", data=form)
            assert response.status_code == 200, response.text
            elapsed = time.perf_counter() - started
            if not stop.is_set():
                waits.append(_queue_ms(response.headers["server-timing"]))
            return elapsed

        stop = asyncio.Event()
        stop.set()
        for _ in range(2):  # warm up: connections, the server's first requests
            await timed_login()
        at_rest: list[float] = []
        attacked: list[float] = []
        answered: Counter[int] = Counter()
        for cycle in range(CYCLES):
            at_rest += [await timed_login() for _ in range(3)]
            stop = asyncio.Event()

            async def guesser(worker: int, stop: asyncio.Event = stop) -> None:
                nonlocal in_flight
                n = worker
                while not stop.is_set():
                    in_flight += 1
                    answered[await attack(attacker, attacker_headers, n)] += 1
                    in_flight -= 1
                    n += GUESSERS

            guessers = [
                asyncio.create_task(guesser(cycle * 1000 + worker)) for worker in range(GUESSERS)
            ]
            await asyncio.sleep(0.3)  # the guesses pile up on the server
            attacked += [await timed_login() for _ in range(3)]
            stop.set()
            await asyncio.gather(*guessers)
    return {
        "at_rest": at_rest,
        "attacked": attacked,
        "answered": answered,
        "pending": pending,
        "waits": waits,
    }


def _queue_ms(server_timing: str) -> float:
    """The `queue` phase of a Server-Timing header: the wait for a bcrypt worker, in ms."""
    phases = dict(part.strip().split(";dur=") for part in server_timing.split(","))
    return float(phases["queue"])


@pytest.mark.slow
@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_password_guesses_do_not_delay_another_users_login(
    database_url: str, tmp_path: Path, attack: str
) -> None:
    # ~60 ms a check; SERVER_TIMING says how long each login waited for a bcrypt worker.
    env = {"BCRYPT_ROUNDS": "10", "PASSWORD_HASH_WORKERS": "2", "SERVER_TIMING": "true"}
    with live_server(tmp_path, database_url, **env) as server:
        with client(server, VICTIM) as http:
            register(http, "victim@example.com")
        with client(server, ATTACKER) as http:
            headers = user(http, "attacker@example.com")
        result = asyncio.run(_login_latency_under_attack(server, ATTACKS[attack], headers))
    at_rest = statistics.median(result["at_rest"])
    attacked = statistics.median(result["attacked"])
    print(f"{attack}: victim login at rest {at_rest * 1000:.0f} ms, under {GUESSERS} concurrent "
          f"guesses {attacked * 1000:.0f} ms (x{attacked / at_rest:.2f}); guesses answered "
          f"{dict(result['answered'])}, at least {min(result['pending'])} in flight while "
          f"measured; the victim "
          f"waited {max(result['waits']):.1f} ms at most for a bcrypt worker")  # fmt: skip
    assert set(result["answered"]) == {401}  # every guess refused, none a 5xx
    # The attack was under way whenever the victim logged in, and every guess was answered.
    assert min(result["pending"]) >= GUESSERS // 2
    assert sum(result["answered"].values()) >= CYCLES * GUESSERS
    # The guesses hold at most one of the two workers: the victim never queues behind them
    # (before: behind up to GUESSERS checks) ...
    assert max(result["waits"]) < 5
    # ... so its login takes as long as at rest, give or take the CPU the attacker's one
    # check running beside it takes.
    assert attacked < 2 * at_rest


# -- 6: a third party cannot lock an account ------------------------------------------------


@pytest.mark.parametrize("attempt", ["wrong-login", "register-again"])
def test_a_third_party_cannot_lock_an_account(
    database_url: str, tmp_path: Path, attempt: str
) -> None:
    limits = {"AUTH_RATE_LIMIT_ACCOUNT": "3/minute"}
    with (
        live_server(tmp_path, database_url, **limits) as server,
        client(server, VICTIM) as victim,
        client(server, ATTACKER) as attacker,
    ):
        register(victim, "victim@example.com")
        statuses = []
        for _ in range(6):
            if attempt == "wrong-login":
                form = {"username": "Victim@Example.com", "password": WRONG}
                response = attacker.post("/auth/login", data=form)
            else:
                body = {"email": "victim@example.com", "password": PASSWORD}
                response = attacker.post("/auth/register", json=body)
            statuses.append(response.status_code)
        refused = 401 if attempt == "wrong-login" else 409
        # The attacker is limited (per account and address) ...
        assert statuses == [refused] * 3 + [429] * 3
        # ... the victim, from another address, is not.
        login(victim, "victim@example.com")


# -- 11 and the suspected refresh races ----------------------------------------------------


def _jti(token: str) -> str:
    return jwt.decode(token, options={"verify_signature": False})["jti"]


async def _refresh_many(server, token: str, times: int) -> list[httpx.Response]:
    async with async_client(server, VICTIM) as http:
        calls = [http.post("/auth/refresh", json={"refresh_token": token}) for _ in range(times)]
        return list(await asyncio.gather(*calls))


def _refresh(http: httpx.Client, token: str) -> httpx.Response:
    return http.post("/auth/refresh", json={"refresh_token": token})


def test_concurrent_refreshes_yield_one_successor(shared: Shared) -> None:
    server = shared.server
    with client(server) as http:
        register(http, "rotate@example.com")
        first = login(http, "rotate@example.com")["refresh_token"]
        responses = asyncio.run(_refresh_many(server, first, 10))
        assert [response.status_code for response in responses] == [200] * 10, [
            response.text for response in responses
        ]
        successors = {response.json()["refresh_token"] for response in responses}
        assert len(successors) == 1, [_jti(token) for token in successors]  # the same token
        (successor,) = successors
        # Replayed within the grace window: the same successor again, never a second chain.
        again = _refresh(http, first)
        assert again.status_code == 200 and again.json()["refresh_token"] == successor
        newest = _refresh(http, successor).json()["refresh_token"]
        assert _refresh(http, successor).json()["refresh_token"] == newest  # the same rule
        # Once the successor has been used, the first token is a replay: the chain ends.
        assert_envelope(_refresh(http, first), 401, "INVALID_TOKEN")
        assert_envelope(_refresh(http, newest), 401, "INVALID_TOKEN")


async def _refresh_and_logout_all(server, refresh_token: str, access_token: str):
    async with async_client(server, VICTIM) as http:
        return await asyncio.gather(
            http.post("/auth/refresh", json={"refresh_token": refresh_token}),
            http.post("/auth/logout-all", headers=bearer(access_token)),
        )


def test_a_refresh_racing_logout_all_leaves_no_session(shared: Shared) -> None:
    server = shared.server
    with client(server) as http:
        register(http, "race@example.com")
        outcomes: Counter[int] = Counter()
        for _ in range(12):
            tokens = login(http, "race@example.com")
            refreshed, logged_out = asyncio.run(
                _refresh_and_logout_all(server, tokens["refresh_token"], tokens["access_token"])
            )
            assert logged_out.status_code == 204, logged_out.text
            outcomes[refreshed.status_code] += 1
            if refreshed.status_code == 200:  # it went first: logout-all ended it too
                pair = refreshed.json()
                assert_envelope(_refresh(http, pair["refresh_token"]), 401, "INVALID_TOKEN")
                me = http.get("/auth/me", headers=bearer(pair["access_token"]))
                assert_envelope(me, 401, "INVALID_TOKEN")
            else:
                assert_envelope(refreshed, 401, "INVALID_TOKEN")
        print(f"refresh outcomes racing logout-all: {dict(outcomes)}")


@pytest.fixture
def app_settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=database_url,
        data_dir=tmp_path / "data",
        secret_key="hostile-auth-secret-" + "0123456789abcdef" * 4,
        bcrypt_rounds=4,
    )


def test_logout_all_in_the_middle_of_a_refresh_ends_its_successor(
    app_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race held open on purpose: logout-all arrives while a refresh has marked its token
    used and written the successor, before it commits."""
    from api.repositories import tokens as token_rows

    with TestClient(create_app(app_settings)) as http:
        register(http, "ada@example.com")
        pair = login(http, "ada@example.com")
        in_refresh = threading.Event()
        real_add = token_rows.add

        def slow_add(*args, **kwargs):
            row = real_add(*args, **kwargs)
            if kwargs.get("parent_jti") is not None:  # the refresh's successor
                in_refresh.set()
                time.sleep(0.6)  # logout-all runs now
            return row

        monkeypatch.setattr(token_rows, "add", slow_add)
        outcome: dict[str, httpx.Response] = {}

        def logout_all() -> None:
            assert in_refresh.wait(10)
            headers = bearer(pair["access_token"])
            outcome["logout"] = http.post("/auth/logout-all", headers=headers)

        thread = threading.Thread(target=logout_all)
        thread.start()
        refreshed = http.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        thread.join(20)
        monkeypatch.setattr(token_rows, "add", real_add)
        assert outcome["logout"].status_code == 204
        if refreshed.status_code == 200:
            successor = refreshed.json()
            assert_envelope(_refresh(http, successor["refresh_token"]), 401, "INVALID_TOKEN")
            me = http.get("/auth/me", headers=bearer(successor["access_token"]))
            assert_envelope(me, 401, "INVALID_TOKEN")
        else:
            assert_envelope(refreshed, 401, "INVALID_TOKEN")
        engine = create_engine(str(app_settings.database_url))
        try:
            with Session(engine) as session:
                live = session.exec(
                    select(RefreshToken).where(RefreshToken.revoked_at.is_(None))  # type: ignore[union-attr]
                ).all()
        finally:
            engine.dispose()
        assert live == []


def test_a_deactivated_account_can_neither_refresh_nor_log_in(shared: Shared) -> None:
    server, database_url = shared.server, shared.database_url
    with client(server) as http:
        register(http, "inactive@example.com")
        tokens = login(http, "inactive@example.com")
        admin(database_url, "deactivate", "inactive@example.com")
        assert_envelope(_refresh(http, tokens["refresh_token"]), 403, "FORBIDDEN")
        form = {"username": "inactive@example.com", "password": PASSWORD}
        assert_envelope(http.post("/auth/login", data=form), 403, "FORBIDDEN")
        # A wrong password says nothing about the account's state.
        form["password"] = WRONG
        assert_envelope(http.post("/auth/login", data=form), 401, "INVALID_CREDENTIALS")
        admin(database_url, "activate", "inactive@example.com")
        # The refused refresh did not use the token up: it works once the account is back.
        assert _refresh(http, tokens["refresh_token"]).status_code == 200


# -- suspected: 403 vs 404 tells which ids exist -------------------------------------------


def test_another_users_ids_answer_exactly_like_missing_ones(shared: Shared) -> None:
    server = shared.server
    with client(server) as http:
        owner = user(http, "owner@example.com")
        intruder = user(http, "intruder@example.com")
        files = {"file": ("a.png", png(), "image/png")}
        image_id = http.post("/api/images/upload", files=files, headers=owner).json()["id"]
        pipeline = {"operations": [{"op": "grayscale"}], "format": "png"}
        assert http.post(f"/api/images/{image_id}/process", json=pipeline,
                         headers=owner).status_code == 200  # fmt: skip
        batch = {"image_ids": [image_id], "pipeline": pipeline, "method": "sync", "workers": 1}
        job_id = http.post("/api/jobs/batch", json=batch, headers=owner).json()["job_id"]
        missing = 2**31 - 1
        cases = [
            ("GET", "/api/images/{image}", None),
            ("GET", "/api/images/{image}/download", None),
            ("POST", "/api/images/{image}/process", pipeline),
            ("DELETE", "/api/images/{image}", None),
            ("GET", "/api/jobs/{job}", None),
            ("GET", "/api/jobs/{job}/events", None),
            ("GET", "/api/jobs/{job}/result", None),
            ("DELETE", "/api/jobs/{job}", None),
            ("POST", "/api/jobs/batch", {**batch, "image_ids": ["{image}"]}),
        ]
        for method, template, body in cases:
            answers = []
            for image, job in ((image_id, job_id), (missing, missing)):
                url = template.format(image=image, job=job)
                if body is not None and body.get("image_ids") == ["{image}"]:
                    body = {**body, "image_ids": [image]}
                answers.append(http.request(method, url, json=body, headers=intruder))
                if body is not None and "image_ids" in body:
                    body = {**body, "image_ids": ["{image}"]}
            taken, absent = answers
            assert taken.status_code == absent.status_code == 404, (method, template, taken.text)
            taken_body, absent_body = taken.json(), absent.json()
            assert taken_body["error_code"] == absent_body["error_code"]
            said = taken_body["message"].replace(str(image_id), "N").replace(str(job_id), "N")
            assert said == absent_body["message"].replace(str(missing), "N")
        # The owner still has everything.
        assert http.get(f"/api/images/{image_id}", headers=owner).status_code == 200
        assert http.get(f"/api/jobs/{job_id}", headers=owner).status_code == 200


# -- 13: host details are for operators ----------------------------------------------------

HOST = {"cpu_model": "Secret CPU 9000", "kernel": "6.1.0-secret", "memory_total_gib": 8191.75}
INTERPRETERS = [
    {"role": "free-threaded", "path": "/opt/secret/bin/python3.13t", "version": "3.13.5",
     "label": "3.13t", "free_threaded_build": True},
    {"role": "default-build", "unavailable": "nothing at /opt/secret/bin/python3.13"},
]  # fmt: skip


def _stored_sweep(database_url: str) -> int:
    """A sweep as the CLI stores it (the same tables the API reads), with host details."""
    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            sweep = repository.start_or_resume_sweep(
                session, "hostile-host-sweep", {"workloads": ["pillow"]}, host=HOST,
                interpreters=INTERPRETERS, library_versions={"pillow": "11.0"},
                git_commit="0123456789abcdef0123456789abcdef01234567",
            )  # fmt: skip
            repository.finish_sweep(session, sweep, "completed")
            return int(sweep.id)
    finally:
        engine.dispose()


def test_host_details_are_for_operators_only(shared: Shared) -> None:
    server, database_url = shared.server, shared.database_url
    with client(server) as http:
        plain = user(http, "user@example.com")
        register(http, "op@example.com")
        admin(database_url, "promote", "op@example.com")
        operator = bearer(login(http, "op@example.com")["access_token"])
        sweep_id = _stored_sweep(database_url)
        # Each secret is a string no other field holds by chance (a timestamp may contain "512").
        secrets = ("Secret CPU", "6.1.0-secret", "/opt/secret", "0123456789abcdef", "8191.75")
        for path in (f"/api/benchmarks/{sweep_id}", "/api/benchmarks/",
                     f"/api/benchmarks/compare?ids={sweep_id}"):  # fmt: skip
            seen = http.get(path, headers=plain)
            assert seen.status_code == 200, seen.text
            assert not [secret for secret in secrets if secret in seen.text], (path, seen.text)
            full = http.get(path, headers=operator)
            assert "0123456789abcdef" in full.text
        detail = http.get(f"/api/benchmarks/{sweep_id}", headers=plain).json()
        assert detail["host"] == {} and detail["git_commit"] is None
        # The results stay readable: which interpreter, which build.
        assert detail["interpreters"][0]["version"] == "3.13.5"
        assert detail["interpreters"][0]["free_threaded_build"] is True
        assert detail["library_versions"] == {"pillow": "11.0"}
        full = http.get(f"/api/benchmarks/{sweep_id}", headers=operator).json()
        assert full["host"] == HOST and full["interpreters"] == INTERPRETERS
