"""TLS for the webhook: 1.2 or newer only, certificate and key reloaded from files without a restart.

``CertReloader.check()`` compares the files' (inode, size, mtime) with the last load and, when they
changed, calls ``load_cert_chain`` again on the live ``SSLContext``: new handshakes present the new
certificate, open connections keep theirs. A half-written pair (cert and key not matching yet) is
not an error: the old pair stays and the next check tries again.
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path

from kvnuma.errors import InputError

__all__ = ["CertReloader", "server_context"]


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    _load(context, cert, key)
    return context


def _load(context: ssl.SSLContext, cert: Path, key: Path) -> None:
    try:
        context.load_cert_chain(str(cert), str(key))
    except FileNotFoundError as error:
        raise InputError(str(error.filename or cert), "no such file") from None
    except ssl.SSLError as error:
        raise InputError(
            f"{cert} + {key}", f"not a matching PEM certificate and key ({error.reason})"
        ) from None
    except OSError as error:
        raise InputError(f"{cert} + {key}", error.strerror or str(error)) from None


def _signature(path: Path) -> tuple[int, int, int]:
    try:
        stat = os.stat(path)
    except OSError:
        return (0, 0, 0)
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


class CertReloader:
    def __init__(self, context: ssl.SSLContext, cert: Path, key: Path) -> None:
        self.context = context
        self._cert = cert
        self._key = key
        self._seen = (_signature(cert), _signature(key))
        self.reloads = 0
        self.last_error = ""

    def check(self) -> bool:
        """Reload when the files changed; True when a new pair is now served."""
        now = (_signature(self._cert), _signature(self._key))
        if now == self._seen:
            return False
        try:
            _load(self.context, self._cert, self._key)
        except InputError as error:
            self.last_error = error.one_line()
            return False
        self._seen = now
        self.reloads += 1
        self.last_error = ""
        return True
