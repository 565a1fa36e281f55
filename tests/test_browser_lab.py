"""The JupyterLab sidebar in a real `jupyter lab` (base_url /user/alice/), real Chromium."""

from __future__ import annotations

import asyncio
import re
import urllib.error
import urllib.parse
import urllib.request

import nbformat
import pytest
from browser import CHROMIUM, LOG_LINES, LabPage, add_echo_view, lab_page
from conftest import add_test_views, copy_demo_site, edit, free_port
from playwright.async_api import async_playwright, expect
from servers import JupyterServer

from jupyter_fujita import oskit


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lab")
    site = copy_demo_site(tmp / "root")
    add_echo_view(site)
    add_test_views(site)
    server = JupyterServer(tmp, free_port(), app="jupyterlab", base_url="/user/alice/")
    yield server
    server.end()
    assert oskit.port_is_free("127.0.0.1", server.django_port)


@pytest.fixture
def fresh(lab):
    """Each test starts with Django stopped and the log cleared."""
    lab.request("POST", "processes/django/stop")
    lab.request("DELETE", "processes/django/log")
    yield lab
    lab.request("POST", "processes/django/stop")


def site_get(lab, path: str = "", **query: str) -> None:
    url = f"http://127.0.0.1:{lab.django_port}/{path}"
    if query:
        url += "?" + urllib.parse.urlencode(query)
    with urllib.request.urlopen(url, timeout=60) as response:
        response.read()


async def test_start_in_the_sidebar_runs_django_and_shows_its_start_line(fresh):
    async with lab_page(fresh, "start") as ui:
        await ui.expect_state("stopped")
        await expect(ui.page.locator('[data-fujita-action="stop"]')).to_be_disabled()
        await ui.page.click('[data-fujita-action="start"]')
        await ui.expect_state("running")
        log = ui.page.locator("#jupyter-fujita-sidebar .jp-fujita-log")
        await expect(log).to_contain_text("Starting development server at", timeout=10_000)
        link = ui.page.locator("#jupyter-fujita-sidebar a.jp-fujita-url")
        await expect(link).to_have_attribute("href", f"http://127.0.0.1:{fresh.django_port}/")
        await expect(link).to_have_attribute("target", "_blank")
        await expect(ui.page.locator('[data-fujita-action="start"]')).to_be_disabled()
        # a request made by someone else shows up in the page within seconds
        await asyncio.to_thread(site_get, fresh, "", seen="browser-test")
        await expect(log).to_contain_text('"GET /?seen=browser-test HTTP/1.1" 200', timeout=5_000)
        assert ui.errors == []


async def test_stop_in_the_sidebar_stops_django_and_frees_the_port(fresh):
    fresh.start_django()
    async with lab_page(fresh, "stop") as ui:
        await ui.expect_state("running")
        await ui.page.click('[data-fujita-action="stop"]')
        await ui.expect_state("stopped")
        assert oskit.port_is_free("127.0.0.1", fresh.django_port)


async def test_a_reloaded_page_replays_the_log_with_the_same_seqs(fresh):
    fresh.start_django()
    async with lab_page(fresh, "replay") as ui:
        await expect(ui.page.locator(LOG_LINES).last).to_contain_text("production servers")
        before = await ui.seqs()
        await ui.page.reload()
        await ui.open_sidebar()
        await expect(ui.page.locator(LOG_LINES)).to_have_count(len(before))
        assert await ui.seqs() == before


async def test_log_text_is_text_and_runs_nothing(fresh):
    fresh.start_django()
    attack = "<img src=x onerror=alert(1)> <script>alert(2)</script>"
    async with lab_page(fresh, "xss") as ui:
        await asyncio.to_thread(site_get, fresh, "echo/", text=attack)
        line = ui.page.locator(LOG_LINES, has_text="<img src=x onerror=alert(1)>")
        await expect(line).to_have_count(1)
        assert await line.text_content() == attack
        assert await ui.page.locator("#jupyter-fujita-sidebar .jp-fujita-log img").count() == 0
        assert await ui.page.locator("#jupyter-fujita-sidebar .jp-fujita-log script").count() == 0
        await ui.page.wait_for_timeout(500)  # an injected onerror would have fired by now
        assert ui.dialogs == []


async def test_the_filter_narrows_the_lines(fresh):
    fresh.start_django()
    async with lab_page(fresh, "filter") as ui:
        for word in ("apple", "banana", "apple pie"):
            await asyncio.to_thread(site_get, fresh, "echo/", text=f"fruit: {word}")
        await expect(ui.page.locator(LOG_LINES, has_text="fruit: apple pie")).to_have_count(1)
        everything = await ui.page.locator(LOG_LINES).count()
        await ui.page.fill("#jupyter-fujita-sidebar .jp-fujita-filter", "fruit: apple")
        await expect(ui.page.locator(LOG_LINES)).to_have_count(2)
        assert await ui.page.locator(LOG_LINES).all_text_contents() == [
            "fruit: apple",
            "fruit: apple pie",
        ]
        await ui.page.fill("#jupyter-fujita-sidebar .jp-fujita-filter", "")
        await expect(ui.page.locator(LOG_LINES)).to_have_count(everything)


