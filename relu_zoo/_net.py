"""Whether hosts answer: a TCP probe, so that a download without network fails in seconds, not minutes.

Used before TFDS downloads a dataset (`relu_zoo.tasks.tfds_data`) and before a checkpoint's weights are
downloaded (`relu_zoo.pretrained`).
"""

import socket
import threading
import time
import urllib.parse
import urllib.request

PROBE_TIMEOUT = 5.0  # seconds for every download host together: well inside the 60 s a user waits offline


def url_address(url):
    """The `(host, port)` a download of `url` connects to: its own, or that of the proxy set for its scheme
    (`https_proxy`, `http_proxy`, honouring `no_proxy`)."""
    parts = urllib.parse.urlsplit(url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(parts.hostname):
        parts = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


def unreachable(addresses, timeout=PROBE_TIMEOUT):
    """The `(host, port)` pairs that do not accept a TCP connection within `timeout` seconds, as
    `[(host, port, reason)]`; `[]` when all answer.

    All are tried at once, each in a daemon thread, and waited for `timeout` seconds in all: a DNS lookup
    that hangs (it ignores socket timeouts) is given up on, not waited for.
    """
    results = {}

    def connect(address):
        try:
            socket.create_connection(address, timeout=timeout).close()
            results[address] = None
        except OSError as e:
            results[address] = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__

    threads = [threading.Thread(target=connect, args=(address,), daemon=True) for address in addresses]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    waited = f"no answer within {timeout:g} s"
    return [(host, port, results.get((host, port), waited)) for host, port in addresses
            if results.get((host, port), waited) is not None]
