"""Django in JupyterLab's own places, in a real `jupyter lab` and Debian's Chromium: the Running
panel, the Launcher, the main menu, the shortcuts, the Settings Editor (each setting honoured
live), and the project shown in the sidebar."""

from __future__ import annotations

import asyncio
import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from browser import LOG_LINES, add_echo_view, lab_page
from conftest import add_test_views, copy_demo_site, free_port, let_reloader_settle
from playwright.async_api import expect
from servers import JupyterServer
from waiting import wait_for

from jupyter_fujita import oskit

SIDEBAR = "#jupyter-fujita-sidebar"
RUNNING_TAB = '.jp-SideBar .lm-TabBar-tab[data-id="jp-running-sessions"]'
RUNNING_ITEM = ".jp-fujita-running-item"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("native")
    site = copy_demo_site(tmp / "root")
    add_echo_view(site)
    add_test_views(site)
    server = JupyterServer(tmp, free_port(), app="jupyterlab")
    yield server
    server.end()
    assert oskit.port_is_free("127.0.0.1", server.django_port)


@pytest.fixture
def fresh(lab):
    """Each test starts with Django stopped, the log cleared and the settings at their defaults."""
    lab.request("POST", "processes/django/stop")
    lab.request("DELETE", "processes/django/log")
    settings = lab.root.parent / "lab-settings" / "jupyter-fujita" / "plugin.jupyterlab-settings"
    settings.unlink(missing_ok=True)
    for workspace in (lab.root.parent / "lab-workspaces").glob("*"):
        workspace.unlink()  # no tab of an earlier test (a Settings Editor) comes back
    yield lab
    lab.request("POST", "processes/django/stop")
    settings.unlink(missing_ok=True)


def saved_settings(lab) -> str:
    path = lab.root.parent / "lab-settings" / "jupyter-fujita" / "plugin.jupyterlab-settings"
    return path.read_text() if path.exists() else ""


def site_get(lab, path: str) -> None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{lab.django_port}/{path}", timeout=60) as r:
            r.read()
    except urllib.error.HTTPError:
        pass  # a 500 is the point


def echo(lab, text: str, n: int = 1) -> None:
    query = urllib.parse.urlencode({"text": text, "n": str(n)})
    url = f"http://127.0.0.1:{lab.django_port}/echo/?{query}"
    with urllib.request.urlopen(url, timeout=60) as response:
        response.read()


async def state_of(lab) -> str:
    return (await asyncio.to_thread(lab.request, "GET", "processes/django"))["state"]


async def test_the_sidebar_shows_which_project_and_settings_module_run(fresh):
    async with lab_page(fresh, "native-project") as ui:
        project = ui.page.locator(f"{SIDEBAR} [data-fujita-project]")
        await expect(project).to_have_text("site/manage.py")
        settings = ui.page.locator(f"{SIDEBAR} [data-fujita-settings]")
        await expect(settings).to_have_attribute("data-fujita-settings", "mysite.settings")
        # the tab's icon is Django's, not a generic terminal
        icon = ui.page.locator('.jp-SideBar .lm-TabBar-tab[data-id="jupyter-fujita-sidebar"] svg')
        assert "#0c4b33" in (await icon.inner_html())
        assert ui.errors == []  # nothing of ours throws in the page


async def test_the_running_panel_lists_django_and_opens_restarts_and_stops_it(fresh):
    async with lab_page(fresh, "native-running") as ui:
        await ui.page.click(RUNNING_TAB)
        title = ui.page.locator(".jp-AccordionPanel-title", has_text="Django")
        await expect(title).to_be_visible(timeout=10_000)
        item = ui.page.locator(RUNNING_ITEM)
        await expect(item).to_have_count(0)  # stopped: nothing running
        await asyncio.to_thread(fresh.start_django)
        await expect(item).to_have_count(1, timeout=10_000)
        await expect(item).to_contain_text("django")
        await expect(item).to_contain_text(f"running · 127.0.0.1:{fresh.django_port}")
        # restart from the item's context menu
        before = (await asyncio.to_thread(fresh.request, "GET", "processes/django"))["restarts"]
        await item.click(button="right")
        await ui.page.locator(".lm-Menu-item", has_text="Restart Django").click()

        def restarted() -> bool:
            status = fresh.request("GET", "processes/django")
            return status["restarts"] == before + 1 and status["state"] == "running"

        await wait_for(restarted, timeout=30, what="the restart")
        await expect(item.locator(".jp-RunningSessions-itemDetail")).to_have_text(
            f"running · 127.0.0.1:{fresh.django_port}"
        )
        # a click on its name opens the Django panel
        await item.locator(".jp-RunningSessions-itemLabel").click()
        await expect(ui.page.locator(SIDEBAR)).to_be_visible()
        await ui.page.click(RUNNING_TAB)
        await item.hover()  # the stop button shows on hover
        await item.locator(".jp-RunningSessions-itemShutdown").click()
        await expect(item).to_have_count(0, timeout=30_000)
        assert await state_of(fresh) == "stopped"
        assert oskit.port_is_free("127.0.0.1", fresh.django_port)


