"""The kvnuma image for tests: built (or reused) by scripts/build-image, run with buildah.

``podman run`` does not work on our machines (crun cannot set rlimits, cgroups are hybrid), so a
container is ``buildah from IMAGE`` and each command ``buildah run --isolation chroot --network
host``: the image's root, user (65532), environment and entry point's PATH, the host's network.
Missing tools or a failed build fail the test with the reason; nothing is skipped.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
IMAGE_USER = 65532


class ImageError(AssertionError):
    """The image could not be built or a container could not be made; the message says why."""


@functools.cache
def built_image() -> str:
    """scripts/build-image's image reference, after it built (or reused) the image."""
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "build-image")],
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise ImageError(f"scripts/build-image failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return done.stdout.strip().splitlines()[-1]


def inspect(image: str, template: str) -> str:
    return subprocess.run(
        ["podman", "image", "inspect", "--format", template, image],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()


def _volume_args(volumes: Mapping[Path, str], writable: Collection[Path] = ()) -> list[str]:
    """Read-only bind mounts, except the host folders in ``writable``."""
    mode = {host: "rw" if host in writable else "ro" for host in volumes}
    return [arg for host, inside in volumes.items() for arg in ("-v", f"{host}:{inside}:{mode[host]}")]


class Container:
    """One working container of the image; commands run in it as the image's user."""

    def __init__(self, image: str) -> None:
        done = subprocess.run(
            ["buildah", "from", "--pull-never", image],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise ImageError(f"buildah from {image}: {done.stderr.strip()}")
        self.name = done.stdout.strip()

    def command(
        self,
        argv: Sequence[str],
        volumes: Mapping[Path, str] | None = None,
        extra: Sequence[str] = (),
        writable: Collection[Path] = (),
    ) -> list[str]:
        """``extra``: more ``buildah run`` options (``-e NAME=VALUE``, ``--user 0``)."""
        return [
            "buildah", "run", "--isolation", "chroot", "--network", "host",
            *_volume_args(volumes or {}, writable), *extra, self.name, "--", *argv,
        ]  # fmt: skip

    def run(
        self, argv: Sequence[str], volumes: Mapping[Path, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(argv, volumes), capture_output=True, text=True, timeout=timeout, check=False
        )

    @contextmanager
    def background(
        self,
        argv: Sequence[str],
        volumes: Mapping[Path, str] | None = None,
        extra: Sequence[str] = (),
        writable: Collection[Path] = (),
    ) -> Iterator[subprocess.Popen[str]]:
        """The command running until the block ends (then SIGTERM to its process group)."""
        process = subprocess.Popen(
            self.command(argv, volumes, extra, writable),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.communicate()

    def remove(self) -> None:
        subprocess.run(["buildah", "rm", self.name], capture_output=True, timeout=120, check=False)


def readable_by_the_image_user(*paths: Path) -> None:
    """Mounted test files belong to the image's user, as a Secret volume's files would be readable."""
    for top in paths:
        for path in [top, *top.rglob("*")] if top.is_dir() else [top]:
            os.chown(path, IMAGE_USER, IMAGE_USER)
        parent = top if top.is_dir() else top.parent
        while parent != parent.parent and parent != Path("/tmp"):
            parent.chmod(parent.stat().st_mode | 0o055)
            parent = parent.parent
