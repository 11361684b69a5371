"""Start the bot as `make run` does and talk to it with the team's probes.

    python scripts/probe.py [run_probes.py arguments, e.g. --cat safety --json out.json]

The probes live outside the project (ANXIN_PROBES, default
../shared/eval/run_probes.py): messages written by people who never saw the
training data, with what each reply must and must not say. The bot runs on
its own ports (RASA_PORT 5305 by default), so a `make run` may keep running.
This is a measuring tool, not a test: it prints the probe script's numbers.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.run_sh import running  # noqa: E402

PROBES = Path(os.environ.get("ANXIN_PROBES", ROOT.parent / "shared" / "eval" / "run_probes.py"))


def main() -> int:
    if not PROBES.is_file():
        print(f"✗ no probe script at {PROBES} (set ANXIN_PROBES)", file=sys.stderr)
        return 2
    rasa_port = os.environ.get("RASA_PORT", "5305")
    env = {
        **os.environ,
        "RASA_PORT": rasa_port,
        "ACTIONS_PORT": os.environ.get("ACTIONS_PORT", "5355"),
        "WEB_PORT": os.environ.get("WEB_PORT", "8385"),
        "ANXIN_LOG_DIR": str(ROOT / "var" / "probe" / "log"),
    }
    (ROOT / "var" / "probe" / "log").mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{rasa_port}"
    with running(env, ROOT / "var" / "probe" / "run.log", [f"{url}/", f"http://127.0.0.1:{env['ACTIONS_PORT']}/health"]):
        return subprocess.call([sys.executable, str(PROBES), "--url", url, *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
