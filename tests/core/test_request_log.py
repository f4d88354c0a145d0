"""Request ids (in a header, on error pages, in every log line of the request) and JSON-lines logs from the real
gunicorn workers and the real scheduler process."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests import helpers

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_every_answer_carries_a_request_id(client):
    first = client.get("/login")
    second = client.get("/login")
    assert re.fullmatch(r"[0-9a-f]{32}", first.headers["X-Request-Id"])
    assert first.headers["X-Request-Id"] != second.headers["X-Request-Id"]


def test_a_proxys_request_id_is_kept_and_a_malformed_one_replaced(client):
    assert client.get("/login", headers={"X-Request-Id": "nginx-4f1c2a9b77"}).headers["X-Request-Id"] == \
        "nginx-4f1c2a9b77"
    for bad in ("short", "x" * 65, "has space in it", "inject\u2028line", "<script>alert(1)</script>"):
        answer = client.get("/login", headers={"X-Request-Id": bad})
        assert re.fullmatch(r"[0-9a-f]{32}", answer.headers["X-Request-Id"]), bad


def test_an_error_page_shows_its_request_id(client):
    answer = client.get("/no/such/page")
    assert answer.status_code == 404
    rid = answer.headers["X-Request-Id"]
    html = answer.get_data(as_text=True)
    assert rid in html
    assert "请求编号" in html


def _json_lines(text: str) -> list[dict]:
    lines = []
    for line in text.splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def test_gunicorn_workers_write_one_json_line_per_request_without_its_query(database_url, tmp_path):
    server = helpers.GunicornServer(database_url, tmp_path, workers=1,
                                    env={"GRIDPATROL_LOG_FORMAT": "json", "GRIDPATROL_LOG_REQUESTS": "true",
                                         "GRIDPATROL_LOG_LEVEL": "INFO"})
    try:
        request = urllib.request.Request(server.url + "/login?api_key=gp_secret-never-logged",
                                         headers={"X-Request-Id": "probe-request-0001"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.headers["X-Request-Id"] == "probe-request-0001"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            found = [line for line in _json_lines(server.error_log.read_text())
                     if line.get("request_id") == "probe-request-0001"]
            if found:
                break
            time.sleep(0.1)
    finally:
        server.stop()
    log = server.error_log.read_text()
    assert "gp_secret-never-logged" not in log
    assert len(found) == 1, log
    [line] = found
    assert line["logger"] == "gridpatrol.request" and line["level"] == "INFO"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/login", 200)
    assert line["duration_ms"] >= 0 and line["address"] == "127.0.0.1"
    assert line["time"].endswith("+00:00")


def test_the_scheduler_process_writes_json_lines_naming_each_job(database_url, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDPATROL_")}
    env.update({"GRIDPATROL_SETTINGS": str(REPO_ROOT / "config" / "testing.py"), "GRIDPATROL_DATABASE_URL": database_url,
                "GRIDPATROL_LOG_LEVEL": "INFO", "GRIDPATROL_LOG_FORMAT": "json"})
    log_path = tmp_path / "scheduler.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", "from gridpatrol.cli import main; main()", "scheduler", "run"],
            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            jobs: dict = {}
            while time.monotonic() < deadline and "close_month" not in jobs:
                jobs = {line["job"]: line for line in _json_lines(log_path.read_text()) if "job" in line}
                time.sleep(0.2)
        finally:
            process.terminate()
            process.wait(timeout=30)
    assert "close_month" in jobs, log_path.read_text()
    line = jobs["close_month"]
    assert line["logger"] == "gridpatrol.scheduler" and line["ok"] is True and line["summary"]
    # every line the process wrote is a JSON object
    assert all(text.startswith("{") for text in log_path.read_text().splitlines() if text.strip()), \
        log_path.read_text()[:2000]


@pytest.mark.parametrize("value", ["xml", ""])
def test_an_unknown_log_format_is_refused(value):
    from gridpatrol.core.settings import ConfigurationError
    from gridpatrol import create_app

    with pytest.raises(ConfigurationError, match="LOG_FORMAT"):
        create_app({"LOG_FORMAT": value})
