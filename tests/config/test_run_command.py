"""The README's run command boots the whole product on embedded defaults and stops on Ctrl-C."""

import contextlib
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import free_port, wait_for_http

BASE_DIR = Path(__file__).resolve().parents[2]


class Output:
    """Collects a process's combined output in the background so we can wait for lines."""

    def __init__(self, stream):
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream):
        for line in stream:
            self.lines.append(line)

    def wait_for(self, pattern: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if re.search(pattern, line):
                    return line
            time.sleep(0.2)
        raise AssertionError(f"no line matching {pattern!r} in:\n{self.text}")

    @property
    def text(self) -> str:
        return "".join(self.lines)


def processes() -> dict[int, tuple[int, int, str]]:
    """pid → (parent pid, process group, command line) of every live process (from /proc: Linux)."""
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, ppid, group = stat.read_text().rsplit(")", 1)[1].split()[:3]
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError):
            continue  # exited meanwhile
        if state != "Z":
            table[int(stat.parent.name)] = (int(ppid), int(group), cmdline.replace(b"\0", b" ").decode().strip())
    return table


def descendants(pid: int) -> dict[int, tuple[int, str]]:
    """pid → (process group, command line) of every process started under `pid`."""
    table, found, parents = processes(), {}, {pid}
    while parents:
        children = {child for child, (ppid, _, _) in table.items() if ppid in parents and child not in found}
        found.update({child: table[child][1:] for child in children})
        parents = children
    return found


def wait_for_groups_to_exit(proc: subprocess.Popen, groups: set[int], timeout: float) -> set[int]:
    """The process groups still alive after `timeout` (empty once every one is gone)."""
    deadline = time.monotonic() + timeout
    while True:
        proc.poll()  # reap the leader, or its zombie would keep its group alive
        alive = set()
        for group in groups:
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                continue
            alive.add(group)
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.2)


@pytest.mark.slow
def test_run_command_starts_web_worker_beat_and_sandbox_and_ctrl_c_stops_them(tmp_path):
    web_port, sandbox_port = free_port(), free_port()
    env = {
        key: value for key, value in os.environ.items()
        # Embedded defaults, as on a fresh machine: no PostgreSQL, no Redis.
        if key not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "CELERY_TASK_ALWAYS_EAGER", "DEBUG"}
    }
    env.update(VAR_DIR=str(tmp_path), WEB_PORT=str(web_port), SANDBOX_PORT=str(sandbox_port),
               RUNSERVER_FLAGS="--noreload", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        ["bin/dev"], cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )
    output = Output(proc.stdout)
    try:
        password_line = output.wait_for(r"password: \S+", timeout=120)
        password = password_line.split("password:")[1].strip()

        base = f"http://127.0.0.1:{web_port}"
        wait_for_http(f"{base}/accounts/login/", timeout=60, proc=proc)
        wait_for_http(f"http://127.0.0.1:{sandbox_port}/_sandbox/health", timeout=30, proc=proc)

        session = requests.Session()
        login_page = session.get(f"{base}/accounts/login/", timeout=5)
        assert "Sign in to Textcast" in login_page.text
        token = session.cookies["csrftoken"]
        signed_in = session.post(
            f"{base}/accounts/login/",
            data={"username": "admin", "password": password, "csrfmiddlewaretoken": token},
            headers={"Referer": f"{base}/accounts/login/"}, timeout=5,
        )
        assert signed_in.url.rstrip("/") == base
        assert session.get(f"{base}/admin/", timeout=5).status_code == 200

        # The worker really executes the task queued at start-up, and beat is running.
        output.wait_for(r"Task messaging\.tasks\.heartbeat\[.*\] succeeded", timeout=90)
        output.wait_for(r"beat: Starting", timeout=30)

        commands = [cmdline for _, cmdline in descendants(proc.pid).values()]
        for name in ("runserver", "celery -A config worker", "celery -A config beat", "messaging.sandbox"):
            assert any(name in cmdline for cmdline in commands), (name, commands)
        # The sandbox's API key is passed in the environment: command lines are public (`ps`).
        key = next(line.split("=", 1)[1] for line in (tmp_path / "dev.env").read_text().splitlines()
                   if line.startswith("SANDBOX_API_KEY="))
        assert not [cmdline for cmdline in commands if key in cmdline]
    finally:
        # honcho starts each process in a process group of its own: every one must be gone, not
        # just those holding a port (a worker or beat left behind would go on running tasks).
        groups = {proc.pid} | {group for group, _ in descendants(proc.pid).values()}
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        alive = wait_for_groups_to_exit(proc, groups, timeout=30)
        left = [cmdline for _, group, cmdline in processes().values() if group in alive]
        for group in alive:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
        assert not alive, f"Ctrl-C left running: {left}\n{output.text}"

    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{web_port}/healthz", timeout=2)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{sandbox_port}/_sandbox/health", timeout=2)
