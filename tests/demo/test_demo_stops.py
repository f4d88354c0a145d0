"""`gridpatrol demo` serves with gunicorn and runs the scheduler beside it; stopping it stops them all."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            children = (task / "children").read_text().split() if (task / "children").exists() else []
            for child in map(int, children):
                if child not in found:
                    found.add(child)
                    todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _serving(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz/live", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the process tree from /proc")
@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl+C"])
def test_stopping_the_demo_stops_gunicorn_and_the_scheduler(tmp_path, stop_signal):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDPATROL_")}
    demo = subprocess.Popen(
        [sys.executable, "-c", "from gridpatrol.cli import main; main()", "demo", "--history", "0",
         "--workers", "1", "--port", str(port), "--data-dir", str(tmp_path)],
        cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 240
        while not _serving(port):
            assert demo.poll() is None, "the demo exited before serving"
            assert time.monotonic() < deadline, "the demo did not serve within 240 s"
            time.sleep(0.5)
        children = _descendants(demo.pid)
        # gunicorn's master and worker, and the scheduler
        assert len(children) >= 3, children

        demo.send_signal(stop_signal)
        demo.wait(timeout=60)

        assert not _listening(port)
        assert [pid for pid in children if _alive(pid)] == []
    finally:
        if demo.poll() is None:
            for pid in _descendants(demo.pid):
                os.kill(pid, signal.SIGKILL)
            demo.kill()
            demo.wait()
