"""image/requirements.lock pins every runtime dependency of pyproject.toml, at a version that meets
its specifier, and nothing twice (regenerate with scripts/build-image --lock). No image needed."""

from __future__ import annotations

import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from support.image import ROOT


def pins() -> dict[str, Version]:
    found: dict[str, Version] = {}
    for line in (ROOT / "image" / "requirements.lock").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"image/requirements.lock: {line!r} is not pinned with =="
            assert canonicalize_name(name) not in found, f"image/requirements.lock: {name} twice"
            found[canonicalize_name(name)] = Version(version)
    return found


def test_every_runtime_dependency_is_pinned_within_its_specifier() -> None:
    pinned = pins()
    wanted = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    problems = []
    for text in wanted:
        requirement = Requirement(text)
        version = pinned.get(canonicalize_name(requirement.name))
        if version is None or version not in requirement.specifier:
            problems.append(f"{text}: pinned {version}")
    assert problems == [], "stale image/requirements.lock (scripts/build-image --lock): " + "; ".join(
        problems
    )
