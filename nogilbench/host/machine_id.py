"""Which machine this is, across reboots and identical hardware: systemd's machine id.

Two hosts with the same CPU, cores and memory are told apart only by this. A sweep records it
so that resuming on another machine is refused (`store.repository.resume_conflict`).

The raw id is confidential (machine-id(5): "should be considered confidential"), and sweeps
are exported as bundles and committed to repositories, so what is stored is an
application-specific digest of it (HMAC-SHA256 keyed by the id, as
sd_id128_get_machine_app_specific does): stable on one machine, useless elsewhere.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from pathlib import Path

# systemd's file first; D-Bus keeps a copy (or the only one, without systemd).
MACHINE_ID_FILES = (Path("/etc/machine-id"), Path("/var/lib/dbus/machine-id"))
_APPLICATION = b"nogilbench host identity v1"
_ID = re.compile(r"^[0-9a-f]{32}$")
UNKNOWN = (
    "unknown: neither /etc/machine-id nor /var/lib/dbus/machine-id holds a machine id "
    "(a resumed sweep cannot be told from one on identical hardware)"
)


def read_machine_id(files: Sequence[Path] = MACHINE_ID_FILES) -> str | None:
    """The first valid 32-hex-digit id of `files`, or None (absent, empty or "uninitialized")."""
    for path in files:
        try:
            text = path.read_text(encoding="ascii", errors="replace").strip().lower()
        except OSError:
            continue
        if _ID.match(text):
            return text
    return None


def machine_id(files: Sequence[Path] = MACHINE_ID_FILES) -> str | None:
    """This machine's app-specific id (32 hex digits), or None when it has none."""
    raw = read_machine_id(files)
    if raw is None:
        return None
    return hmac.new(bytes.fromhex(raw), _APPLICATION, hashlib.sha256).hexdigest()[:32]
