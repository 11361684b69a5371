"""No keys, tokens or passwords in the repository (scripts/check_secrets.py):
credentials come from environment variables only."""

from __future__ import annotations

import re

import pytest
import yaml

from scripts.check_secrets import ROOT, repository_files, scan, scan_text


def test_repository_files_hold_no_secrets():
    files = repository_files()
    assert any(path.name == "endpoints.yml" for path in files)
    findings = scan(files)
    assert not findings, "\n".join(map(str, findings))


# Put together at run time, so that this file itself holds none of them.
PLANTED = [
    "aws = " + '"AKIA' + "ABCDEFGHIJKLMNOP" + '"',
    "WECHAT_APP" + 'SECRET = "9f2c4e6a8b0d1f3e' + '5a7c9e1b3d5f7a9c"',
    "pass" + "word: Zq8rT2mV" + "x9LpW4sK",
    "auth_" + "token=Zq8rT2mVx9" + "LpW4sKa1",
    "url: postgresql://anxin:" + "Hunter2Secret99" + "@db:5432/anxin",
    "-----BEGIN OPENSSH " + "PRIVATE KEY-----",
    "gh" + "p_abcdefghijklmnopqrstuvwxyz" + "ABCDEFGHIJ",
]


@pytest.mark.parametrize("line", PLANTED, ids=range(len(PLANTED)))
def test_planted_secrets_are_found(line):
    assert scan_text("planted", line)


@pytest.mark.parametrize(
    "line",
    [
        "X-Anxin-Action-Secret: ${ANXIN_ACTION_SECRET}",
        'SECRET_HEADER = "X-Anxin-Action-Secret"',
        'WECHAT_ENV = {"WECHAT_APPSECRET": "test-secret"}',
        "url: postgresql://postgres@127.0.0.1:5432/anxin",
        'API_TOKEN = "test-api-token-" + uuid.uuid4().hex',
        "token = settings.token",
    ],
)
def test_settings_names_and_stand_ins_are_not_findings(line):
    assert not scan_text("fine", line)


def _leaves(node, path=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, str(key)))
    elif isinstance(node, list):
        for value in node:
            yield from _leaves(value, path)
    else:
        yield path, node


@pytest.mark.parametrize("name", ["endpoints.yml", "endpoints.scaled.yml", "credentials.yml"])
def test_config_files_take_secrets_from_the_environment(name):
    path = ROOT / name
    if not path.exists():
        pytest.skip(f"{name} not present")
    secretish = re.compile(r"(?i)secret|token|password|passwd|api_?key|aes|auth")
    for keys, value in _leaves(yaml.safe_load(path.read_text(encoding="utf-8")) or {}):
        if keys and secretish.search(keys[-1]) and value not in (None, ""):
            assert re.fullmatch(r"\$\{[A-Z0-9_]+\}", str(value)), f"{name}: {'.'.join(keys)} is not an ${{ENV}}"
