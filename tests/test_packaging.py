"""The set-up files agree: environment.yml, pyproject.toml and the pinned constraints."""

import re
import sys
from pathlib import Path

import pytest
import yaml

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[; ]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject_names() -> set[str]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(meta["dependencies"])
    for extra in meta["optional-dependencies"].values():
        reqs += extra
    return {_name(r) for r in reqs}


def _conda_names() -> set[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    names = {_name(d) for d in env["dependencies"] if isinstance(d, str)}
    return names - {"python", "pip"}


def test_environment_yml_names_the_same_packages_as_pyproject():
    conda, pip = _conda_names(), _pyproject_names()
    assert conda == pip, f"only in environment.yml: {sorted(conda - pip)}; only in pyproject.toml: {sorted(pip - conda)}"


def test_environment_yml_is_a_conda_forge_environment():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["name"] == "response-geometry"
    assert env["channels"][0] == "conda-forge"


@pytest.mark.parametrize("lock", ["constraints.txt", "constraints-py310.txt"])
def test_every_dependency_is_pinned_exactly(lock):
    pins = {}
    for line in (ROOT / "requirements" / lock).read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"{lock}: expected an exact pin 'name==version', got {line!r}"
            pins[_name(name)] = version
    missing = _pyproject_names() - set(pins)
    assert not missing, f"{lock} does not pin {sorted(missing)}"


def test_installed_versions_match_the_lock():
    """The environment the tests run in is the pinned one (so nbval's numbers are the pinned ones)."""
    from importlib.metadata import version

    lock = "constraints-py310.txt" if sys.version_info[:2] == (3, 10) else "constraints.txt"
    pins = dict(
        line.split("==") for line in (ROOT / "requirements" / lock).read_text().splitlines()
        if line and not line.startswith("#")
    )
    for pkg in ("jax", "jaxlib", "numpy", "matplotlib", "scikit-image", "optax"):
        assert version(pkg) == pins[pkg], f"{pkg}: expected {pins[pkg]} from {lock}, got {version(pkg)}"
