"""Several processes in the sidebar, in a real `jupyter lab` reading the demo project's
Procfile.dev (runserver, a worker, a CSS watcher), real processes, real Chromium: one tab per
process with its state's dot, a process started from its tab, its own log, the status bar's worst
state, Start all and Stop all."""

from __future__ import annotations

import json

import pytest
from browser import LOG_LINES, lab_page
from conftest import assert_group_gone, copy_demo_site, free_port
from playwright.async_api import expect
from servers import JupyterServer

from jupyter_fujita import oskit

TABS = "#jupyter-fujita-sidebar .jp-fujita-tab"
STATUS_BAR = ".jp-fujita-statusbar"


def tab(ui, name: str):
    return ui.page.locator(f'{TABS}[data-fujita-process="{name}"]')


@pytest.fixture(scope="module")
def groups() -> set[int]:
    """The process groups the tests started, checked gone once the server has ended."""
    return set()


@pytest.fixture(scope="module")
def lab(tmp_path_factory, groups):
    tmp = tmp_path_factory.mktemp("processes")
    # The Procfile is read when the server starts: the project is there before it.
    copy_demo_site(tmp / "root", procfile=True)
    config = tmp / "config"
    config.mkdir()
    worker = {
        "command": "python manage.py notes_worker --every 0.2",
        "ready": {"log": "worker ready"},
        "depends_on": ["css"],
    }
    (config / "jupyter_server_config.json").write_text(
        json.dumps({"Fujita": {"processes": {"worker": worker}}})
    )
    server = JupyterServer(tmp, free_port(), app="jupyterlab")
    yield server
    server.end()
    assert oskit.port_is_free("127.0.0.1", server.django_port)
    for pgid in groups:
        assert_group_gone(pgid)


def remember_groups(lab: JupyterServer, groups: set[int]) -> None:
    for status in lab.request("GET", "processes")["processes"]:
        if status["pid"] is not None:
            groups.add(status["pid"])


@pytest.fixture
def fresh(lab, groups):
    lab.request("POST", "processes/all/stop")
    yield lab
    remember_groups(lab, groups)
    lab.request("POST", "processes/all/stop")


async def test_each_process_has_its_tab_and_start_all_and_stop_all_drive_them(fresh, groups):
    async with lab_page(fresh, "processes") as ui:
        tabs = ui.page.locator(TABS)
        await expect(tabs).to_have_count(3, timeout=30_000)
        assert await tabs.evaluate_all("ts => ts.map(t => t.dataset.fujitaProcess)") == [
            "django",
            "worker",
            "css",
        ]
        for name in ("django", "worker", "css"):
            await expect(tab(ui, name)).to_have_attribute("data-fujita-tab-state", "stopped")
            await expect(tab(ui, name).locator(".jp-fujita-tab-dot")).to_be_visible()
        await expect(tab(ui, "django")).to_have_attribute("aria-selected", "true")

        await tab(ui, "worker").click()
        await expect(tab(ui, "worker")).to_have_attribute("aria-selected", "true")
        origin = ui.page.locator("#jupyter-fujita-sidebar [data-fujita-origin]")
        await expect(origin).to_have_text("from Fujita.processes · after css")
        await tab(ui, "css").click()
        await expect(origin).to_have_text("from Procfile.dev")
        await expect(ui.page.locator("#jupyter-fujita-sidebar .jp-fujita-title")).to_have_text(
            "css"
        )
        await ui.expect_state("stopped")
        await ui.page.click('#jupyter-fujita-sidebar [data-fujita-action="start"]')
        await expect(tab(ui, "css")).to_have_attribute(
            "data-fujita-tab-state", "running", timeout=30_000
        )
        await ui.expect_state("running")
        await expect(ui.page.locator(LOG_LINES, has_text="css: watching")).to_have_count(
            1, timeout=10_000
        )
        # the worst of running (css) and stopped (the others) is running, and the item says whose
        item = ui.page.locator(STATUS_BAR)
        await expect(item).to_have_attribute("data-fujita-state", "running")
        await expect(item).to_have_attribute("data-fujita-process", "css")
        await expect(item).to_have_text("Django: running (css)")

        await ui.page.click('#jupyter-fujita-sidebar [data-fujita-action="start-all"]')
        for name in ("django", "worker", "css"):
            await expect(tab(ui, name)).to_have_attribute(
                "data-fujita-tab-state", "running", timeout=60_000
            )
        await expect(item).to_have_attribute("data-fujita-state", "running")
        await expect(item).to_have_text("Django: running")
        # the css tab still shows css's log; the worker's tab, the worker's
        await tab(ui, "worker").click()
        await expect(ui.page.locator(LOG_LINES, has_text="worker ready")).to_have_count(
            1, timeout=10_000
        )
        await expect(ui.page.locator(LOG_LINES, has_text="css: watching")).to_have_count(0)
        remember_groups(fresh, groups)

        await ui.page.click('#jupyter-fujita-sidebar [data-fujita-action="stop-all"]')
        for name in ("django", "worker", "css"):
            await expect(tab(ui, name)).to_have_attribute(
                "data-fujita-tab-state", "stopped", timeout=60_000
            )
        await expect(item).to_have_attribute("data-fujita-state", "stopped")
        await expect(
            ui.page.locator('#jupyter-fujita-sidebar [data-fujita-action="stop-all"]')
        ).to_be_disabled()
        assert ui.errors == []
    states = {s["name"]: s["state"] for s in fresh.request("GET", "processes")["processes"]}
    assert states == {"django": "stopped", "worker": "stopped", "css": "stopped"}


CONFLICTING = (
    "from django.db import migrations\n\n\n"
    "class Migration(migrations.Migration):\n"
    '    dependencies = [("pages", "0001_initial")]\n'
    "    operations = []\n"
)


async def test_a_migration_conflict_links_to_its_file_and_merges(fresh):
    migrations = fresh.root / "site" / "pages" / "migrations"
    for name in ("0002_a", "0002_b"):
        (migrations / f"{name}.py").write_text(CONFLICTING)
    fresh.start_django()
    async with lab_page(fresh, "processes-conflict") as ui:
        await ui.expect_state("running")
        hints = ui.page.locator("#jupyter-fujita-sidebar .jp-fujita-hints")
        await hints.locator('[data-fujita-hint="migrate"]').click()
        merge = hints.locator('[data-fujita-hint="merge-migrations"]')
        await expect(merge).to_have_text("Merge and apply", timeout=30_000)
        link = hints.locator('[data-fujita-hint-kind="migration-conflict"] a.jp-fujita-frame')
        await expect(link).to_have_text("site/pages/migrations/0002_a.py")
        await link.click()
        editor_tab = ui.page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="0002_a.py")
        await expect(editor_tab).to_be_visible(timeout=30_000)
        await ui.open_sidebar()
        await merge.click()
        await expect(hints).to_be_hidden(timeout=60_000)
    assert len(list(migrations.glob("0003_merge_*.py"))) == 1
