"""Running the measured programs: bounded in time, output kept, JSON parsed.

Contract: run() never blocks longer than its timeout (plus a few seconds to
kill): the child gets its own process group, and on timeout the group gets
SIGTERM, then SIGKILL. It returns a Result whatever happened; StageError
carries a one-line reason and the stderr tail up to the stage, which records
it as a failure and lets the run go on.
"""
import json
import os
import shlex
import signal
import subprocess
import tempfile
import time

STDERR_TAIL_LINES = 25


class StageError(Exception):
    """A stage (or one of its runs) could not produce its figure."""

    def __init__(self, message, stderr_tail=None, command=None):
        super().__init__(message)
        self.stderr_tail = stderr_tail
        self.command = command


class Result:
    def __init__(self, argv, rc, stdout, stderr, seconds, timed_out, limit):
        self.argv = argv
        self.limit = limit
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.seconds = seconds
        self.timed_out = timed_out
        self.max_rss_kib = None
        self.cpu_s = None

    @property
    def command(self):
        return shlex.join(str(a) for a in self.argv)

    def stderr_tail(self, lines=STDERR_TAIL_LINES):
        return tail(self.stderr, lines)

    def why(self):
        """One line saying how the program ended, for a failed stage."""
        name = os.path.basename(str(self.argv[0]))
        if self.timed_out:
            return f"{name} did not finish within its limit of {self.limit:.0f} s"
        if self.rc is not None and self.rc < 0:
            try:
                sig = signal.Signals(-self.rc).name
            except ValueError:
                sig = f"signal {-self.rc}"
            hint = " (out of memory?)" if self.rc == -signal.SIGKILL else ""
            return f"{name} was killed by {sig}{hint}"
        last = tail(self.stderr, 1).strip()
        return f"{name} exited with status {self.rc}" + (f": {last}" if last else "")


def tail(text, lines=STDERR_TAIL_LINES):
    if not text:
        return ""
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])


def _signal_group(pid, sig):
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


def _reap(pid, timeout_s):
    """os.wait4 with a time limit: (status, rusage), or None if still running."""
    deadline = time.monotonic() + timeout_s
    while True:
        got, status, usage = os.wait4(pid, os.WNOHANG)
        if got:
            return status, usage
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.02)


def run(argv, timeout_s, log=None, cwd=None, env=None, stdout_path=None):
    """Runs argv to completion or until timeout_s. With stdout_path, stdout
    goes to that file (for large outputs) and Result.stdout is "". The child
    is reaped with wait4, so Result has its peak RSS and CPU time."""
    argv = [str(a) for a in argv]
    if log:
        log(f"$ {shlex.join(argv)}")
    start = time.monotonic()
    with tempfile.TemporaryFile() as out_tmp, tempfile.TemporaryFile() as err_tmp:
        out_f = open(stdout_path, "wb") if stdout_path else out_tmp
        try:
            child = subprocess.Popen(argv, stdout=out_f, stderr=err_tmp, stdin=subprocess.DEVNULL,
                                     cwd=cwd, env=env, start_new_session=True)
        except OSError as e:
            if stdout_path:
                out_f.close()
            return Result(argv, 127, "", f"{argv[0]}: {e.strerror}", 0.0, False, timeout_s)
        timed_out = False
        try:
            got = _reap(child.pid, timeout_s)
        except KeyboardInterrupt:
            # The child is in its own session: the terminal's ^C missed it.
            _signal_group(child.pid, signal.SIGKILL)
            os.waitpid(child.pid, 0)
            child.returncode = -signal.SIGKILL
            raise
        if got is None:
            timed_out = True
            _signal_group(child.pid, signal.SIGTERM)
            got = _reap(child.pid, 5.0)
            if got is None:
                _signal_group(child.pid, signal.SIGKILL)
                got = _reap(child.pid, 3600.0)
        status, usage = got
        # Reaped here, not by Popen: tell it so it does not wait again.
        child.returncode = os.waitstatus_to_exitcode(status)
        if stdout_path:
            out_f.close()
        out_tmp.seek(0)
        err_tmp.seek(0)
        result = Result(argv, child.returncode,
                        "" if stdout_path else out_tmp.read().decode("utf-8", "replace"),
                        err_tmp.read().decode("utf-8", "replace"),
                        time.monotonic() - start, timed_out, timeout_s)
    result.max_rss_kib = usage.ru_maxrss
    result.cpu_s = usage.ru_utime + usage.ru_stime
    return result


def run_json(argv, timeout_s, log=None, measured_failure=False, **kw):
    """Runs a program that prints one JSON object on stdout and returns
    (object, Result); raises StageError if it failed or printed something
    else. With measured_failure, exit status 1 with a JSON object is
    returned too: the measurement programs exit 1 when a measurement failed
    (lost packets, differing verdicts) and still print what they measured,
    which the caller keeps beside the error (see measured_error)."""
    r = run(argv, timeout_s, log=log, **kw)
    if r.timed_out or r.rc != 0:
        obj = parse_json_object(r.stdout) if measured_failure and r.rc == 1 else None
        if obj is not None:
            return obj, r
        raise StageError(r.why(), r.stderr_tail(), r.command)
    obj = parse_json_object(r.stdout)
    if obj is None:
        raise StageError(
            f"{os.path.basename(argv[0])} printed no JSON object on stdout",
            tail(r.stdout, 5) + "\n" + r.stderr_tail(),
            r.command,
        )
    return obj, r


def measured_error(obj, r):
    """None for a measurement that succeeded; else why it failed, in the
    program's own words when it gave them."""
    if r.rc == 0:
        return None
    err = obj.get("error") if isinstance(obj, dict) else None
    return f"{os.path.basename(str(r.argv[0]))}: {err}" if err else r.why()


def parse_json_object(text):
    """The one JSON object a program printed; tolerates lines of chatter
    before it (a library's banner), never after."""
    text = text.strip()
    if not text:
        return None
    try:
        obj = json.loads(text)
        return obj if isinstance(obj, dict) else None
    except ValueError:
        pass
    lines = text.splitlines()
    for i in range(len(lines)):
        if lines[i].lstrip().startswith("{"):
            try:
                obj = json.loads("\n".join(lines[i:]))
                if isinstance(obj, dict):
                    return obj
            except ValueError:
                continue
    return None


def need(obj, *path):
    """obj[path[0]][path[1]]...; StageError naming the missing key."""
    cur = obj
    for i, key in enumerate(path):
        if not isinstance(cur, dict) or key not in cur:
            raise StageError("output has no " + ".".join(str(p) for p in path[: i + 1]))
        cur = cur[key]
    return cur


def failed(error, stderr_tail=None, command=None, **extra):
    d = {"status": "failed", "error": str(error)}
    if stderr_tail:
        d["stderr_tail"] = stderr_tail
    if command:
        d["command"] = command
    d.update(extra)
    return d


def from_error(e, **extra):
    return failed(str(e), e.stderr_tail, e.command, **extra)
