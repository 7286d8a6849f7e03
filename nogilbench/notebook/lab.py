"""`make lab`: JupyterLab on loopback, the notebooks folder as its root, explore.ipynb open,
the project's kernel, a token in the printed URL.

    python -m nogilbench.notebook.lab [--host 127.0.0.1] [--port 8888] [--root notebooks]
                                    [--token TOKEN] [--open explore.ipynb]

The kernel spec `nogilbench` (this environment's interpreter) is installed by
scripts/setup.sh; the notebooks name it in their metadata. Nothing is fetched from the
network: no announcements feed, no update check, no extension index. Lab's own defaults for
this environment (lab-overrides.json beside this file, copied by setup into
share/jupyter/lab/settings/overrides.json) turn off the "fetch Jupyter news?" prompt, which
the server flags cannot.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from nogilbench.report.data import PROJECT_ROOT

KERNEL_NAME = "nogilbench"
DEFAULT_ROOT = PROJECT_ROOT / "notebooks"
DEFAULT_NOTEBOOK = "explore.ipynb"


def lab_arguments(root: Path, host: str, port: int) -> list[str]:
    """Arguments of `python -m jupyterlab` for a loopback server (token: $JUPYTER_TOKEN)."""
    # Root in a container or CI is common here; Lab refuses it unless told.
    as_root = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    return [
        *as_root,
        "--no-browser",
        f"--ip={host}",
        f"--port={port}",
        "--ServerApp.port_retries=0",  # the printed URL must be the real one
        f"--ServerApp.root_dir={root}",
        f"--MappingKernelManager.default_kernel_name={KERNEL_NAME}",  # new notebooks too
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",  # no package index queries from the UI
    ]


def lab_url(host: str, port: int, token: str, notebook: str | None) -> str:
    page = f"lab/tree/{notebook}" if notebook else "lab"
    return f"http://{host}:{port}/{page}?token={token}"


def kernel_problem() -> str | None:
    """Why the project's kernel cannot start, or None when its spec runs an interpreter."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
    except NoSuchKernel:
        return f"no Jupyter kernel named {KERNEL_NAME!r}: run `make setup` (scripts/setup.sh)"
    if not spec.argv or not Path(spec.argv[0]).exists():
        return f"kernel {KERNEL_NAME!r} runs {spec.argv[:1]}, which does not exist: run make setup"
    return None


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m nogilbench.notebook.lab", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (loopback)")
    parser.add_argument("--port", type=int, default=8888, help="port (must be free)")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="folder Lab shows")
    parser.add_argument("--token", help="access token (default: a fresh random one)")
    parser.add_argument("--open", default=DEFAULT_NOTEBOOK, help="notebook the URL opens")
    args = parser.parse_args(argv)

    problem = kernel_problem()
    if problem is None and not args.root.is_dir():
        problem = f"{args.root} is not a folder"
    if problem is None and not 0 < args.port < 65536:
        problem = f"port {args.port} is out of range"
    if problem is None and port_in_use(args.host, args.port):
        problem = f"port {args.port} on {args.host} is in use: pick another (LAB_PORT=...)"
    if problem is not None:
        print(f"nogilbench lab: {problem}", file=sys.stderr)
        return 2
    token = args.token or secrets.token_urlsafe(24)
    print(f"JupyterLab: {lab_url(args.host, args.port, token, args.open)}", flush=True)
    command = [sys.executable, "-m", "jupyterlab"]
    command += lab_arguments(args.root.resolve(), args.host, args.port)
    os.environ["JUPYTER_TOKEN"] = token  # not on the command line, where `ps` would show it
    os.execv(sys.executable, command)  # Lab replaces this process: Ctrl-C stops it


if __name__ == "__main__":
    sys.exit(main())
