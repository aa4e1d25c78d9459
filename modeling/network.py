"""Offline first: one bounded check of the Hub endpoint per process, so that models already on this machine (the
installed releases, anything cached) load at once when there is no network, instead of after minutes of retries.

`import neuroart` calls `offline_if_unreachable()` (the Spaces carry a copy): unless `HF_HUB_OFFLINE` is set either
way (or `NEUROART_NETWORK_PROBE=0`), it opens one TCP connection to the Hub endpoint (`HF_ENDPOINT`, default
https://huggingface.co) with a 1-second limit. If that fails (no route, no DNS, a refused or silent port), it puts
huggingface_hub in offline mode for this process and its children: cached files load, nothing is downloaded, and
asking for a model that is not on the machine fails at once. With a network, nothing changes.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse


def offline_if_unreachable(timeout: float = 1.0) -> bool:
    """Switch huggingface_hub to offline mode when the Hub endpoint does not answer within `timeout` seconds;
    returns whether the process is offline. A no-op when `HF_HUB_OFFLINE` is set or `NEUROART_NETWORK_PROBE=0`."""
    if "HF_HUB_OFFLINE" in os.environ or os.environ.get("NEUROART_NETWORK_PROBE", "1") == "0":
        return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on")
    endpoint = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    try:
        with socket.create_connection((endpoint.hostname or "huggingface.co",
                                       endpoint.port or (443 if endpoint.scheme == "https" else 80)), timeout=timeout):
            return False
    except OSError:  # no DNS, refused, unreachable, timed out
        pass
    import huggingface_hub.constants

    os.environ["HF_HUB_OFFLINE"] = "1"  # child processes (accelerate launch, workers) inherit it
    huggingface_hub.constants.HF_HUB_OFFLINE = True  # read at call time by huggingface_hub and transformers
    return True


__all__ = ["offline_if_unreachable"]
