"""A library's worker run as a subprocess for a check: its output goes to a log file that a
failed check prints, and it dies with the check's process if that is killed."""
import ctypes
import os
import signal
import subprocess
import sys
import tempfile


def _die_with_parent():
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class WorkerProcess:
    def __init__(self, prefix, argv, cwd, env=None):
        self.log = tempfile.NamedTemporaryFile(prefix=prefix, suffix=".log", delete=False)
        self.process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                        preexec_fn=_die_with_parent)

    def output(self):
        with open(self.log.name) as f:
            return f.read()

    def fail(self, why):
        print("FAILED:", why)
        print("---- worker log ----")
        print(self.output()[-6000:])
        sys.exit(1)

    def cleanup(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.unlink(self.log.name)
