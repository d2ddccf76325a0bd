# SPDX-License-Identifier: BSD-3-Clause
"""Build step of the maskwire package (metadata: pyproject.toml): copies
libmaskwire.so into the package, so an installed maskwire needs no path.

The library copied is $MASKWIRE_LIB if set, else the one in build/ (then
build*/) of the source tree around python/. Without one the package is
installed alone and finds the library at run time ($MASKWIRE_LIB, the
system library path: maskwire.library_path())."""

import importlib.util
import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))


def _library():
    env = os.environ.get("MASKWIRE_LIB")
    if env:
        if not os.path.isfile(env):
            raise SystemExit(f"MASKWIRE_LIB={env}: no such file")
        return env
    spec = importlib.util.spec_from_file_location(
        "_mw_lib", os.path.join(HERE, "maskwire", "_lib.py"))
    lib = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lib)
    found = lib.build_tree_libs(os.path.dirname(HERE))
    return found[0] if found else None


class BuildPy(build_py):
    def run(self):
        super().run()
        lib = _library()
        dest = os.path.join(self.build_lib, "maskwire", "libmaskwire.so")
        if lib is None:
            print("maskwire: no libmaskwire.so built (meson/ninja) and "
                  "MASKWIRE_LIB unset: installing without it")
            if os.path.exists(dest):
                os.unlink(dest)  # a stale copy of an earlier build
            return
        print(f"maskwire: bundling {os.path.realpath(lib)}")
        shutil.copyfile(os.path.realpath(lib), dest)
        os.chmod(dest, 0o755)


class BinaryDistribution(Distribution):
    """A wheel holding libmaskwire.so is for this platform only."""

    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildPy}, distclass=BinaryDistribution)
