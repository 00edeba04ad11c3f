"""Render deploy/ with the real kubectl (its built-in kustomize), as an admin's `kubectl apply -k` would.

``render(overlay)`` returns the documents; a render that fails (a missing file, a bad patch) raises
``RenderError`` with kubectl's message, which names the file. ``installed_tree(tmp)`` copies
deploy/ and makes the self-managed overlay's certificates with `kvnuma webhook gen-certs`, the
way the README's install section does.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
OVERLAYS = ("cert-manager", "self-managed-certs")
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"


class RenderError(AssertionError):
    """`kubectl kustomize` failed; the message is kubectl's (it names the missing file)."""


def render(directory: Path) -> list[dict[str, Any]]:
    try:
        done = subprocess.run(
            [KUBECTL, "kustomize", str(directory)], capture_output=True, text=True, timeout=60, check=False
        )
    except FileNotFoundError:
        raise RenderError(
            f"kubectl is not installed (looked for {KUBECTL}); the deploy tests need it"
        ) from None
    if done.returncode != 0:  # klog's line: E1202 19:48:56 ... run.go:72] "command failed" err="..."
        message = done.stderr.strip()
        message = message.split(' err="', 1)[1].removesuffix('"') if ' err="' in message else message
        raise RenderError(f"kubectl kustomize {directory}: {message}")
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def make_certs(certs: Path) -> None:
    """The README's step: `kvnuma webhook gen-certs --out deploy/overlays/self-managed-certs/certs`."""
    from kvnuma.webhook.certs import generate

    generate(certs, service="kvnuma-webhook", namespace="kvnuma-system")


def installed_tree(tmp: Path) -> Path:
    """A copy of deploy/ ready to apply: the self-managed overlay has its certificates."""
    tree = tmp / "deploy"
    shutil.copytree(DEPLOY, tree, ignore=shutil.ignore_patterns("certs"))
    make_certs(tree / "overlays" / "self-managed-certs" / "certs")
    return tree


def image_reference() -> str:
    """What scripts/build-image tags (and prints with --print-image)."""
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "build-image"), "--print-image"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout.strip()


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Every container (init containers too) of a workload document; [] for other kinds."""
    if doc["kind"] not in ("Deployment", "DaemonSet", "StatefulSet", "Job"):
        return []
    pod = doc["spec"]["template"]["spec"]
    return [*pod.get("initContainers", []), *pod["containers"]]
