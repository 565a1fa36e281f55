"""Back on its feet by itself, on a real runserver: a saved fix brings a broken or crashed
Django back (even one Django's own reloader missed), and autorestart retries a crash with
back-off, then gives up."""

from __future__ import annotations

import pytest
from conftest import add_test_views, copy_demo_site, edit, free_port
from waiting import wait_for, wait_for_state

from jupyter_fujita import oskit
from jupyter_fujita.project import DjangoProject
from jupyter_fujita.manager import ProcessManager
from jupyter_fujita.recovery import Recovery


@pytest.fixture
def site(tmp_path):
    return add_test_views(copy_demo_site(tmp_path))


@pytest.fixture
def supervised(site, jp_asyncio_loop):
    """A supervisor of the demo site, and a Recovery following it (autorestart per test)."""
    manager = ProcessManager()
    supervisor = manager.add("django", DjangoProject(site.parent, f"127.0.0.1:{free_port()}"))
    recoveries: list[Recovery] = []

    def follow(**options) -> Recovery:
        recovery = Recovery(manager, **options)
        recovery.start()
        recoveries.append(recovery)
        return recovery

    yield supervisor, follow
    for recovery in recoveries:
        jp_asyncio_loop.run_until_complete(recovery.stop())
    pgid = supervisor.run.pgid
    jp_asyncio_loop.run_until_complete(manager.shutdown())
    assert pgid is None or oskit.group_members(pgid) == []


def said(supervisor) -> list[str]:
    return [line.text for line in supervisor.cache.tail(500) if line.stream == "fujita"]


async def test_a_fix_saved_at_once_brings_a_broken_django_back(site, supervised):
    supervisor, follow = supervised
    follow()
    urls = site / "mysite" / "urls.py"
    edit(urls, '"admin/", admin.site.urls),', '"admin/", admin.site.urls,')
    status = await supervisor.start(wait=60)
    assert status.state == "broken", status.message
    # Saved within Django's first reloader tick, which plain runserver can miss.
    edit(urls, '"admin/", admin.site.urls,', '"admin/", admin.site.urls),')
    await wait_for_state(supervisor, "running", 30)


async def test_a_crash_on_a_settings_error_comes_back_when_the_fix_is_saved(site, supervised):
    supervisor, follow = supervised
    follow()
    settings = site / "mysite" / "settings.py"
    edit(settings, "DEBUG = True", "DEBUG = (True")
    status = await supervisor.start(wait=60)
    assert status.state == "crashed" and status.error.file == "site/mysite/settings.py"
    edit(settings, "DEBUG = (True", "DEBUG = True")
    await wait_for_state(supervisor, "running", 30)
    assert any(
        text.startswith("Saw settings.py saved: starting again") for text in said(supervisor)
    )


async def test_autorestart_retries_with_back_off_until_it_runs(site, supervised):
    supervisor, follow = supervised
    follow(autorestart={"django"})
    # settings that fail the first two times they are imported (runserver's parent imports
    # them once per start)
    counter = site / "starts.txt"
    counter.write_text("0")
    with (site / "mysite" / "settings.py").open("a") as file:
        file.write(
            "\nfrom pathlib import Path as _P\n"
            f"_n = int(_P({str(counter)!r}).read_text()) + 1\n"
            f"_P({str(counter)!r}).write_text(str(_n))\n"
            "if _n <= 2:\n    raise RuntimeError(f'flaky start {_n}')\n"
        )
    status = await supervisor.start(wait=60)
    assert status.state == "crashed"
    await wait_for_state(supervisor, "running", 30)
    texts = said(supervisor)
    assert "Crashed (1st in a row): starting again in 1 s" in texts
    assert "Crashed (2nd in a row): starting again in 2 s" in texts


async def test_autorestart_gives_up_after_its_limit(site, supervised):
    supervisor, follow = supervised
    follow(autorestart={"django"}, max_crashes=2)
    with (site / "mysite" / "settings.py").open("a") as file:
        file.write("\nraise RuntimeError('always')\n")
    await supervisor.start(wait=60)
    await wait_for(
        lambda: "Crashed 2 times in a row: not restarting it again" in said(supervisor),
        30,
        "the supervisor to give up",
        lambda: said(supervisor),
    )
    assert supervisor.state == "crashed"


async def test_a_fix_saved_after_a_stop_does_not_start_django_again(site, supervised):
    supervisor, follow = supervised
    follow()
    settings = site / "mysite" / "settings.py"
    edit(settings, "DEBUG = True", "DEBUG = (True")
    assert (await supervisor.start(wait=60)).state == "crashed"
    await supervisor.stop()  # the user stops it, then fixes the file
    edit(settings, "DEBUG = (True", "DEBUG = True")
    assert not await supervisor.wait_for(
        lambda: supervisor.state not in ("stopped", "crashed"), 4
    ), said(supervisor)