async def test_the_launcher_card_opens_the_panel_and_starts_django(fresh):
    async with lab_page(fresh, "native-launcher") as ui:
        await ui.run_command("New Launcher")
        card = ui.page.locator(".jp-LauncherCard", has_text="Django")
        await expect(card).to_have_count(1, timeout=10_000)
        await expect(card.locator(".jp-LauncherCard-label")).to_have_text("Django")
        await ui.page.click('.jp-SideBar .lm-TabBar-tab[data-id="filebrowser"]')
        await expect(ui.page.locator(SIDEBAR)).to_be_hidden()
        await card.click()
        await expect(ui.page.locator(SIDEBAR)).to_be_visible()
        await ui.expect_state("running")
        assert await state_of(fresh) == "running"


async def test_the_django_menu_starts_stops_and_shows_the_panel(fresh):
    async with lab_page(fresh, "native-menu") as ui:
        menu = ui.page.locator(".lm-MenuBar-item", has_text="Django")
        await expect(menu).to_have_count(1)

        async def choose(label: str) -> None:
            await menu.click()
            await ui.page.locator(".lm-Menu-item", has_text=label).first.click()

        await choose("Start Django")
        await ui.expect_state("running")
        await menu.click()
        for label in ("Stop Django", "Restart Django", "Preview Django Site", "Clear Django Log"):
            await expect(ui.page.locator(".lm-Menu-item", has_text=label)).to_have_count(1)
        await ui.page.keyboard.press("Escape")
        await choose("Stop Django")
        await ui.expect_state("stopped")
        await ui.page.click('.jp-SideBar .lm-TabBar-tab[data-id="filebrowser"]')
        await expect(ui.page.locator(SIDEBAR)).to_be_hidden()
        await choose("Show Django Panel")
        await expect(ui.page.locator(SIDEBAR)).to_be_visible()


async def test_keyboard_shortcuts_show_the_panel_and_start_and_stop_django(fresh):
    async with lab_page(fresh, "native-shortcuts") as ui:
        await ui.page.click('.jp-SideBar .lm-TabBar-tab[data-id="filebrowser"]')
        await expect(ui.page.locator(SIDEBAR)).to_be_hidden()
        await ui.page.keyboard.press("Control+Alt+j")
        await expect(ui.page.locator(SIDEBAR)).to_be_visible()
        await ui.page.keyboard.press("Control+Alt+s")
        await ui.expect_state("running")
        # The status may say running before the start's request is answered; until then every
        # lifecycle action is off, as the Stop button shows (a key pressed then does nothing).
        await expect(ui.page.locator(f'{SIDEBAR} button[title="Stop Django"]')).to_be_enabled()
        await ui.page.keyboard.press("Control+Alt+x")
        await ui.expect_state("stopped")


async def open_django_settings(ui):
    await ui.page.locator(".lm-MenuBar-item", has_text="Settings").click()
    await ui.page.locator(".lm-Menu-item", has_text="Settings Editor").first.click()
    await ui.page.locator(".jp-PluginList-entry", has_text="Django").first.click()
    form = ui.page.locator(".jp-SettingsPanel, .jp-SettingsEditor").first
    await expect(form.get_by_text("Wrap lines").first).to_be_visible(timeout=15_000)
    return form


