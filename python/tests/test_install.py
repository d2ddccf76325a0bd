# SPDX-License-Identifier: BSD-3-Clause
"""pip installs the package offline and the installed maskwire works
without path edits.

A copy of python/ (pyproject.toml, setup.py, maskwire/) is installed with
`pip install --no-build-isolation --no-index` into a fresh venv
(--system-site-packages, so numpy and torch stay visible). From another
directory, with no PYTHONPATH, MASKWIRE_LIB or LD_LIBRARY_PATH, the
venv's python imports maskwire and maskwire.torch from the venv, loads the
libmaskwire.so copied into the package, shows typed signatures in help(),
and sends a tensor through the loopback data plane. $MASKWIRE_LIB still
comes first. Installed without a library, import works and loading names
every place it looked.

Needs python3-pip, python3-setuptools, python3-wheel and python3-venv
(Debian); exits 77 (skipped) without them. Environment: MW_LOOPBACK,
MASKWIRE_LIB (set by meson).
"""

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

NEEDS = ("pip", "setuptools", "wheel", "venv", "numpy", "torch")
missing = [m for m in NEEDS if importlib.util.find_spec(m) is None]
if missing:
    print(f"skipped: no {', '.join(missing)} (Debian: python3-pip, "
          f"python3-setuptools, python3-wheel, python3-venv, python3-numpy, "
          f"python3-torch)")
    sys.exit(77)

from test_maskwire import LOOPBACK, Loopback, region_name  # noqa: E402

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIB = os.environ.get("MASKWIRE_LIB")

CHILD = textwrap.dedent("""
    import pydoc, sys, numpy as np
    import maskwire, maskwire.torch
    print("file", maskwire.__file__)
    print("torch", maskwire.torch.__file__)
    print("lib", maskwire.library_path())
    doc = pydoc.render_doc(maskwire.Client.send, renderer=pydoc.plaintext)
    print("typed", "timeout: Optional[float] = None" in doc)
    doc = pydoc.render_doc(maskwire.torch.Boundary, renderer=pydoc.plaintext)
    print("documented", "receives the server's gradients" in doc)
    with maskwire.Client(sys.argv[1], timeout=10) as c:
        c.send(np.arange(5, dtype=np.float32), tag=3, wait=True, timeout=10)
        rx = c.recv(timeout=10, copy=True)
        print("roundtrip", rx.tag, rx.array.tolist())
""")


class Install(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mw-install-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def install(self, name, lib):
        """Copy python/ to tmp/name-src, install it into tmp/name: the
        venv's python."""
        src = os.path.join(self.tmp, name + "-src")
        shutil.copytree(SRC, src, ignore=shutil.ignore_patterns(
            "tests", "build", "*.egg-info", "__pycache__"))
        venv = os.path.join(self.tmp, name)
        subprocess.run([sys.executable, "-m", "venv",
                        "--system-site-packages", "--without-pip", venv],
                       check=True)
        py = os.path.join(venv, "bin", "python")
        env = self.env(MASKWIRE_LIB=lib)
        p = subprocess.run([py, "-m", "pip", "install", "--no-index",
                            "--no-build-isolation", "--no-cache-dir", src],
                           env=env, cwd=self.tmp, timeout=120,
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stdout[-3000:] + p.stderr)
        pkg = subprocess.run(
            [py, "-c", "import sysconfig; print(sysconfig.get_paths()"
             "['platlib'])"], capture_output=True, text=True, check=True,
            cwd=self.tmp, env=self.env()).stdout.strip()
        return venv, py, os.path.join(pkg, "maskwire")

    def env(self, **kw):
        # meson's LD_LIBRARY_PATH holds the build tree's library
        env = {k: v for k, v in os.environ.items()
               if k not in ("PYTHONPATH", "MASKWIRE_LIB", "LD_LIBRARY_PATH")}
        env.update({k: v for k, v in kw.items() if v is not None})
        return env

    def child(self, py, *args, **env):
        return subprocess.run([py, "-c", CHILD, *args], env=self.env(**env),
                              cwd=self.tmp, timeout=120,
                              capture_output=True, text=True)

    def test_installed_package_works_without_paths(self):
        venv, py, pkg = self.install("venv", LIB)
        with open(LIB, "rb") as a, \
                open(os.path.join(pkg, "libmaskwire.so"), "rb") as b:
            self.assertTrue(a.read() == b.read(), "bundled library differs")
        site = os.path.join(venv, "lib")
        name = region_name("install")
        lb = Loopback(name)
        self.addCleanup(lambda: os.path.exists("/dev/shm/" + name) and
                        os.unlink("/dev/shm/" + name))
        self.addCleanup(lb.term)
        p = self.child(py, name)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = dict(line.split(" ", 1) for line in p.stdout.splitlines())
        self.assertTrue(out["file"].startswith(site), out["file"])
        self.assertTrue(out["torch"].startswith(site), out["torch"])
        self.assertTrue(out["lib"].startswith(site) and
                        out["lib"].endswith("maskwire/libmaskwire.so"),
                        out["lib"])
        self.assertEqual(out["typed"], "True")
        self.assertEqual(out["documented"], "True")
        self.assertEqual(out["roundtrip"], "3 [0.0, 1.0, 2.0, 3.0, 4.0]")
        # $MASKWIRE_LIB comes first, and alone
        p = self.child(py, name, MASKWIRE_LIB="/nonexistent/libmaskwire.so")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("ImportError: libmaskwire.so not found", p.stderr)
        self.assertIn("/nonexistent/libmaskwire.so:", p.stderr)

    def test_installed_without_library(self):
        venv, py, pkg = self.install("bare", None)
        self.assertTrue(os.path.exists(os.path.join(pkg, "torch.py")))
        self.assertFalse(os.path.exists(os.path.join(pkg, "libmaskwire.so")))
        p = self.child(py, "unused")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("ImportError: libmaskwire.so not found", p.stderr)
        p = self.child(py, "unused", MASKWIRE_LIB=LIB)  # still loads it
        self.assertIn("lib " + LIB, p.stdout, p.stderr)


if __name__ == "__main__":
    if not LOOPBACK or not LIB:
        print("skipped: MW_LOOPBACK or MASKWIRE_LIB not set (run through "
              "meson test)")
        sys.exit(77)
    prog = unittest.main(exit=False, verbosity=2)
    sys.exit(0 if prog.result.wasSuccessful() else 1)
