"""The Spaces for tests: import one's app.py (pointed at given models) and serve it on 127.0.0.1."""

import socket
from pathlib import Path

from neuroart.cli import load_space as load_app  # noqa: F401  (the tests' names for the package's helpers)
from neuroart.cli import serve_space as serve  # noqa: F401

SPACES = Path(__file__).resolve().parents[2] / "spaces"
NAMES = ["neuroart-gan", "neuroart-music", "neuroart-poetry", "neuroart-studio"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
