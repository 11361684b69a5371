"""The scaled profile's nginx configuration, from serving/nginx.conf.template.

    python -m serving.nginx_conf --listen 0.0.0.0:5005 --backend 5006 --backend 5007 \\
        --prefix var/nginx/5005

writes PREFIX/nginx.conf and makes PREFIX/tmp/ (scripts/run.sh does this before
starting nginx). The template's placeholders are ``@NAME@``; ``$name`` is left to nginx.
"""

from __future__ import annotations

import argparse
import grp
import os
import pwd
import re
import shutil
import sys
from pathlib import Path

TEMPLATE = Path(__file__).with_name("nginx.conf.template")
TEMP_DIRS = ("body", "proxy", "fastcgi", "uwsgi", "scgi")
# A process that refuses or drops a request is skipped this long, then tried again.
MAX_FAILS = 1
FAIL_TIMEOUT = "5s"


def find_nginx() -> str | None:
    """nginx as scripts/scaled_env.sh finds it: ANXIN_NGINX, /usr/sbin/nginx, then PATH."""
    for candidate in (os.environ.get("ANXIN_NGINX"), "/usr/sbin/nginx"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("nginx")


def backend_address(value: str) -> str:
    """A port on 127.0.0.1, or host:port as it is."""
    value = value.strip()
    if value.isdigit():
        return f"127.0.0.1:{value}"
    if not re.fullmatch(r"[\w.\-\[\]:]+:\d+", value):
        raise ValueError(f"not a port or host:port: {value!r}")
    return value


def user_directive() -> str:
    """nginx's ``user`` line: only root's workers change user, to root's own here."""
    if os.geteuid() != 0:
        return "# (not started by root: the workers are this user already)"
    return f"user {pwd.getpwuid(os.geteuid()).pw_name} {grp.getgrgid(os.getegid()).gr_name};"


def render(listen: str, backends: list[str], prefix: Path, template: str | None = None) -> str:
    if not backends:
        raise ValueError("at least one backend is needed")
    servers = [
        f"server {backend_address(b)} max_fails={MAX_FAILS} fail_timeout={FAIL_TIMEOUT};" for b in backends
    ]
    values = {
        "USER": user_directive(),
        "LISTEN": listen,
        "PREFIX": str(prefix.resolve()),
        "TRIES": str(len(servers)),  # each process once at most
        "SERVERS": servers,
    }
    text = TEMPLATE.read_text(encoding="utf-8") if template is None else template

    def fill(match: re.Match) -> str:
        indent, name = match.group(1), match.group(2)
        if name not in values:
            raise KeyError(f"unknown placeholder @{name}@ in the nginx template")
        value = values[name]
        return "\n".join(indent + line for line in value) if isinstance(value, list) else indent + value

    return re.sub(r"([ \t]*)@([A-Z_]+)@", fill, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m serving.nginx_conf", description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", required=True, help="address:port nginx listens on")
    parser.add_argument("--backend", action="append", default=[], help="a Rasa port on 127.0.0.1 or host:port (repeat)")
    parser.add_argument("--prefix", type=Path, required=True, help="nginx's folder: config, pid file, temporary files")
    args = parser.parse_args(argv)
    for name in TEMP_DIRS:
        (args.prefix / "tmp" / name).mkdir(parents=True, exist_ok=True)
    (args.prefix / "nginx.conf").write_text(render(args.listen, args.backend, args.prefix), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