async def test_the_settings_editor_settings_apply_at_once(fresh):
    await asyncio.to_thread(fresh.start_django)
    async with lab_page(fresh, "native-settings") as ui:
        log = ui.page.locator(f"{SIDEBAR} .jp-fujita-log")
        await expect(log).not_to_have_class("jp-mod-nowrap")
        form = await open_django_settings(ui)
        await form.get_by_label("Wrap lines").uncheck()
        await expect(log).to_have_class(has_class("jp-mod-nowrap"))
        await form.get_by_label("Time stamps").check()
        await expect(log).to_have_class(has_class("jp-mod-timestamps"))
        stamp = await ui.page.locator(LOG_LINES).first.evaluate(
            "e => getComputedStyle(e, '::before').content"
        )
        assert stamp.strip('"').strip() == (
            await ui.page.locator(LOG_LINES).first.get_attribute("data-time")
        )
        # lines kept in the page
        lines = form.locator('input[id$="maxLines"]')
        await lines.fill("100")
        await lines.blur()
        await wait_for(lambda: '"maxLines": 100' in saved_settings(fresh), 10, "the saved setting")
        await ui.page.wait_for_timeout(300)  # the page's registry has it before the server
        await asyncio.to_thread(echo, fresh, "kept", 300)
        await expect(ui.page.locator(LOG_LINES, has_text="kept 299")).to_have_count(
            1, timeout=15_000
        )
        assert await ui.page.locator(LOG_LINES).count() <= 110
        # not following the tail: new lines arrive below the view, "Jump to latest" shows them
        await form.get_by_label("Follow the tail").uncheck()
        await wait_for(lambda: '"followTail": false' in saved_settings(fresh), 10, "the setting")
        await ui.page.wait_for_timeout(300)  # the page's registry has it before the server
        await asyncio.to_thread(echo, fresh, "waiting below", 30)
        below = ui.page.locator(LOG_LINES, has_text="waiting below 29")
        await expect(below).to_have_count(1, timeout=10_000)
        jump = ui.page.locator(f"{SIDEBAR} .jp-fujita-jump")
        await expect(jump).to_be_visible()
        await expect(below).not_to_be_in_viewport()
        await jump.click()
        await expect(below).to_be_in_viewport()


def has_class(name: str) -> re.Pattern[str]:
    return re.compile(rf"(^|\s){re.escape(name)}(\s|$)")


async def test_notifications_follow_the_notify_settings(fresh):
    settings = fresh.root / "site" / "mysite" / "settings.py"
    original = settings.read_text()
    async with lab_page(fresh, "native-notify") as ui:
        form = await open_django_settings(ui)
        await form.get_by_label("Notify on crash").uncheck()
        await wait_for(lambda: '"notifyOnCrash": false' in saved_settings(fresh), 10, "the setting")
        await ui.page.wait_for_timeout(300)  # the page's registry has it before the server
        settings.write_text(original.replace("DEBUG = True", "DEBUG = (True"))
        try:
            await ui.run_command("Start Django")
            await ui.expect_state("crashed")
            await ui.page.wait_for_timeout(1_000)  # a toast would be up by now
            assert await ui.page.locator(".Toastify__toast", has_text="SyntaxError").count() == 0
            await form.get_by_label("Notify on crash").check()
            await wait_for(
                lambda: '"notifyOnCrash": false' not in saved_settings(fresh), 10, "the setting"
            )
            await ui.page.wait_for_timeout(300)  # the page's registry has it before the server
            await ui.run_command("Restart Django")
            toast = ui.page.locator(".Toastify__toast", has_text="SyntaxError")
            await expect(toast).to_be_visible(timeout=15_000)
        finally:
            settings.write_text(original)


async def test_the_filter_highlights_what_it_matched(fresh):
    await asyncio.to_thread(fresh.start_django)
    async with lab_page(fresh, "native-highlight") as ui:
        for word in ("Apple", "banana", "apple pie"):
            await asyncio.to_thread(echo, fresh, f"fruit: {word}")
        await expect(ui.page.locator(LOG_LINES, has_text="fruit: apple pie")).to_have_count(1)
        await ui.page.fill(f"{SIDEBAR} .jp-fujita-filter", "FRUIT: apple")
        await expect(ui.page.locator(f"{SIDEBAR} .jp-fujita-filter")).to_have_value("FRUIT: apple")
        await expect(ui.page.locator(LOG_LINES)).to_have_count(2)
        marks = ui.page.locator(f"{LOG_LINES} mark.jp-fujita-match")
        await expect(marks).to_have_text(["fruit: Apple", "fruit: apple"])
        assert await ui.page.locator(LOG_LINES).all_text_contents() == [
            "fruit: Apple",
            "fruit: apple pie",
        ]
        await ui.page.fill(f"{SIDEBAR} .jp-fujita-filter", "")
        await expect(marks).to_have_count(0)


