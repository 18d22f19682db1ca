"""The Dockerfile: pinned base image, non-root runtime, COPY sources the .dockerignore allows."""

from __future__ import annotations

import re
import tomllib

from tests.deploy.deploy_files import DOCKER, RECOVERY_DIR, ROOT, dockerfile_instructions


def test_dockerfile_pins_base_image_and_runs_as_non_root() -> None:
    instructions = dockerfile_instructions()
    bases = [rest.split()[0] for word, rest in instructions if word == "FROM"]
    assert bases, "no FROM"
    for image in bases:
        assert re.fullmatch(r"python:3\.11\.\d+-slim(-[a-z]+)?", image), (
            f"base image {image!r} must be python:3.11.<patch>-slim pinned by version tag"
        )
    final_stage = instructions[max(i for i, (w, _) in enumerate(instructions) if w == "FROM") :]
    users = [rest for word, rest in final_stage if word == "USER"]
    assert users, "the runtime stage must switch to a non-root USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), users
    assert ("ENTRYPOINT", '["roomrank"]') in final_stage
    assert ("CMD", '["run"]') in final_stage
    exposed = {p for word, rest in final_stage if word == "EXPOSE" for p in rest.split()}
    assert {"9100", "3030"} <= exposed
    volumes = [rest for word, rest in final_stage if word == "VOLUME"]
    assert any(RECOVERY_DIR in v for v in volumes)


def test_dockerfile_copies_exist_and_pass_the_dockerignore() -> None:
    ignore = (DOCKER / "Dockerfile.dockerignore").read_text().splitlines()
    patterns = [p.strip() for p in ignore if p.strip() and not p.startswith("#")]
    assert patterns[0] == "*", "allow-list .dockerignore expected"
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    sources = []
    for word, rest in dockerfile_instructions():
        if word == "COPY" and "--from=" not in rest:
            sources += rest.split()[:-1]
    assert sources
    for source in sources:
        if source.endswith("*"):  # optional file (README.md*)
            continue
        assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
        assert source.rstrip("/") in allowed, f"COPY {source}: excluded by the .dockerignore"
    # The installed packages are what pyproject packages.
    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = {p.rstrip("*") for p in include["packages"]["find"]["include"]}
    assert packages <= {s.rstrip("/") for s in sources}
