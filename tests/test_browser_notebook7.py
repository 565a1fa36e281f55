"""The sidebar, the commands, the menu and the status in `jupyter notebook` (Notebook 7), in a real
server and Debian's Chromium, as in JupyterLab."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import nbformat
import pytest
from browser import ARTIFACTS, BADGE, CHROMIUM
from conftest import copy_demo_site, free_port
from playwright.async_api import Page, async_playwright, expect
from servers import TOKEN, JupyterServer
from waiting import wait_for

from jupyter_fujita import oskit

SIDEBAR = "#jupyter-fujita-sidebar"
# Notebook 7.6.5's own shortcuts plugin throws this on its tree page, with jupyter-fujita disabled
# too (checked with page_config.json's disabledExtensions): not ours to fail on.
NOTEBOOKS_OWN_ERROR = "Cannot read properties of undefined (reading 'schema')"


@pytest.fixture(scope="module")
def notebook(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("nb7")
    copy_demo_site(tmp / "root")
    book = nbformat.v4.new_notebook()
    book.cells = [nbformat.v4.new_markdown_cell("A notebook beside a Django project.")]
    nbformat.write(book, tmp / "root" / "book.ipynb")
    server = JupyterServer(
        tmp,
        free_port(),
        app="notebook",
        extra_args=("--JupyterNotebookApp.expose_app_in_browser=True",),
    )
    yield server
    server.end()
    assert oskit.port_is_free("127.0.0.1", server.django_port)


@pytest.fixture
def fresh(notebook):
    notebook.request("POST", "processes/django/stop")
    yield notebook
    notebook.request("POST", "processes/django/stop")


@contextlib.asynccontextmanager
async def notebook_page(server: JupyterServer, name: str, path: str) -> AsyncIterator[Page]:
    """Notebook 7 open at `path`, restored; on failure a screenshot in test-artifacts/."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(f"{error}\n{error.stack}"))
            try:
                await page.goto(f"{server.url}{path}?token={TOKEN}")
                await page.wait_for_function("window.jupyterapp !== undefined", timeout=60_000)
                await page.evaluate("window.jupyterapp.restored")
                await page.wait_for_function(
                    "window.jupyterapp.commands.hasCommand('fujita:open-sidebar')", timeout=30_000
                )
                if path.startswith("notebooks/"):
                    # the notebook has no kernelspec: Notebook asks, and none is needed here
                    await page.locator(".jp-Dialog button", has_text="No Kernel").click()
                    await expect(page.locator(".jp-Dialog")).to_have_count(0)
                yield page
                ours = [e for e in errors if not e.startswith(NOTEBOOKS_OWN_ERROR)]
                assert ours == [], "\n".join(ours)
            except BaseException:
                ARTIFACTS.mkdir(exist_ok=True)
                await page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
                raise
        finally:
            await browser.close()


async def run(page: Page, command: str) -> None:
    await page.evaluate(f"window.jupyterapp.commands.execute('{command}')")


@pytest.mark.parametrize("path", ["tree", "notebooks/book.ipynb"])
async def test_the_sidebar_starts_and_stops_django_in_notebook_7(fresh, path):
    async with notebook_page(fresh, f"nb7-sidebar-{path.split('/')[0]}", path) as page:
        await run(page, "fujita:open-sidebar")
        sidebar = page.locator(SIDEBAR)
        await expect(sidebar).to_be_visible(timeout=10_000)
        badge = page.locator(BADGE).first
        await expect(badge).to_have_attribute("data-fujita-state", "stopped", timeout=30_000)
        await expect(sidebar.locator("[data-fujita-project]")).to_have_text("site/manage.py")
        await sidebar.locator('[data-fujita-action="start"]').click()
        await expect(badge).to_have_attribute("data-fujita-state", "running", timeout=30_000)
        status = await asyncio.to_thread(fresh.request, "GET", "processes/django")
        assert status["state"] == "running"
        log = sidebar.locator(".jp-fujita-log")
        await expect(log).to_contain_text("Starting development server at", timeout=10_000)
        await sidebar.locator('[data-fujita-action="stop"]').click()
        await expect(badge).to_have_attribute("data-fujita-state", "stopped", timeout=30_000)
        assert oskit.port_is_free("127.0.0.1", fresh.django_port)


async def test_the_django_menu_and_commands_work_in_notebook_7(fresh):
    async with notebook_page(fresh, "nb7-menu", "notebooks/book.ipynb") as page:
        menu = page.locator(".lm-MenuBar-item", has_text="Django")
        await expect(menu).to_have_count(1, timeout=10_000)
        await menu.click()
        await page.locator('.lm-Menu-item[data-command="fujita:start"]').click()

        await wait_for(
            lambda: fresh.request("GET", "processes/django")["state"] == "running",
            timeout=30,
            what="Django running",
        )
        await menu.click()
        await page.locator('.lm-Menu-item[data-command="fujita:open-sidebar"]').click()
        badge = page.locator(BADGE).first
        await expect(badge).to_have_attribute("data-fujita-state", "running", timeout=10_000)
        await run(page, "fujita:stop")
        await expect(badge).to_have_attribute("data-fujita-state", "stopped", timeout=30_000)


async def test_the_running_tab_of_notebook_7_lists_django(fresh):
    await asyncio.to_thread(fresh.start_django)
    async with notebook_page(fresh, "nb7-running", "tree") as page:
        await page.locator(".lm-TabBar-tab", has_text="Running").first.click()
        item = page.locator(".jp-fujita-running-item")
        await expect(item).to_have_count(1, timeout=10_000)
        await expect(item).to_contain_text("running")
