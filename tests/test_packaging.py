"""Dockerfile, setup script and pyproject agree (Docker itself cannot run here)."""
from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[1]


def _instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_dockerfile_parses_and_installs_the_project():
    instructions = _instructions()
    assert instructions[0][0] == "FROM" and "python:3.11" in instructions[0][1]
    runs = " && ".join(arg for op, arg in instructions if op == "RUN")
    assert "pip install ." in runs and "synth models prepare" in runs
    copied = {shlex.split(arg)[0] for op, arg in instructions if op == "COPY"}
    packages = _pyproject()["tool"]["setuptools"]["packages"]["find"]["include"]
    assert {p.rstrip("*") for p in packages} <= copied


def test_docker_torch_matches_setup_and_pyproject():
    args = dict(re.findall(r"^ARG (\w+)=(\S+)", (ROOT / "Dockerfile").read_text(), re.M))
    setup_pin = re.search(r"torch==([\d.]+)", (ROOT / "scripts" / "setup.sh").read_text()).group(1)
    assert args["TORCH_VERSION"] == setup_pin
    torch_spec = next(d for d in _pyproject()["project"]["dependencies"] if d.startswith("torch"))
    assert setup_pin in SpecifierSet(torch_spec.removeprefix("torch"))


def test_docker_has_headless_egl_for_cpu_and_nvidia():
    text = (ROOT / "Dockerfile").read_text()
    env = " ".join(arg for op, arg in _instructions() if op == "ENV")
    assert "PYOPENGL_PLATFORM=egl" in env
    assert "graphics" in re.search(r"NVIDIA_DRIVER_CAPABILITIES=(\S+)", env).group(1).split(",")
    apt_setup = set(re.search(r"apt-get install -y -qq ([^>]+)>", (ROOT / "scripts" / "setup.sh").read_text())
                    .group(1).split())
    apt_docker = set(re.search(r"--no-install-recommends ([^&]+)&&", text).group(1).split())
    assert apt_setup <= apt_docker
    assert "libEGL_nvidia.so.0" in text


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert f"\n{ci}\n" in readme
