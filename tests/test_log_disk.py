"""Disk trouble is not fatal, on a real server: a log folder that cannot be used leaves the log
in memory, and the status and the log say so once; Django runs as ever."""

from __future__ import annotations

import json

import pytest

API = ("fujita", "api")


@pytest.fixture
def jp_server_config(django_port, tmp_path):
    (tmp_path / "taken").write_text("a file where the log folder should be")
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_fujita": True}},
        "Fujita": {"address": f"127.0.0.1:{django_port}", "log_dir": str(tmp_path / "taken")},
    }


async def test_an_unusable_log_folder_leaves_the_log_in_memory_and_the_status_says_why(
    jp_fetch, site
):
    async def call(*parts: str, method: str = "GET") -> dict:
        body = b"" if method == "POST" else None
        return json.loads((await jp_fetch(*API, *parts, method=method, body=body)).body)

    status = await call("processes", "django")
    assert "taken" in status["log_disk_failed"], status["log_disk_failed"]
    status = await call("processes", "django", "start", method="POST")
    assert status["state"] == "running", status["message"]
    assert status["log_disk_failed"] == (await call("processes", "django"))["log_disk_failed"]
    texts = [line["text"] for line in (await call("processes", "django", "log"))["lines"]]
    said = [text for text in texts if text.startswith("The log is kept in memory only")]
    assert len(said) == 1 and "taken" in said[0]
    assert any("Starting development server at" in text for text in texts)
    await call("processes", "django", "stop", method="POST")
