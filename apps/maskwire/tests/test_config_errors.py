#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Bad command lines: maskwire exits with status 2 and a clear message
before touching a port (the memif socket is never created) and leaves no
EAL runtime files; a port-level error (an MTU the port cannot carry) also
exits 2 and cleans up."""
import os
import shutil
import subprocess

import mwtest

CASES = [
    # (app args, text the message must contain)
    (None, "missing '--'"),
    (["--peer", "10.0.0.2"], "--ip is required"),
    (["--ip", "10.0.0.1"], "--peer"),
    (["--ip", "10.0.0.1", "--peer", "10.0.0.300"], "--peer: '10.0.0.300'"),
    (["--ip", "10.0.0.1", "--peer", "10.0.0.2:70000"], "--peer"),
    (["--ip", "10.0.0.1", "--peer", "10.0.0.2", "--tail-copy", "twice"],
     "--tail-copy: 'twice' is not off, on-loss or always"),
    (["--ip", "10.0.0.1", "--peer", "10.0.0.2", "--compact", "yes"],
     "--compact: 'yes' is not on or off"),
    (["--ip", "10.0.0.1", "--peer", "10.0.0.1"], "our own address"),
    (["--ip", "10.0.0.1", "--peer-mac", "02:00:00:00:00:01"], "must follow a --peer"),
    (["--ip", "10.0.0.1", "--peer", "10.0.0.2", "--peer-mac", "zz"], "--peer-mac"),
    (["--ip", "10.0.0.1", "--peer", "10.0.0.2", "--mtu", "100"], "--mtu"),
    (["--ip", "10.0.0.1", "--peer", "10.0.0.2", "--rx-drop", "1.5"], "--rx-drop"),
    (["--ip", "10.0.0.1", "--peer", "10.0.0.2", "--delay-ms", "20000"], "--delay-ms"),
    (["--ip", "10.0.0.1", "--peer", "10.0.0.2", "--delay-ms", "5", "--delay-frames",
      "9000"], "--delay-frames 1..8190"),
    (["--ip", "10.0.0.1", "--peer", "10.0.0.2", "--codec", "zip"], "unknown codec"),
    (["--ip", "10.0.0.1", "--peer", "10.0.0.2", "--bits", "9"], "--bits"),
    (["--ip", "10.0.0.1", "--peer", "10.0.0.2", "--ratio", "1"], "--ratio"),
    (["--ip", "10.0.0.1", "--peer", "10.0.0.2", "--gen", "5", "--shape", "4,0"], "--shape"),
    (["--ip", "10.0.0.1", "--peer", "10.0.0.2", "--gen", "1", "--shape", "1024,1024",
      "--max-tensor", "1000"], "exceeds"),
    (["--ip", "10.0.0.1", "--peer", "10.0.0.2", "--frobnicate"], "unknown option"),
    (["--ip", "10.0.0.1", "--peer", "10.0.0.2", "--gen"], "needs a value"),
    (["--ip", "10.0.0.1", "--peer", "10.0.0.2", "--capture", "/nonexistent/dir/x.pcap"],
     "cannot create"),
    (["--ip", "10.0.0.1", "--peer", "10.0.0.2", "--io-lcores", "0"], "--io-lcores: give 1..16"),
    (["--ip", "10.0.0.1", "--peer", "10.0.0.2", "--io-lcores", "17"], "--io-lcores: give 1..16"),
    (["--ip", "10.0.0.1", "--peer", "10.0.0.2", "--io-lcores", "2", "--gen", "5"],
     "give at least as many peers"),
    (["--ip", "10.0.0.1", "--peer", "10.0.0.2", "--peer", "10.0.0.3", "--io-lcores", "2",
      "--encode-workers", "--sink"], "does not go with --encode-workers"),
]


def body(run):
    mwtest.require_root()
    sock = run.path("memif.sock")
    vdev = "--vdev=net_memif0,role=server,socket=%s,socket-abstract=no" % sock
    # Security: a key or an explicit --plain; a key file others can read
    # is refused with the fix.
    key = run.keyfile()
    loose = run.path("loose.key")
    shutil.copy(key, loose)
    os.chmod(loose, 0o644)
    bad = run.path("bad.key")
    with open(bad, "w") as f:
        f.write("not a key\n")
    os.chmod(bad, 0o600)
    base = ["--ip", "10.0.0.1", "--peer", "10.0.0.2"]
    sec_cases = [
        (base, "no key: give --key FILE"),
        (base + ["--key", loose], "chmod 600"),
        (base + ["--key", bad], "not one line of a base64 32-byte key"),
        (base + ["--key", run.path("none.key")], "No such file"),
        (base + ["--key", key, "--plain"], "--plain excludes"),
        (base + ["--key", key, "--crypto", "rot13"],
         "--crypto: 'rot13' is not a backend"),
        (base + ["--plain", "--crypto", "openssl"], "--plain excludes"),
        (["--ip", "10.0.0.1", "--peer-key", key, "--peer", "10.0.0.2"],
         "--peer-key must follow a --peer"),
        (base + ["--peer-key", loose], "chmod 600"),
        (["--ip", "10.0.0.1", "--peer", "10.0.0.2", "--peer-key", key,
          "--peer", "10.0.0.3"], "no key"),
        (base + ["--peer-key", key, "--accept-peers", "4"],
         "--accept-peers in secure mode needs --key"),
    ]
    # --peers FILE: every line checked, the error names the line.
    def peers_file(name, text):
        path = run.path(name)
        with open(path, "w") as f:
            f.write(text)
        return path
    good = "# devices\n10.0.0.2\n\n10.0.0.3:47001 02:00:00:00:00:03  # static MAC\n"
    many = "".join("10.0.%d.%d\n" % (1 + i // 200, 1 + i % 200) for i in range(257))
    sec_cases += [
        (base + ["--plain", "--peers", peers_file("p1", good + "10.0.0.300\n")],
         "p1:5: '10.0.0.300' is not IP[:PORT]"),
        (base + ["--plain", "--peers", peers_file("p2", good + "10.0.0.4 zz:zz\n")],
         "p2:5:"),
        (base + ["--plain", "--peers", peers_file("p3", "10.0.0.4 02:00:00:00:00:01 "
                                                    "02:00:00:00:00:02\n")],
         "p3:1: a second MAC"),
        (base + ["--plain", "--peers", peers_file("p4", "10.0.0.4 a b c\n")],
         "p4:1:"),
        (base + ["--key", key, "--peers", peers_file("p5", "10.0.0.4 %s\n" % loose)],
         "p5:1:"),
        (base + ["--plain", "--peers", peers_file("p6", good + "10.0.0.2\n")],
         "given twice"),
        (base + ["--plain", "--peers", peers_file("p7", many)], "more than 256 peers"),
        (base + ["--plain", "--peers", run.path("nofile")], "No such file"),
        (["--ip", "10.0.0.1", "--plain", "--peers", peers_file("p8", good),
          "--accept-peers", "255"],
         "at most 256 together"),
        (base + ["--plain", "--accept-peers", "2", "--accept-from", "10.0.0.1/8"],
         "--accept-from"),
    ]
    # The other cases run plain: the key is not what they test.
    cases = [(a if a is None else ["--plain"] + a, w)
             for a, w in CASES] + sec_cases
    for i, (args, want) in enumerate(cases):
        prefix = run.prefix("c%d" % i)
        cmd = [run.binary] + mwtest.EAL_COMMON + ["--file-prefix", prefix, vdev]
        if args is not None:
            cmd += ["--"] + args
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        msg = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""
        mwtest.check(r.returncode == 2 and "maskwire: error:" in msg and want in msg,
                     "%s -> exit %d: %s" % (args, r.returncode, msg))
        mwtest.check(not os.path.exists(sock), "port untouched (no memif socket)")
        mwtest.check(not os.path.exists("/var/run/dpdk/" + prefix), "no EAL files")

    # A port that cannot carry the MTU: found after EAL start, still exit 2
    # with the reason, and the runtime files are removed.
    prefix = run.prefix("mtu")
    cmd = [run.binary] + mwtest.EAL_COMMON + [
        "--file-prefix", prefix, vdev, "--", "--ip", "10.0.0.1", "--peer", "10.0.0.2",
        "--mtu", "9000", "--key", key]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    msg = r.stderr.strip().splitlines()[-1]
    mwtest.check(r.returncode == 2 and "MTU 9000" in msg,
                 "port-level error -> exit %d: %s" % (r.returncode, msg))
    mwtest.check(not os.path.exists("/var/run/dpdk/" + prefix), "no EAL files after it")

    # --help works without EAL options and exits 0.
    r = subprocess.run([run.binary, "--help"], capture_output=True, text=True, timeout=30)
    mwtest.check(r.returncode == 0 and "--peer IP[:PORT]" in r.stdout
                 and "--peers FILE" in r.stdout and "--accept-peers N" in r.stdout, "--help")


mwtest.main(body)
