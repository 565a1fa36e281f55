"""The preview's trust model, measured in Chromium: what a script on a previewed page (an XSS in
the site under development, say) can do with the user's Jupyter session, in each mode.

The outcomes asserted here are the table in docs/preview.md: change one, change the other."""

from __future__ import annotations

import json
import urllib.parse

import pytest
from browser import ARTIFACTS, CHROMIUM
from conftest import free_port
from playwright.async_api import Frame, Page, async_playwright, expect
from servers import TOKEN, JupyterServer
from shop_site import make_shop_site

from jupyter_fujita import oskit

# mode -> where the page runs -> attack -> outcome (docs/preview.md, "Trust")
EXPECTED = {
    "same origin": {
        "its own tab": {
            "read_api": "succeeded",
            "read_xsrf": "succeeded",
            "start_kernel": "succeeded",
            "script_parent": "not framed",
        },
        "the Preview tab": {"script_parent": "succeeded"},
    },
    "preview origin": {
        "its own tab": {
            "read_api": "blocked",
            "read_xsrf": "not visible",
            "start_kernel": "blocked",
            "script_parent": "not framed",
        },
        "the Preview tab": {"script_parent": "blocked"},
    },
}


@pytest.fixture(scope="module", params=["same origin", "preview origin"])
def lab(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("trust")
    make_shop_site(tmp / "root")
    extra = ()
    preview_port = free_port()
    if request.param == "preview origin":
        extra = (f"--Fujita.preview_origin={preview_port}",)
    server = JupyterServer(
        tmp, free_port(), app="jupyterlab", base_url="/user/alice/", extra_args=extra
    )
    server.mode = request.param
    server.site_root = (
        f"http://127.0.0.1:{preview_port}/"
        if request.param == "preview origin"
        else f"{server.url}fujita/site/django/"
    )
    server.start_django()
    yield server
    server.end()
    assert oskit.port_is_free("127.0.0.1", server.django_port)
    assert oskit.port_is_free("127.0.0.1", preview_port)


async def attacks(frame: Page | Frame) -> dict[str, str]:
    result = frame.locator("#attacks")
    await expect(result).not_to_have_text("running", timeout=20_000)
    return json.loads(await result.text_content())


def hostile_path(lab: JupyterServer) -> str:
    return "hostile/?" + urllib.parse.urlencode({"jupyter": lab.url})


async def test_what_a_previewed_page_can_do_with_the_jupyter_session(lab):
    expected = EXPECTED[lab.mode]
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM)
        context = await browser.new_context(viewport={"width": 1400, "height": 900})
        page = await context.new_page()
        try:
            await page.goto(f"{lab.url}lab?token={TOKEN}")  # logged in to Jupyter
            await page.locator(".jp-fujita-statusbar").wait_for(timeout=60_000)

            site = await context.new_page()  # the same browser profile, another tab
            await site.goto(f"{lab.url}fujita/site/django/{hostile_path(lab)}")
            assert await attacks(site) == expected["its own tab"], site.url
            # and the site still works in this mode: its page, its fetch() with the CSRF header
            await site.goto(f"{lab.url}fujita/site/django/")
            assert site.url == lab.site_root
            await site.click("#ping")
            await expect(site.locator("#answer")).to_contain_text("200 ", timeout=10_000)

            sidebar_tab = '.jp-SideBar .lm-TabBar-tab[data-id="jupyter-fujita-sidebar"]'
            if not await page.locator("#jupyter-fujita-sidebar").is_visible():
                await page.click(sidebar_tab)
            await page.click('#jupyter-fujita-sidebar [data-fujita-action="preview"]')
            iframe = page.locator("#jupyter-fujita-preview iframe.jp-fujita-preview-frame")
            frame = await (await iframe.element_handle(timeout=30_000)).content_frame()
            await frame.wait_for_url(lab.site_root + "**", timeout=30_000)
            await frame.goto(lab.site_root + hostile_path(lab))
            outcome = await attacks(frame)
            assert outcome["script_parent"] == expected["the Preview tab"]["script_parent"]
        except BaseException:
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / f"trust-{lab.mode}.png"))
            raise
        finally:
            await browser.close()
