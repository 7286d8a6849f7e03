"""The host's machine id: read from systemd's or D-Bus's file, stored only as a digest, and a
sweep resumed on another machine (identical hardware) is refused in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session

from nogilbench.errors import InvalidParameter
from nogilbench.host.interpreters import host_info
from nogilbench.host.machine_id import machine_id, read_machine_id
from nogilbench.store import repository

A = "0123456789abcdef0123456789abcdef"
B = "fedcba9876543210fedcba9876543210"


def test_first_valid_file_wins_and_only_a_digest_is_kept(tmp_path: Path) -> None:
    systemd, dbus = tmp_path / "machine-id", tmp_path / "dbus-machine-id"
    dbus.write_text(B + "\n")
    assert read_machine_id([systemd, dbus]) == B  # systemd's file absent: D-Bus's copy
    systemd.write_text(A + "\n")
    assert read_machine_id([systemd, dbus]) == A
    digest = machine_id([systemd, dbus])
    assert digest is not None and len(digest) == 32 and A not in digest
    assert digest == machine_id([systemd]) != machine_id([dbus])


@pytest.mark.parametrize("content", [None, "", "uninitialized\n", "not-hex" * 5])
def test_absent_or_invalid_is_none(tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "machine-id"
    if content is not None:
        path.write_text(content)
    assert machine_id([path]) is None


def test_host_record_has_the_key() -> None:
    host = host_info()
    assert "machine_id" in host
    assert host["machine_id"] == machine_id()


def test_resume_on_another_machine_is_refused(tmp_path: Path) -> None:
    engine = repository.open_store(f"sqlite:///{tmp_path / 'store.db'}")
    host = {"cpu_model": "x", "logical_cores": 2, "usable_cores": 2}
    python = [{"label": "cpython-3.13.5t", "path": "/a/python", "version": "3.13.5"}]
    here = {**host, "machine_id": machine_id_of(tmp_path, A)}
    there = {**host, "machine_id": machine_id_of(tmp_path, B)}
    with Session(engine) as session:
        repository.start_or_resume_sweep(session, "s", {}, host=here, interpreters=python)
        repository.start_or_resume_sweep(session, "s", {}, host=here, interpreters=python)
        with pytest.raises(InvalidParameter, match="another host \\(machine_id") as caught:
            repository.start_or_resume_sweep(session, "s", {}, host=there, interpreters=python)
    assert "\n" not in str(caught.value)
    engine.dispose()


def machine_id_of(folder: Path, raw: str) -> str | None:
    path = folder / f"id-{raw[:4]}"
    path.write_text(raw)
    return machine_id([path])
