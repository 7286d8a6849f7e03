"""The test Redis server starts, answers, is emptied per test and stops."""

from __future__ import annotations

import socket

from tests.support.redis import RedisServer


def _command(server: RedisServer, *words: str) -> bytes:
    payload = f"*{len(words)}\r\n".encode()
    for word in words:
        payload += f"${len(word)}\r\n{word}\r\n".encode()
    with socket.create_connection((server.host, server.port), timeout=5) as connection:
        connection.sendall(payload)
        return connection.recv(64)


def test_the_session_server_answers_and_starts_empty(
    redis_server: RedisServer, redis_url: str
) -> None:
    assert redis_url == redis_server.url
    assert _command(redis_server, "SET", "k", "v").startswith(b"+OK")
    assert _command(redis_server, "DBSIZE") == b":1\r\n"


def test_a_private_server_stops() -> None:
    server = RedisServer()
    with server:
        assert server.ping()
    assert not server.ping()
