""".env.example lists every service setting once, each with its real default: a value it
shows parses to the default, and an empty one stands for a default that is no literal (None,
the usable cores, the project's data folder)."""

from __future__ import annotations

import re

import pytest

from api.core.settings import Settings
from tests.support import ROOT

EXAMPLE = ROOT / ".env.example"
ASSIGNMENT = re.compile(r"^# ([A-Z][A-Z0-9_]*)=(.*)$")


def _entries() -> dict[str, str]:
    entries: dict[str, str] = {}
    lines = EXAMPLE.read_text().splitlines()
    for number, line in enumerate(lines):
        match = ASSIGNMENT.match(line)
        if match is None:
            continue
        name, value = match.groups()
        assert name not in entries, f"{name} twice"
        comment = lines[number - 1]
        assert comment.startswith("# ") and not ASSIGNMENT.match(comment), f"{name}: no comment"
        entries[name] = value
    return entries


def test_every_setting_is_listed_once_and_nothing_else() -> None:
    assert set(_entries()) == {name.upper() for name in Settings.model_fields}


def test_no_line_is_active() -> None:
    # Copied to .env it must change nothing: every assignment stays commented out.
    active = [line for line in EXAMPLE.read_text().splitlines() if line and line[0] != "#"]
    assert active == []


@pytest.mark.parametrize("name", sorted(_entries()))
def test_each_value_is_the_default(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in _entries():
        monkeypatch.delenv(variable, raising=False)
    field = name.lower()
    default = getattr(Settings(_env_file=None), field)
    value = _entries()[name]
    if value == "":
        info = Settings.model_fields[field]
        assert info.default is None or info.default_factory is not None or field == "data_dir"
        return
    monkeypatch.setenv(name, value)
    assert getattr(Settings(_env_file=None), field) == default
