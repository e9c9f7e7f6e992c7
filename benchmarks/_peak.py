"""Run `manage.py` with the given arguments, then print the process's peak resident memory.

The last line on stderr is `peak-rss-kb N`, from VmHWM in /proc/self/status. Unlike the
children's ru_maxrss, it counts only this program: a child forked from a large benchmark process
inherits (and ru_maxrss reports) the parent's memory until it executes Python anew.
"""

import atexit
import runpy
import sys
from pathlib import Path


def _report() -> None:
    try:
        with open("/proc/self/status") as status:
            peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return
    sys.stderr.write(f"\npeak-rss-kb {peak}\n")


atexit.register(_report)
root = Path(__file__).resolve().parents[1]
manage = root / "manage.py"
sys.path[0] = str(root)
sys.argv = [str(manage), *sys.argv[1:]]
runpy.run_path(str(manage), run_name="__main__")
