"""dqfl.console.leave: the exit code and the exit handlers survive skipping the teardown."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60
    )


def test_leave_runs_the_exit_handlers_flushes_and_keeps_the_code(tmp_path):
    marker = tmp_path / "handler-ran"
    done = _python(
        f"""
        import atexit, pathlib, sys
        from dqfl.console import leave
        atexit.register(lambda: pathlib.Path({str(marker)!r}).write_text("yes"))
        sys.stdout.write("unflushed output")
        leave(3)
        print("not reached")
        """
    )
    assert done.returncode == 3
    assert done.stdout == "unflushed output"
    assert marker.read_text() == "yes"


def test_leave_lets_python_exit_as_usual_while_a_thread_still_runs():
    done = _python(
        """
        import threading, time
        from dqfl.console import leave
        threading.Thread(target=lambda: (time.sleep(0.3), print("thread finished"))).start()
        leave(0)
        print("left to Python")
        """
    )
    assert done.returncode == 0
    assert done.stdout.splitlines() == ["left to Python", "thread finished"]


def test_leave_passes_a_message_code_to_python():
    done = _python("from dqfl.console import leave\nleave('a message')\nprint('left to Python')")
    assert (done.returncode, done.stdout.strip()) == (0, "left to Python")