VISIBLE_TRACEBACK = """
els => {
  const start = els.findIndex(e => e.textContent === 'Traceback (most recent call last):');
  const end = els.findIndex((e, i) => i > start && e.textContent.startsWith('%s'));
  return els.slice(start, end + 1).filter(e => e.offsetParent !== null).map(e => e.textContent);
}
"""


async def test_at_the_sidebars_width_a_traceback_folds_installed_frames_and_requests_read_short(
    fresh,
):
    await asyncio.to_thread(fresh.start_django)
    async with lab_page(fresh, "native-narrow") as ui:
        sidebar = ui.page.locator(SIDEBAR)
        width = (await sidebar.bounding_box())["width"]
        assert 200 <= width <= 320, width  # JupyterLab's default sidebar width
        await asyncio.to_thread(site_get, fresh, "boom/")
        request = sidebar.locator('.jp-fujita-compact[data-fujita-status="500"]')
        await expect(request).to_have_count(1, timeout=10_000)
        # the traceback: Django's frames folded, the user's frame standing out
        user = sidebar.locator(".jp-fujita-userframe a.jp-fujita-frame", has_text="views.py")
        await expect(user.last).to_be_visible()
        fold = sidebar.locator(".jp-fujita-fold")
        await expect(fold.first).to_have_text(re.compile(r"^▸ \d+ frames? in .*django"))
        assert await sidebar.locator(".jp-fujita-folded").count() >= 2
        shown = await ui.page.eval_on_selector_all(LOG_LINES, VISIBLE_TRACEBACK % "ValueError")
        assert shown[0] == "Traceback (most recent call last):"
        assert shown[-1] == "ValueError: boom for the test"
        assert len(shown) <= 6, shown  # header, a fold line, the user's frame and source, error
        await fold.first.click()
        await expect(fold.first).to_have_text(re.compile(r"^▾ "))
        more = await ui.page.eval_on_selector_all(LOG_LINES, VISIBLE_TRACEBACK % "ValueError")
        assert len(more) >= len(shown) + 2
        # the request line: method, path, a status chip, the size, in one line
        await expect(request.locator(".jp-fujita-request-method")).to_have_text("GET")
        await expect(request.locator(".jp-fujita-request-path")).to_have_text("/boom/")
        await expect(request.locator(".jp-fujita-status-chip")).to_have_text("500")
        await expect(request.locator(".jp-fujita-request-size")).to_have_text(re.compile("KiB$"))
        compact = (await request.bounding_box())["height"]
        raw = request.locator(".jp-fujita-raw")
        await expect(raw).to_be_hidden()
        await request.locator(".jp-fujita-raw-toggle").click()
        await expect(raw).to_be_visible()
        await expect(raw).to_contain_text('"GET /boom/ HTTP/1.1" 500')
        assert (await request.bounding_box())["height"] > 1.5 * compact  # the raw line wraps


async def test_code_that_does_not_import_shows_a_short_traceback_with_djangos_frames_folded(fresh):
    views = fresh.root / "site" / "pages" / "views.py"
    original = views.read_text()
    await asyncio.to_thread(fresh.start_django)
    async with lab_page(fresh, "native-broken") as ui:
        await let_reloader_settle()
        views.write_text(original + "\nundefined_name_for_the_test\n")
        try:
            await ui.expect_state("broken")
            sidebar = ui.page.locator(SIDEBAR)
            await expect(sidebar.locator(".jp-fujita-fold").first).to_have_text(
                re.compile(r"^▸ \d+ frames in .*(django|python)")
            )
            hidden = await sidebar.locator(".jp-fujita-folded").count()
            shown = await ui.page.eval_on_selector_all(LOG_LINES, VISIBLE_TRACEBACK % "NameError")
            assert shown[-1].startswith("NameError: name 'undefined_name_for_the_test'")
            assert hidden >= 20 and len(shown) <= 14, (hidden, shown)
            user = [line for line in shown if "views.py" in line]
            assert user, shown  # the user's own frame is there, not folded
            assert await sidebar.locator(".jp-fujita-userframe", has_text="views.py").count() >= 1
        finally:
            views.write_text(original)
        await ui.expect_state("running")