async def test_broken_settings_show_crashed_and_a_notification(fresh):
    settings = fresh.root / "site" / "mysite" / "settings.py"
    edit(settings, "DEBUG = True", "DEBUG = (True")
    try:
        async with lab_page(fresh, "crash") as ui:
            await ui.page.click('[data-fujita-action="start"]')
            await ui.expect_state("crashed")
            toast = ui.page.locator(".Toastify__toast", has_text="SyntaxError")
            await expect(toast).to_be_visible(timeout=10_000)
            banner = ui.page.locator("#jupyter-fujita-sidebar .jp-fujita-error")
            await expect(banner).to_contain_text("site/mysite/settings.py")
    finally:
        # Stopped first: a fix saved while it is crashed would bring Django back by itself.
        fresh.request("POST", "processes/django/stop")
        edit(settings, "DEBUG = (True", "DEBUG = True")


async def test_the_status_bar_item_and_the_palette_commands_work(fresh):
    async with lab_page(fresh, "commands") as ui:
        item = ui.page.locator(".jp-fujita-statusbar")
        await expect(item).to_contain_text(fresh.request("GET", "processes/django")["state"])
        # the page has heard the server (stopped, or crashed as the test before left it)
        await ui.expect_state(fresh.request("GET", "processes/django")["state"])
        await ui.run_command("Start Django")
        await ui.expect_state("running")
        await expect(item).to_contain_text("running")
        # hide the sidebar, then bring it back from the status bar item
        await ui.page.click('.jp-SideBar .lm-TabBar-tab[data-id="jupyter-fujita-sidebar"]')
        await expect(ui.page.locator("#jupyter-fujita-sidebar")).to_be_hidden()
        await item.click()
        await expect(ui.page.locator("#jupyter-fujita-sidebar")).to_be_visible()
        await ui.run_command("Restart Django")
        await expect(ui.page.locator(LOG_LINES, has_text="Starting: ")).to_have_count(
            2, timeout=30_000
        )
        await ui.expect_state("running")
        await ui.run_command("Stop Django")
        await ui.expect_state("stopped")
        await ui.page.click('.jp-SideBar .lm-TabBar-tab[data-id="jupyter-fujita-sidebar"]')
        await ui.run_command("Show Django Panel")
        await expect(ui.page.locator("#jupyter-fujita-sidebar")).to_be_visible()


async def test_twenty_thousand_lines_stay_bounded_in_the_dom(fresh):
    fresh.start_django()
    async with lab_page(fresh, "flood") as ui:
        await asyncio.to_thread(site_get, fresh, "echo/", text="flood", n="20000")
        await expect(ui.page.locator(LOG_LINES, has_text="flood 19999")).to_have_count(
            1, timeout=60_000
        )
        rendered = await ui.page.locator("#jupyter-fujita-sidebar .jp-fujita-log > *").count()
        assert 0 < rendered <= 2_000
        # the page still keeps up: a line printed after the flood shows within seconds
        await asyncio.to_thread(site_get, fresh, "echo/", text="after the flood")
        await expect(ui.page.locator(LOG_LINES, has_text="after the flood")).to_have_count(
            1, timeout=10_000
        )


async def test_the_notebook_panel_and_the_sidebar_agree(fresh):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("%load_ext jupyter_fujita\npanel = %fujita\npanel")]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(notebook, fresh.root / "panel.ipynb")
    async with lab_page(fresh, "panel", path="lab/tree/panel.ipynb") as ui:
        await ui.page.get_by_text(re.compile(r"\| Idle$")).first.wait_for(timeout=60_000)
        await ui.page.locator(".jp-Notebook .jp-Cell").first.click()
        await ui.page.keyboard.press("Shift+Enter")
        panel = ui.page.locator(".jp-fujita-panel")
        await expect(panel.locator('[data-fujita-state="stopped"]')).to_be_visible(timeout=60_000)
        await panel.locator('button[title="Start Django"]').click()
        await expect(panel.locator('[data-fujita-state="running"]')).to_be_visible(timeout=30_000)
        await ui.expect_state("running")
        assert fresh.request("GET", "processes/django")["state"] == "running"
        await ui.page.click('[data-fujita-action="stop"]')
        await expect(panel.locator('[data-fujita-state="stopped"]')).to_be_visible(timeout=30_000)


async def test_password_login_gets_the_sidebar_working(tmp_path):
    from jupyter_server.auth import passwd

    copy_demo_site(tmp_path / "root")
    hashed = passwd("open sesame")
    server = JupyterServer(
        tmp_path,
        free_port(),
        app="jupyterlab",
        extra_args=(f"--PasswordIdentityProvider.hashed_password={hashed}",),
    )
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM)
            page = await browser.new_page()
            await page.goto(f"{server.url}lab")
            await page.fill("input[type=password]", "open sesame")
            await page.keyboard.press("Enter")
            ui = LabPage(page)
            await ui.open_sidebar()
            await ui.expect_state("stopped")
            await page.click('[data-fujita-action="start"]')
            await ui.expect_state("running")
            await browser.close()
    finally:
        server.end()


