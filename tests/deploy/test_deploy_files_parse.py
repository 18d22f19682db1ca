"""Every YAML and JSON file of the deployments parses; the YAML has no tabs or trailing blanks."""

from __future__ import annotations

import json

from tests.deploy.deploy_files import deploy_files, load_all_yaml


def test_every_yaml_and_json_file_parses() -> None:
    files = deploy_files(".yml", ".yaml", ".json")
    assert len(files) >= 12, files
    for path in files:
        if path.suffix == ".json":
            assert isinstance(json.loads(path.read_text()), dict), path
        else:
            docs = load_all_yaml(path)
            assert docs and all(isinstance(d, dict) for d in docs), path


def test_no_tabs_or_trailing_whitespace_in_yaml() -> None:
    for path in deploy_files(".yml", ".yaml"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            assert "\t" not in line, f"{path}:{number}: tab"
            assert line == line.rstrip(), f"{path}:{number}: trailing whitespace"
