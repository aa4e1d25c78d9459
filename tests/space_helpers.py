"""Import a Space's app.py from spaces/<name>/ (pointed at given models) and serve it on 127.0.0.1 for a test."""

import contextlib
import importlib.util
import os
import socket
import sys
from pathlib import Path

SPACES = Path(__file__).resolve().parents[1] / "spaces"
NAMES = ["neuroart-gan", "neuroart-music", "neuroart-poetry", "neuroart-studio"]


def load_app(name: str, models_root):
    """Import spaces/<name>/app.py as a fresh module, with NEUROART_*_MODEL pointing into `models_root`."""
    from neuroart.cli import space_env

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    module_name = "space_" + name.replace("-", "_")
    spec = importlib.util.spec_from_file_location(module_name, SPACES / name / "app.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    variables = space_env(models_root)
    saved = {key: os.environ.get(key) for key in variables}
    os.environ.update(variables)  # the apps read their model ids at import; later tests must not inherit them
    try:
        spec.loader.exec_module(module)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return module


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serve(app):
    """Launch `app.demo` on a free loopback port (as `python app.py` would: models loaded first, the upload cap);
    yield the URL."""
    app.load()
    _, url, _ = app.demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True,
                                quiet=True, max_file_size="1mb")
    try:
        yield url
    finally:
        app.demo.close()