# -- what the sidebar understands of Django -------------------------------------------------


def site_status(lab, path: str) -> int:
    try:
        site_get(lab, path)
    except urllib.error.HTTPError as error:
        return error.code
    return 200


async def test_a_500_links_to_its_traceback_whose_frame_opens_the_file_at_its_line(fresh):
    fresh.start_django()
    async with lab_page(fresh, "traceback") as ui:
        assert await asyncio.to_thread(site_status, fresh, "boom/") == 500
        sidebar = ui.page.locator("#jupyter-fujita-sidebar")
        request = sidebar.locator('.jp-fujita-jump-traceback[data-fujita-status="500"]')
        await expect(request).to_have_count(1, timeout=10_000)
        await request.click()
        highlighted = sidebar.locator(".jp-fujita-line.jp-mod-highlight")
        await expect(highlighted).to_have_text("Traceback (most recent call last):")
        frame = sidebar.locator(
            '.jp-fujita-log a.jp-fujita-frame[data-fujita-file="site/pages/views.py"]'
        ).last
        line = int(await frame.get_attribute("data-fujita-line"))
        await frame.click()
        await expect(ui.page.locator(".jp-FileEditor").first).to_be_visible(timeout=20_000)
        await expect(
            ui.page.locator(".jp-mod-current .lm-TabBar-tabLabel", has_text="views.py").first
        ).to_be_visible()
        await expect(ui.page.get_by_text(f"Ln {line}, Col 1")).to_be_visible(timeout=10_000)


async def test_the_5xx_chip_narrows_the_log_to_server_errors(fresh):
    fresh.start_django()
    async with lab_page(fresh, "chips") as ui:
        await asyncio.to_thread(site_get, fresh, "")
        await asyncio.to_thread(site_status, fresh, "boom/")
        await expect(ui.page.locator(".jp-fujita-request[data-fujita-status='500']")).to_have_count(
            1, timeout=10_000
        )
        # a request line with no traceback comes as text only: the sidebar reads its status
        ok = ui.page.locator(".jp-fujita-request[data-fujita-status='200']")
        await expect(ok.first).to_be_attached()
        await ui.page.click('#jupyter-fujita-sidebar [data-fujita-chip="5xx"]')
        await expect(ui.page.locator(LOG_LINES)).to_have_count(1)
        assert await ui.page.locator(LOG_LINES).get_attribute("data-fujita-status") == "500"
        await ui.page.click('#jupyter-fujita-sidebar [data-fujita-chip="5xx"]')
        await expect(ui.page.locator(LOG_LINES)).not_to_have_count(1)


async def test_the_migrate_button_applies_the_migrations(fresh):
    fresh.start_django()
    async with lab_page(fresh, "migrate") as ui:
        button = ui.page.locator(
            '#jupyter-fujita-sidebar button.jp-fujita-hint[data-fujita-hint="migrate"]'
        )
        await expect(button).to_contain_text("Apply ")
        await button.click()
        await expect(button).to_have_count(0, timeout=60_000)
        await expect(ui.page.locator(LOG_LINES, has_text="Migrations applied")).to_have_count(1)
        assert fresh.request("GET", "processes/django")["hints"] == []
        assert await asyncio.to_thread(site_status, fresh, "admin/login/") == 200


async def test_the_debugger_box_answers_a_breakpoint(fresh):
    fresh.start_django()
    async with lab_page(fresh, "debugger") as ui:
        answers: list[int] = []
        request = asyncio.ensure_future(asyncio.to_thread(site_status, fresh, "pause/"))
        await ui.expect_state("paused")
        box = ui.page.locator("#jupyter-fujita-sidebar .jp-fujita-debugger")
        await expect(box).to_be_visible()
        await expect(box.locator("a.jp-fujita-frame")).to_have_attribute(
            "data-fujita-file", "site/pages/views.py"
        )
        await box.locator('button.jp-fujita-debugger-send[data-fujita-stdin="c"]').click()
        answers.append(await asyncio.wait_for(request, 30))
        assert answers == [200]
        await ui.expect_state("running")
        await expect(box).to_be_hidden()


async def test_the_preview_tab_shows_the_site_and_reloads_after_a_code_change(fresh):
    fresh.start_django()
    views = fresh.root / "site" / "pages" / "views.py"
    async with lab_page(fresh, "preview") as ui:
        await ui.page.click('#jupyter-fujita-sidebar [data-fujita-action="preview"]')
        frame = ui.page.frame_locator("#jupyter-fujita-preview iframe.jp-fujita-preview-frame")
        await expect(frame.locator("h1")).to_have_text("Hello from Django", timeout=30_000)
        path = ui.page.locator("#jupyter-fujita-preview input.jp-fujita-preview-path")
        await expect(path).to_have_value("/")
        await asyncio.sleep(1.5)  # Django's reloader takes its first look a second after start
        edit(views, '"Hello from Django"', '"Hello from an edited view"')
        try:
            await expect(frame.locator("h1")).to_have_text(
                "Hello from an edited view", timeout=30_000
            )
        finally:
            edit(views, '"Hello from an edited view"', '"Hello from Django"')