FRENCH = {
    "": {
        "domain": "jupyter_fujita",
        "language": "fr-FR",  # as language packs write it (Gettext looks up fr-FR)
        "plural_forms": "nplurals=2; plural=(n > 1);",
        "version": "0.0.0",
    },
    "Filter lines": ["Filtrer les lignes"],
    "Start": ["Démarrer"],
    "Show Django Panel": ["Afficher le panneau Django"],
    "Start Django": ["Démarrer Django"],
    "settings:": ["réglages :"],
}


def fake_language_pack(folder: Path) -> Path:
    """A French language pack holding only our domain, found through its entry point."""
    package = folder / "fujita_test_langpack"
    messages = package / "locale" / "fr_FR" / "LC_MESSAGES"
    messages.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (messages / "jupyter_fujita.json").write_text(json.dumps(FRENCH, ensure_ascii=False))
    info = folder / "fujita_test_langpack-0.0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: fujita-test-langpack\nVersion: 0.0.0\n"
    )
    (info / "entry_points.txt").write_text(
        "[jupyterlab.languagepack]\nfr_FR = fujita_test_langpack\n"
    )
    return folder


async def test_the_page_speaks_the_users_language_through_jupyterlabs_translator(
    tmp_path, monkeypatch
):
    pythonpath = fake_language_pack(tmp_path / "langpack")
    monkeypatch.setenv("PYTHONPATH", f"{pythonpath}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    chosen = tmp_path / "lab-settings" / "@jupyterlab" / "translation-extension"
    chosen.mkdir(parents=True)
    (chosen / "plugin.jupyterlab-settings").write_text(json.dumps({"locale": "fr_FR"}))
    copy_demo_site(tmp_path / "root")
    server = JupyterServer(tmp_path, free_port(), app="jupyterlab")
    try:
        async with lab_page(server, "native-french") as ui:
            sidebar = ui.page.locator(SIDEBAR)
            await expect(sidebar.locator(".jp-fujita-filter")).to_have_attribute(
                "placeholder", "Filtrer les lignes", timeout=20_000
            )
            await expect(sidebar.locator('[data-fujita-action="start"]')).to_have_text("Démarrer")
            await expect(sidebar.locator(".jp-fujita-project-label")).to_have_text("réglages :")
            await ui.page.locator(".lm-MenuBar-item", has_text="Django").click()
            await expect(
                ui.page.locator('.lm-Menu-item[data-command="fujita:open-sidebar"]')
            ).to_contain_text("Afficher le panneau Django")
            # what is not translated stays English
            await expect(sidebar.locator(".jp-fujita-clear")).to_have_text("Clear")
    finally:
        server.end()
    assert oskit.port_is_free("127.0.0.1", server.django_port)


async def test_the_wrap_button_switches_wrapping_off_and_saves_the_setting(fresh):
    await asyncio.to_thread(fresh.start_django)
    async with lab_page(fresh, "native-wrap") as ui:
        long = "x" * 400
        await asyncio.to_thread(echo, fresh, f"long: {long}")
        line = ui.page.locator(LOG_LINES, has_text="long: xxx")
        await expect(line).to_have_count(1, timeout=10_000)
        log = ui.page.locator(f"{SIDEBAR} .jp-fujita-log")
        wrap = ui.page.locator(f'{SIDEBAR} [data-fujita-action="wrap"]')
        await expect(wrap).to_have_attribute("aria-pressed", "true")
        wrapped = (await line.bounding_box())["height"]
        await wrap.click()
        await expect(log).to_have_class(has_class("jp-mod-nowrap"))
        await expect(wrap).to_have_attribute("aria-pressed", "false")
        await wait_for(lambda: '"wrapLines": false' in saved_settings(fresh), 10, "the setting")
        assert (await line.bounding_box())["height"] * 3 < wrapped  # one row instead of many
        assert await log.evaluate("e => e.scrollWidth > e.clientWidth")  # it scrolls sideways
        await wrap.click()
        await expect(log).not_to_have_class(has_class("jp-mod-nowrap"))
