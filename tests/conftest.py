"""Session-wide real parts: the libvirt daemon (started here if nothing answers) and test ordering.

Tests that use the ``libvirtd`` fixture are marked ``libvirt`` automatically; tests that boot a
guest carry ``@pytest.mark.boot`` (and get ``libvirt`` too). ``-m "not boot"`` skips the slow
guest boots; boot tests always run last. If libvirtd cannot start, the fixture fails with the
reason: the real parts are never skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.libvirt import Libvirtd, LibvirtdDaemon

STATE_DIR = Path(__file__).resolve().parents[1] / ".cache" / "libvirtd"


@pytest.fixture(scope="session")
def libvirtd() -> Iterator[Libvirtd]:
    daemon = LibvirtdDaemon(STATE_DIR)
    try:
        session = daemon.acquire()
    except (RuntimeError, OSError) as error:
        failure = f"libvirtd is not available: {error}"
    else:
        failure = ""
    if failure:
        daemon.release()
        pytest.fail(failure, pytrace=False)
    session.remove_stale_domains()
    try:
        yield session
    finally:
        try:
            session.undefine_all()
        finally:
            daemon.release()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        uses_daemon = "libvirtd" in getattr(item, "fixturenames", ())
        if item.get_closest_marker("boot") is not None or uses_daemon:
            item.add_marker(pytest.mark.libvirt)
    # stable: keeps the collected order within each group, guest boots go last
    items.sort(key=lambda item: item.get_closest_marker("boot") is not None)
