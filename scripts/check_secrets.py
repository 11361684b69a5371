"""Look for keys, tokens and passwords in the repository's files.

    python scripts/check_secrets.py        # exit 1 and list the findings, if any

Scans every file git tracks or would add (``git ls-files --cached --others
--exclude-standard``; without git, the tree minus .gitignore's usual
directories) for well-known key formats and for settings given a literal
value where a secret belongs. Secrets come from the environment only
(docs/operators.md, "Security and privacy"); YAML files name them as ``${VARIABLE}``.

Obvious stand-ins used by the tests (values that say test/fake/example/dev,
short ones, and the all-sequential WeChat test key) are not findings.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SKIP_DIRS = {".git", ".venv", "models", "var", "build", "results", "__pycache__", ".pytest_cache", ".ruff_cache"}
MAX_BYTES = 2_000_000

# Formats that are secrets wherever they appear.
KEY_FORMATS = {
    "private key": re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY( BLOCK)?-----"),
    "AWS access key": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{60,})\b"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b"),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b"),
    "OpenAI-style key": re.compile(r"\bsk-(?:proj-)?[A-Za-z0-9_\-]{32,}\b"),
    "JWT": re.compile(r"\beyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\b"),
}
# A setting named like a secret, given a literal value (code, YAML, shell, .env).
ASSIGNMENT = re.compile(
    r"""(?ix)
    (?P<name>[a-z0-9_\-]*(?:secret|token|password|passwd|api_?key|aes_?key|access_?key|private_?key)[a-z0-9_\-]*)
    ["']?\s*(?::|=|:=)\s*
    (?P<quote>["']?)(?P<value>[A-Za-z0-9+/=_\-.]{16,})(?P=quote)
    """
)
# user:password@ in a URL.
URL_PASSWORD = re.compile(r"\b[a-z][a-z0-9+.\-]*://[^/\s:@'\"]+:(?P<value>[^/\s@'\"$]{4,})@")
STAND_INS = re.compile(r"(?i)test|fake|example|dummy|sample|placeholder|changeme|dev|sim|unused|local")
# Bytes 0..31 in base64: the EncodingAESKey the WeChat tests use.
SEQUENTIAL_TEST_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    kind: str
    excerpt: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.kind}: {self.excerpt}"


def _looks_real(value: str) -> bool:
    if value == SEQUENTIAL_TEST_KEY or STAND_INS.search(value):
        return False
    if re.fullmatch(r"[A-Z_][A-Z0-9_]*", value):  # the name of another setting
        return False
    if re.fullmatch(r"[a-z_][a-z0-9_.]*", value):  # a dotted name or identifier, not a key
        return False
    if re.fullmatch(r"[A-Za-z]+(?:[-_.][A-Za-z]+)+", value):  # words: a header or setting name
        return False
    # Keys mix character kinds; words and numbers alone do not.
    kinds = sum(bool(re.search(p, value)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]"))
    return kinds >= 2


def _redact(text: str) -> str:
    return re.sub(r"([A-Za-z0-9+/_\-]{4})[A-Za-z0-9+/=_\-.]{8,}", r"\1…", text.strip())[:120]


def scan_text(path: str, text: str) -> list[Finding]:
    findings = []
    for number, line in enumerate(text.splitlines(), 1):
        for kind, pattern in KEY_FORMATS.items():
            if pattern.search(line):
                findings.append(Finding(path, number, kind, _redact(line)))
        for match in ASSIGNMENT.finditer(line):
            if _looks_real(match.group("value")):
                findings.append(Finding(path, number, f"literal value for {match.group('name')}", _redact(line)))
        for match in URL_PASSWORD.finditer(line):
            if _looks_real(match.group("value")) or len(match.group("value")) >= 8:
                if not STAND_INS.search(match.group("value")):
                    findings.append(Finding(path, number, "password in a URL", _redact(line)))
    return findings


def repository_files(root: Path = ROOT) -> list[Path]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=root,
            capture_output=True,
            check=True,
        ).stdout.decode("utf-8", errors="replace")
        return [root / name for name in listed.split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        return [
            path
            for path in root.rglob("*")
            if path.is_file() and not (set(path.relative_to(root).parts[:-1]) & SKIP_DIRS)
        ]


def scan(paths: list[Path], root: Path = ROOT) -> list[Finding]:
    findings: list[Finding] = []
    for path in paths:
        try:
            if not path.is_file() or path.stat().st_size > MAX_BYTES:
                continue
            raw = path.read_bytes()
        except OSError:
            continue
        if b"\0" in raw[:4096]:
            continue  # binary
        name = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
        findings.extend(scan_text(name, raw.decode("utf-8", errors="replace")))
    return findings


def main() -> int:
    findings = scan(repository_files())
    for finding in findings:
        print(f"✗ {finding}")
    if findings:
        print(f"{len(findings)} possible secret(s): move them to environment variables.", file=sys.stderr)
        return 1
    print("✓ no keys, tokens or passwords in the repository's files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
