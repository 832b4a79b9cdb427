"""The package as a user installs it: Debian's python3 makes a venv
(python3-venv; --system-site-packages for python3-setuptools and wheel),
pip installs clients/python offline (--no-build-isolation --no-index),
and a script run by the venv's python imports fanoutd from the venv and
sends a batch to the daemon, with both clients.

pip builds inside the directory it is given, so it gets a copy (the
source tree is read-only under distcheck).
"""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from .support import TOKEN, URL, needs_daemon

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCRIPT = r"""
import asyncio, os, sys, fanoutd, fanoutd.aio
print(os.path.dirname(fanoutd.__file__))
up = os.environ["FANOUTD_TEST_UPSTREAM"]
b = fanoutd.Client().batch([up + "/text/3", up + "/status/500"])
print(sorted((r["index"], r["status"]) for r in b), b.summary["ok"])
async def main():
    b = await fanoutd.aio.Client().batch([up + "/text/2"])
    print([r["body"] async for r in b], b.summary["total"])
asyncio.run(main())
print(fanoutd.__version__)
"""


@needs_daemon
class Installed(unittest.TestCase):

    def run_ok(self, *argv, **kw):
        p = subprocess.run(argv, capture_output=True, text=True,
                           timeout=240, **kw)
        self.assertEqual(p.returncode, 0,
                         f"{' '.join(argv)}:\n{p.stdout}\n{p.stderr}")
        return p.stdout

    def test_pip_installs_it_offline_and_it_works_from_the_venv(self):
        work = tempfile.mkdtemp(prefix="fanoutd-pip.")
        self.addCleanup(shutil.rmtree, work)
        src = os.path.join(work, "src")
        shutil.copytree(SRC, src, ignore=shutil.ignore_patterns(
            "__pycache__", "build", "*.egg-info"))
        venv = os.path.join(work, "venv")
        self.run_ok("/usr/bin/python3", "-m", "venv",
                    "--system-site-packages", venv)
        py = os.path.join(venv, "bin", "python")
        env = {k: v for k, v in os.environ.items()
               if k not in ("PYTHONPATH", "PIP_INDEX_URL")}
        env.update(FANOUTD_URL=URL, FANOUTD_TOKEN=TOKEN,
                   PIP_DISABLE_PIP_VERSION_CHECK="1")
        self.run_ok(py, "-m", "pip", "install", "--no-build-isolation",
                    "--no-index", "--quiet", src, env=env, cwd=work)
        out = self.run_ok(py, "-c", SCRIPT, env=env, cwd=work).splitlines()
        site = self.run_ok(py, "-c", "import sysconfig; print(sysconfig."
                           "get_paths()['purelib'])", env=env).strip()
        self.assertEqual(out[0], os.path.join(site, "fanoutd"))
        self.assertEqual(out[1:], ["[(0, 200), (1, 500)] 1", "['ab'] 1",
                                   _version()])


def _version() -> str:
    ns: dict = {}
    with open(os.path.join(SRC, "fanoutd", "_version.py")) as f:
        exec(f.read(), ns)
    return ns["__version__"]


if __name__ == "__main__":
    unittest.main(argv=sys.argv)
