"""The real `make run` stack for browser tests: bin/dev (web, worker, beat and the sandbox) on free
ports with a fresh VAR_DIR, its own SQLite database and the sandbox start-up connected. Tests see
it only as a user and an operator would: through the browser, the sandbox's control endpoint and
`manage.py` in the stack's environment."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time

import requests

from tests.config.test_run_command import BASE_DIR, Output, descendants, processes, wait_for_groups_to_exit
from tests.conftest import free_port, wait_for_http

LATE_SECONDS = 5  # DELIVERY_REPORTS_LATE_SECONDS on this stack: "Needs attention" after 5 s without reports


class Stack:
    def __init__(self, tmp_path):
        self.web_port, self.sandbox_port = free_port(), free_port()
        self.base = self.url = f"http://127.0.0.1:{self.web_port}"
        self.sandbox = f"http://127.0.0.1:{self.sandbox_port}"
        self.env = {key: value for key, value in os.environ.items()
                    if key not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "CELERY_TASK_ALWAYS_EAGER", "DEBUG"}}
        self.env.update(VAR_DIR=str(tmp_path), WEB_PORT=str(self.web_port), SANDBOX_PORT=str(self.sandbox_port),
                        RUNSERVER_FLAGS="--noreload", PYTHONUNBUFFERED="1",
                        DELIVERY_REPORTS_LATE_SECONDS=str(LATE_SECONDS),
                        # Quiet hours are tested on their own; here a message goes whatever the hour in Kyiv.
                        SENDING_WINDOW="00:00-23:59:59",
                        # Beat follows MessageWhiz's side of broadcasts every few seconds, not minutes.
                        BROADCAST_REFRESH_INTERVAL="3")
        self.tmp_path = tmp_path
        self.proc = subprocess.Popen(["bin/dev"], cwd=BASE_DIR, env=self.env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.output = Output(self.proc.stdout)

    def start(self):
        self.password = self.output.wait_for(r"password: \S+", timeout=180).split("password:")[1].strip()
        wait_for_http(f"{self.base}/accounts/login/", timeout=90, proc=self.proc)
        wait_for_http(f"{self.sandbox}/_sandbox/health", timeout=60, proc=self.proc)
        self.output.wait_for(r"Task messaging\.tasks\.connect_sandbox\[.*\] succeeded", timeout=120)
        dev_env = dict(line.split("=", 1) for line in (self.tmp_path / "dev.env").read_text().splitlines() if line)
        self.api_key = dev_env["SANDBOX_API_KEY"]
        self.manage_env = {**self.env, **dev_env, "DEBUG": "true", "PUBLIC_BASE_URL": self.base,
                           "MESSAGEWHIZ_BASE_URL": self.sandbox}
        self.connected = {k: v for k, v in self.control("GET", "callbacks").items()
                          if k in ("callback_url", "dlr_webhook_url", "click_rate", "enroute")}

    def manage(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=self.manage_env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def query(self, code: str):
        """Run `code` in the stack's `manage.py shell`; it assigns `result`, returned decoded from JSON."""
        out = self.manage("shell", "-c", f"{code}\nimport json\nprint('RESULT=' + json.dumps(result, default=str))")
        return json.loads(out.rsplit("RESULT=", 1)[1])

    def control(self, method: str, path: str, **kwargs):
        response = requests.request(method, f"{self.sandbox}/_sandbox/{path}", timeout=10, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def callbacks(self, **config):
        """The sandbox's callback settings: where start-up connected it, with `config` on top."""
        return self.control("POST", "callbacks", json={**self.connected, **config})

    def requests(self, **params) -> list[dict]:
        return self.control("GET", "requests", params=params)

    def faults(self, **faults):
        return self.control("POST", "faults", json=faults)

    def stop(self):
        groups = {self.proc.pid} | {group for group, _ in descendants(self.proc.pid).values()}
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGINT)
        alive = wait_for_groups_to_exit(self.proc, groups, timeout=30)
        for group in alive:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
        assert not [cmd for _, group, cmd in processes().values() if group in alive]


def sign_in(browser, stack):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{stack.base}/accounts/login/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(stack.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{stack.base}/")
    return page


def figure(page, label: str) -> str:
    return page.locator(".stat", has_text=label).locator(".stat-value").first.inner_text()


def wait_until(page, condition, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        page.wait_for_timeout(500)
    raise AssertionError(f"waited {seconds}s for {what}")


def reloaded(page, check) -> bool:
    page.reload()
    return check()
