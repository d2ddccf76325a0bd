# SPDX-License-Identifier: BSD-3-Clause
"""What the simulator's property scripts share: running maskwire-sim for
its JSON output, and checks that count failures and print the command
line (with its seed) of each."""
import json
import subprocess

failures = 0


def run(sim, args):
    """(command, exit status, parsed JSON or None, raw stdout)."""
    cmd = [sim] + [str(a) for a in args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    try:
        out = json.loads(p.stdout)
    except ValueError:
        out = None
    return cmd, p.returncode, out, p.stdout


def check(cond, cmd, what, out=None):
    global failures
    if not cond:
        failures += 1
        print("FAIL: %s\n  command: %s\n  output: %s" %
              (what, " ".join(cmd), json.dumps(out)))
