"""The real Prometheus Alertmanager (Debian's binary) on a free loopback port, and a webhook receiver
the test serves, for the alert-routing tests and the delivery benchmark."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from streams.local.broker import die_with_parent, free_port

ROOT = Path(__file__).resolve().parent.parent
#: Where scripts/install-browser-and-alertmanager writes why it could not install the packages.
INSTALL_FAILURE = ROOT / ".venv" / "test-packages.unavailable"


def missing_tool(name: str) -> str:
    """Why *name* is not installed, for a failing test's message (these tests never skip)."""
    try:
        why = INSTALL_FAILURE.read_text().strip()
    except OSError:
        why = "scripts/install-browser-and-alertmanager did not run (./scripts/test runs it)"
    return f"{name} is not installed: {why}"


def alertmanager_binary() -> str | None:
    return shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


class WebhookReceiver:
    """An HTTP server on loopback that records every Alertmanager webhook notification it gets."""

    def __init__(self) -> None:
        self.notifications: list[dict[str, Any]] = []
        #: Wall-clock arrival of each notification, same order.
        self.arrivals: list[float] = []
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                arrived = time.time()
                with receiver._changed:
                    receiver.notifications.append(json.loads(body))
                    receiver.arrivals.append(arrived)
                    receiver._changed.notify_all()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def alerts(self, status: str | None = None) -> list[dict[str, Any]]:
        """Every alert of every notification so far (``status``: firing or resolved)."""
        with self._changed:
            found = [alert for note in self.notifications for alert in note["alerts"]]
        return [alert for alert in found if status is None or alert["status"] == status]

    def wait_for(self, what: str, probe: Callable[[], Any], timeout: float) -> Any:
        """Wait until *probe*() is truthy, re-checking on each notification; AssertionError after *timeout*."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                result = probe()
                if result:
                    return result
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
                self._changed.wait(min(left, 0.5))


def routing_config(webhook_url: str, group_wait: str = "0s") -> str:
    """Every alert its own group, sent at once, resolutions too."""
    return f"""
route:
  receiver: test-webhook
  group_by: [alert_id]
  group_wait: {group_wait}
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: test-webhook
    webhook_configs:
      - url: {webhook_url}
        send_resolved: true
"""


class AlertmanagerProcess:
    """``prometheus-alertmanager`` on a loopback port, clustering off, state in *data_dir*."""

    def __init__(self, binary: str, config: str, data_dir: Path, port: int | None = None) -> None:
        self.binary = binary
        self.port = port or free_port()
        self.data_dir = data_dir
        self.config_path = data_dir / "alertmanager.yml"
        self.log_path = data_dir / "alertmanager.log"
        data_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(config)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> AlertmanagerProcess:
        log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [
                self.binary,
                f"--config.file={self.config_path}",
                f"--storage.path={self.data_dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",  # no gossip port on every interface
                "--log.level=info",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"alertmanager exited:\n{self.log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(
            f"alertmanager not ready after {timeout:.0f}s:\n{self.log_path.read_text()[-3000:]}"
        )

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def api(self, path: str, body: Any = None) -> Any:
        """GET (or POST *body* as JSON) Alertmanager's API v2 at *path*."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}/api/v2/{path}", data=data, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")

    def alert(self, alert_id: str) -> dict[str, Any] | None:
        """Alertmanager's view of one alert (its ``status.state``: active, suppressed, unprocessed), or None."""
        matcher = urllib.parse.quote(f'alert_id="{alert_id}"')
        try:
            found = self.api(f"alerts?filter={matcher}")
        except urllib.error.URLError:
            return None
        return found[0] if found else None
