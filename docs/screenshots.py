"""Take the README's pictures of the sidebar: light and dark theme, running and crashed, on the
demo project with its Procfile.dev (a tab for each of django, worker and css).

    .venv/bin/python docs/screenshots.py      # writes docs/img/sidebar-<theme>-<state>.png

It starts a real `jupyter lab` on a free port with a copy of the demo site in a temp dir, as the
browser tests do, and drives Debian's Chromium with Playwright.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from browser import add_echo_view, lab_page  # noqa: E402
from conftest import copy_demo_site, edit, free_port  # noqa: E402
from servers import JupyterServer  # noqa: E402

THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}


def choose_settings(tmp: Path, theme: str) -> None:
    """The theme, and no "Jupyter news?" pop-up over the picture."""
    settings = tmp / "lab-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "themes.jupyterlab-settings").write_text(json.dumps({"theme": theme}))
    (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))


async def shoot(theme: str, out: Path) -> None:
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        site = copy_demo_site(tmp / "root", procfile=True)  # django, worker and css: tabs
        add_echo_view(site)
        choose_settings(tmp, THEMES[theme])
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=site, check=True)
        lab = JupyterServer(tmp, free_port(), app="jupyterlab")
        try:
            async with lab_page(lab, f"screenshot-{theme}") as ui:
                # a wider sidebar than the default, as a user watching a log would make it
                handle = ui.page.locator("#jp-main-split-panel > .lm-SplitPanel-handle").first
                box = await handle.bounding_box()
                if box:
                    await ui.page.mouse.move(box["x"] + 2, box["y"] + box["height"] / 2)
                    await ui.page.mouse.down()
                    await ui.page.mouse.move(620, box["y"] + box["height"] / 2, steps=5)
                    await ui.page.mouse.up()
                lab.request("POST", "processes/css/start")  # a second dot that runs
                await ui.page.click('[data-fujita-action="start"]')
                await ui.expect_state("running")
                for path in ("", "notes/", "missing/"):
                    try:
                        urllib.request.urlopen(f"http://127.0.0.1:{lab.django_port}/{path}").read()
                    except OSError:
                        pass  # a 404 or a 500 is what we want in the log too
                await ui.page.wait_for_timeout(1000)
                await ui.page.screenshot(path=str(out / f"sidebar-{theme}-running.png"))
                await ui.page.click('[data-fujita-action="stop"]')
                await ui.expect_state("stopped")
                edit(site / "mysite" / "settings.py", "DEBUG = True", "DEBUG = (True")
                await ui.page.click('[data-fujita-action="start"]')
                await ui.expect_state("crashed")
                await ui.page.wait_for_timeout(1000)
                await ui.page.screenshot(path=str(out / f"sidebar-{theme}-crashed.png"))
        finally:
            lab.end()


def main() -> None:
    out = HERE / "img"
    out.mkdir(exist_ok=True)
    for theme in THEMES:
        asyncio.run(shoot(theme, out))
        print(f"wrote {out}/sidebar-{theme}-running.png and -crashed.png")


if __name__ == "__main__":
    main()
