"""The sidebar's list of recent runs in a real `jupyter lab`, real runserver, real Chromium: how
each run ended, and a click that shows a run's first line, read from the server when the page no
longer holds it."""

from __future__ import annotations

import asyncio
import json
import urllib.parse
import urllib.request

import pytest
from browser import LOG_LINES, add_echo_view, lab_page
from conftest import copy_demo_site, edit, free_port
from playwright.async_api import expect
from servers import JupyterServer

from jupyter_fujita import oskit

RUNS = "#jupyter-fujita-sidebar button.jp-fujita-run"
HIGHLIGHTED = "#jupyter-fujita-sidebar .jp-fujita-line.jp-mod-highlight"
PAGE_LINES = 100  # the page's bound (its smallest maxLines), so early lines leave the page


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("runs")
    add_echo_view(copy_demo_site(tmp / "root"))
    settings = tmp / "lab-settings" / "jupyter-fujita" / "plugin.jupyterlab-settings"
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps({"maxLines": PAGE_LINES}))
    server = JupyterServer(tmp, free_port(), app="jupyterlab")
    yield server
    server.end()
    assert oskit.port_is_free("127.0.0.1", server.django_port)


def echo(lab: JupyterServer, text: str, count: int) -> None:
    query = urllib.parse.urlencode({"text": text, "n": count})
    url = f"http://127.0.0.1:{lab.django_port}/echo/?{query}"
    with urllib.request.urlopen(url, timeout=60) as response:
        assert response.read() == b"printed"


def crash_on_broken_settings(lab: JupyterServer) -> None:
    settings = lab.root / "site" / "mysite" / "settings.py"
    edit(settings, "DEBUG = True", "DEBUG = (True")
    try:
        status = lab.request("POST", "processes/django/start")
        assert status["state"] == "crashed", status["message"]
    finally:
        # Stopped first: a fix saved while it is crashed would bring Django back by itself.
        lab.request("POST", "processes/django/stop")
        edit(settings, "DEBUG = (True", "DEBUG = True")


async def test_the_runs_list_says_how_each_run_ended_and_shows_a_runs_first_line(lab):
    lab.start_django()
    lab.request("POST", "processes/django/stop")
    crash_on_broken_settings(lab)
    lab.start_django()
    # more lines than the page holds: the earlier runs' lines leave it
    await asyncio.to_thread(echo, lab, "filler", 3 * PAGE_LINES)
    runs = lab.request("GET", "processes/django/runs")["runs"]
    assert [run["number"] for run in runs] == [1, 2, 3]
    first, crashed, running = runs
    assert first["error"] is None and first["ended"] is not None
    assert crashed["error"]["exception"] == "SyntaxError"
    assert running["ended"] is None

    async with lab_page(lab, "runs") as ui:
        page = ui.page
        await expect(page.locator(LOG_LINES, has_text="filler 299")).to_have_count(1)
        await expect(page.locator(RUNS)).to_have_count(0)  # folded until asked for
        await page.click("#jupyter-fujita-sidebar .jp-fujita-runs-toggle")
        rows = page.locator(RUNS)
        await expect(rows).to_have_count(3)
        assert await rows.evaluate_all("rows => rows.map(r => r.dataset.fujitaRun)") == [
            "3",
            "2",
            "1",
        ]
        assert await rows.evaluate_all("rows => rows.map(r => r.dataset.fujitaRunEnding)") == [
            "running",
            "crashed",
            "stopped",
        ]
        await expect(rows.nth(1)).to_contain_text("SyntaxError")
        await expect(rows.nth(1)).to_contain_text("site/mysite/settings.py")
        # the first run's first line is not in the page: the click reads it from the server
        first_line = f'#jupyter-fujita-sidebar .jp-fujita-log > [data-seq="{first["first_seq"]}"]'
        await expect(page.locator(first_line)).to_have_count(0)
        await rows.nth(2).click()
        highlighted = page.locator(HIGHLIGHTED)
        await expect(highlighted).to_have_attribute("data-seq", str(first["first_seq"]))
        await expect(highlighted).to_contain_text("Starting: ")
        await rows.nth(1).click()
        await expect(highlighted).to_have_attribute("data-seq", str(crashed["first_seq"]))

        # a run that ends, and one that starts, show up in the open list by themselves
        await page.click('[data-fujita-action="stop"]')
        await ui.expect_state("stopped")
        await expect(rows.first).to_have_attribute("data-fujita-run-ending", "stopped")
        await page.click('[data-fujita-action="start"]')
        await ui.expect_state("running")
        await expect(rows).to_have_count(4)
        await expect(rows.first).to_have_attribute("data-fujita-run", "4")
        await expect(rows.first).to_have_attribute("data-fujita-run-ending", "running")
        assert ui.errors == []
    lab.request("POST", "processes/django/stop")
