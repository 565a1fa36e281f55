"""A real JupyterLab in a subprocess and Debian's Chromium driven by Playwright (async API, so it
runs inside pytest-jupyter's event loop instead of fighting it)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from conftest import add_views
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page, async_playwright, expect
from servers import TOKEN, JupyterServer

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
SIDEBAR_TAB = '.jp-SideBar .lm-TabBar-tab[data-id="jupyter-fujita-sidebar"]'
BADGE = "#jupyter-fujita-sidebar [data-fujita-state]"
LOG_LINES = "#jupyter-fujita-sidebar .jp-fujita-log > [data-seq]"


ECHO_VIEW = '''

def echo(request):
    """Test only: print `text` (n times, numbered when n > 1) to runserver's stdout."""
    from django.http import HttpResponse

    text, count = request.GET.get("text", ""), int(request.GET.get("n", "1"))
    for number in range(count):
        print(text if count == 1 else f"{text} {number}")
    return HttpResponse("printed")
'''


def add_echo_view(site: Path) -> None:
    """A view of the test's own that prints what it is given: lines of our choosing in the log."""
    add_views(site, ECHO_VIEW, {"echo/": "echo"})


@dataclass
class LabPage:
    page: Page
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def badge(self):
        return self.page.locator(BADGE).first

    async def expect_state(self, state: str, timeout: float = 30_000) -> None:
        await expect(self.badge()).to_have_attribute("data-fujita-state", state, timeout=timeout)

    async def seqs(self) -> list[int]:
        return await self.page.eval_on_selector_all(
            LOG_LINES, "els => els.map(e => +e.dataset.seq)"
        )

    async def open_sidebar(self) -> None:
        """Show the sidebar (its tab toggles, and the restored layout may already show it)."""
        await self.page.locator(SIDEBAR_TAB).wait_for(timeout=60_000)
        await self.page.locator(".jp-fujita-statusbar").wait_for(timeout=60_000)
        sidebar = self.page.locator("#jupyter-fujita-sidebar")
        for _ in range(3):
            tab_classes = await self.page.locator(SIDEBAR_TAB).get_attribute("class") or ""
            if "lm-mod-current" in tab_classes and await sidebar.is_visible():
                return
            if "lm-mod-current" not in tab_classes:
                await self.page.click(SIDEBAR_TAB)
            try:
                await sidebar.wait_for(state="visible", timeout=5_000)
                return
            except Exception:
                continue
        await sidebar.wait_for(state="visible", timeout=5_000)

    async def run_command(self, label: str, attempts: int = 3) -> None:
        """Run a command from the palette, by its label. JupyterLab may still be starting when
        the sidebar shows: the commands it runs then (router:tree, launcher:create) close the
        modal palette under the test, so a palette that closed is opened again."""
        item = self.page.locator(".lm-CommandPalette-item", has_text=re.compile(f"^{label}"))
        for attempt in range(1, attempts + 1):
            try:
                await self.page.keyboard.press("Control+Shift+c")
                await self.page.locator(".lm-CommandPalette-input").fill(label, timeout=5_000)
                await item.first.click(timeout=5_000)
                return
            except PlaywrightError:
                if attempt == attempts:
                    raise
                await self.page.keyboard.press("Escape")


@contextlib.asynccontextmanager
async def chromium_page(name: str, **page_options) -> AsyncIterator[Page]:
    """A page in Debian's Chromium; on failure a screenshot goes to test-artifacts/<name>.png."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        try:
            page = await browser.new_page(**page_options)
            try:
                yield page
            except BaseException:
                ARTIFACTS.mkdir(exist_ok=True)
                await page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
                raise
        finally:
            await browser.close()


@contextlib.asynccontextmanager
async def lab_page(lab: JupyterServer, name: str, path: str = "lab") -> AsyncIterator[LabPage]:
    """JupyterLab open in Chromium, its sidebar shown."""
    async with chromium_page(name, viewport={"width": 1400, "height": 900}) as page:
        ui = LabPage(page)
        page.on("dialog", lambda dialog: (ui.dialogs.append(dialog.message), dialog.dismiss()))
        page.on("pageerror", lambda error: ui.errors.append(str(error)))
        await page.goto(f"{lab.url}{path}?token={TOKEN}")
        await ui.open_sidebar()
        yield ui
