"""The preview in Chromium: a real `jupyter lab` at /user/alice/ supervising the shop fixture
(settings package, absolute STATIC_URL and MEDIA_URL, a page that calls fetch() with Django's
CSRF header, a multipart upload form)."""

from __future__ import annotations

import json

import pytest
from browser import ARTIFACTS, CHROMIUM, chromium_page, lab_page
from conftest import free_port
from playwright.async_api import async_playwright, expect
from servers import TOKEN, JupyterServer
from shop_site import PIXEL_PNG, make_shop_site

from jupyter_fujita import oskit


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("preview-lab")
    make_shop_site(tmp / "root")
    server = JupyterServer(tmp, free_port(), app="jupyterlab", base_url="/user/alice/")
    server.start_django()
    yield server
    server.end()
    assert oskit.port_is_free("127.0.0.1", server.django_port)


async def test_a_token_link_opens_the_site_and_the_token_leaves_the_address_bar(lab):
    async with chromium_page("preview-token") as page:
        await page.goto(f"{lab.url}fujita/site/django/?token={TOKEN}&from=link")
        assert page.url == f"{lab.url}fujita/site/django/?from=link"
        await expect(page.locator("nav a", has_text="Upload")).to_have_attribute(
            "href", "/user/alice/fujita/site/django/upload/"
        )
        # the stylesheet and the uploaded image came through the preview
        font = await page.evaluate("getComputedStyle(document.body).fontFamily")
        assert "sans-serif" in font
        cat = page.locator('img[alt="cat.png"]')
        await expect(cat).to_have_attribute(
            "src", "/user/alice/fujita/site/django/media/photos/cat.png"
        )
        assert await cat.evaluate("img => img.complete && img.naturalWidth") == 1


async def test_the_pages_fetch_with_the_csrf_header_works_through_the_preview(lab):
    async with chromium_page("preview-fetch") as page:
        await page.goto(f"{lab.url}fujita/site/django/?token={TOKEN}")
        await page.click("#ping")
        answer = page.locator("#answer")
        await expect(answer).to_contain_text("200 ", timeout=10_000)
        status, body = (await answer.text_content()).split(" ", 1)
        assert json.loads(body) == {"got": {"hello": "fujita"}, "method": "POST"}


async def test_an_upload_form_works_through_the_preview(lab, tmp_path):
    photo = tmp_path / "bird.png"
    photo.write_bytes(PIXEL_PNG)
    async with chromium_page("preview-upload") as page:
        await page.goto(f"{lab.url}fujita/site/django/upload/?token={TOKEN}")
        await page.set_input_files('input[name="photo"]', str(photo))
        await page.click('button[type="submit"]')
        await page.wait_for_url(f"{lab.url}fujita/site/django/")
        bird = page.locator('img[alt="bird.png"]')
        await expect(bird).to_have_count(1)
        assert await bird.evaluate("img => img.complete && img.naturalWidth") == 1


async def test_the_sidebar_links_the_direct_address_when_the_browser_reaches_it(lab):
    requests_before = request_lines(lab)
    async with lab_page(lab, "preview-direct-link") as ui:
        await ui.expect_state("running")
        link = ui.page.locator("#jupyter-fujita-sidebar a.jp-fujita-url")
        await expect(link).to_have_attribute("data-fujita-link", "direct")
        await expect(link).to_have_attribute("href", f"http://127.0.0.1:{lab.django_port}/")
    # found out without asking the site: Django saw no request
    assert request_lines(lab) == requests_before


def request_lines(lab) -> list[str]:
    lines = lab.request("GET", "processes/django/log")["lines"]
    return [line["text"] for line in lines if "request" in line]


async def test_the_sidebar_links_the_preview_when_the_browser_cannot_reach_django(lab):
    """As through an SSH tunnel: Django's own address answers nothing in this browser."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            page = await browser.new_page()
            probe = lab.request("GET", "processes/django")["reach_probe"]
            assert probe and probe.startswith("http://127.0.0.1:")
            await page.route(f"{probe}**", lambda r: r.abort())
            await page.goto(f"{lab.url}lab?token={TOKEN}")
            link = page.locator("#jupyter-fujita-sidebar a.jp-fujita-url")
            if not await page.locator("#jupyter-fujita-sidebar").is_visible():
                await page.click('.jp-SideBar .lm-TabBar-tab[data-id="jupyter-fujita-sidebar"]')
            await expect(link).to_have_attribute("data-fujita-link", "preview", timeout=60_000)
            await expect(link).to_have_attribute("href", "/user/alice/fujita/site/django/")
            async with page.context.expect_page() as opened:
                await link.click()
            site = await opened.value
            await expect(site.locator("nav a", has_text="Upload")).to_be_visible()
        except BaseException:
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "preview-offered-link.png"))
            raise
        finally:
            await browser.close()


async def test_the_sidebar_downloads_the_whole_log_as_text(lab, tmp_path):
    async with lab_page(lab, "download-log") as ui:
        await ui.expect_state("running")
        link = ui.page.locator('#jupyter-fujita-sidebar [data-fujita-action="download"]')
        async with ui.page.expect_download() as downloading:
            await link.click()
        download = await downloading.value
        assert download.suggested_filename == "django.log"
        saved = tmp_path / "django.log"
        await download.save_as(saved)
        text = saved.read_text()
        assert text.startswith("Starting: ")
        assert "using settings 'shop.settings.dev'" in text
