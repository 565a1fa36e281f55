"""The notebook faces in a real kernel, against a real Jupyter server and a real runserver."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest
from conftest import DEMO_SITE, add_test_views, assert_group_gone, copy_demo_site, free_port
from kernels import Kernel, cell_text
from nbclient import NotebookClient
from servers import TOKEN, JupyterServer
from waiting import wait_until

from jupyter_fujita import oskit
from jupyter_fujita.replay import EARLIER_RUNS

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No Jupyter server of the user's is visible to the kernels these tests start."""
    for name, sub in (("CONFIG", "config"), ("DATA", "data"), ("RUNTIME", "runtime")):
        monkeypatch.setenv(f"JUPYTER_{name}_DIR", str(tmp_path / sub))
    monkeypatch.delenv("JUPYTER_FUJITA_URL", raising=False)
    monkeypatch.delenv("JUPYTER_FUJITA_TOKEN", raising=False)
    return tmp_path


@pytest.fixture
def server(isolated, monkeypatch):
    copy_demo_site(isolated / "root")
    server = JupyterServer(isolated, free_port())
    monkeypatch.setenv("JUPYTER_FUJITA_URL", f"http://127.0.0.1:{server.port}/fujita/api/")
    monkeypatch.setenv("JUPYTER_FUJITA_TOKEN", TOKEN)
    yield server
    server.end()
    assert oskit.port_is_free("127.0.0.1", server.django_port)


@pytest.fixture
def kernel(isolated):
    kernel = Kernel(isolated)
    kernel.run("%load_ext jupyter_fujita")
    yield kernel
    kernel.shutdown()


def get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status


def test_the_magic_acts_and_prints_one_line_each(server, kernel):
    assert "%fujita start | stop | restart" in kernel.run("%fujita --help")
    assert kernel.run("%fujita status") == (
        "django: stopped — Django is stopped\n  project: site/manage.py (settings: mysite.settings)\n"
    )
    started = kernel.run("%fujita start")
    assert started == (
        f"django: running — Django is running at http://127.0.0.1:{server.django_port}/\n"
    )
    get(f"http://127.0.0.1:{server.django_port}/?from=magic")
    wait_until(lambda: "from=magic" in kernel.run("%fujita log 5"), 20, "the request line")
    assert len(kernel.run("%fujita log 3").splitlines()) == 3
    assert kernel.run("%fujita stop") == "django: stopped — Django is stopped\n"
    assert oskit.port_is_free("127.0.0.1", server.django_port)


def test_the_magic_documents_itself_for_help_and_the_question_mark(kernel):
    shown = kernel.run("%fujita --help")
    # `%fujita?` shows the magic's docstring: the same text, its options included
    assert kernel.run("print(get_ipython().find_line_magic('fujita').__doc__)") == shown
    for words in (
        "%fujita start | stop | restart",
        "%fujita log [NAME] [N] [--errors]",
        "--name NAME",
    ):
        assert words in shown


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("%fujita bogus", "fujita: unknown command or process 'bogus' (see %fujita --help)\n"),
        ("%fujita --colour red", "fujita: unknown option --colour (see %fujita --help)\n"),
        ("%fujita status --address 1:2", "fujita: --address goes with start or restart"),
        ("%fujita log many", "fujita: log takes a number of lines, not 'many'\n"),
        ("%fujita start --address nowhere", "fujita: address must be host:port, not 'nowhere'"),
    ],
)
def test_bad_words_get_one_clear_line_and_no_traceback(server, kernel, line, expected):
    output = kernel.run(line)
    assert output.startswith(expected)
    assert "Traceback" not in output and len(output.splitlines()) == 1


@pytest.fixture
def procfile_server(isolated, monkeypatch):
    """A server on the demo project with its Procfile.dev: `worker` and `css` beside django."""
    copy_demo_site(isolated / "root", procfile=True)
    server = JupyterServer(isolated, free_port())
    monkeypatch.setenv("JUPYTER_FUJITA_URL", f"http://127.0.0.1:{server.port}/fujita/api/")
    monkeypatch.setenv("JUPYTER_FUJITA_TOKEN", TOKEN)
    yield server
    server.end()


def test_the_magic_names_the_other_processes(procfile_server, kernel):
    assert kernel.run("%fujita start css") == "css: running — css is running\n"
    status = kernel.run("%fujita status")
    assert "worker: stopped — worker is stopped" in status and "css: running" in status
    wait_until(lambda: "css: watching" in kernel.run("%fujita log css 5"), 20, "the watcher")
    panel = kernel.run("panel = %fujita worker\nprint(panel.process)")
    assert panel == "worker\n"
    stopped = kernel.run("%fujita stop all")
    assert sorted(stopped.splitlines()) == [
        "css: stopped — css is stopped",
        "django: stopped — Django is stopped",
        "worker: stopped — worker is stopped",
    ]


def test_a_wrong_token_is_one_line(server, kernel):
    output = kernel.run("import os; os.environ['JUPYTER_FUJITA_TOKEN'] = 'wrong'\n%fujita status")
    assert output.startswith("fujita: the Jupyter server at http://127.0.0.1:")
    assert "refused the token (JUPYTER_FUJITA_TOKEN)" in output and len(output.splitlines()) == 1


def test_the_panel_runs_django_and_shows_a_request_made_while_the_kernel_is_idle(server, kernel):
    kernel.run("from jupyter_fujita import FujitaPanel\npanel = FujitaPanel()")
    kernel.wait_for("panel.connection == 'connected' and panel.state == 'stopped'")
    assert kernel.run("print(panel.start_button.disabled, panel.stop_button.disabled)") == (
        "False True\n"
    )
    kernel.run("panel.start_button.click()")
    kernel.wait_for("panel.state == 'running'")
    assert kernel.run("print(panel.start_button.disabled, panel.stop_button.disabled)") == (
        "True False\n"
    )
    get(f"http://127.0.0.1:{server.django_port}/?from=panel")
    time.sleep(1.0)  # the kernel stays idle: only its background task can take the line in
    assert "from=panel" in kernel.run("print(panel.log_text().splitlines()[-1])")
    assert f"http://127.0.0.1:{server.django_port}/" in kernel.run("print(panel.status_line.value)")


def test_two_panels_on_one_process_stay_in_step(server, kernel):
    kernel.run("from jupyter_fujita import FujitaPanel\na, b = FujitaPanel(), FujitaPanel()")
    kernel.wait_for("a.connection == b.connection == 'connected'")
    kernel.run("a.start_button.click()")
    kernel.wait_for("a.state == b.state == 'running'")
    kernel.run("b.stop_button.click()")
    kernel.wait_for("a.state == b.state == 'stopped'")
    kernel.wait_for("a.log_text() == b.log_text() and 'Stopped' in a.log_text()")
    kernel.run("b.close()")
    assert kernel.run("print(b._watch is None, a.connection)") == "True connected\n"


def test_the_panel_reconnects_after_a_jupyter_server_restart(server, kernel, isolated):
    kernel.run("from jupyter_fujita import FujitaPanel\npanel = FujitaPanel()")
    kernel.run("panel.start_button.click()")
    kernel.wait_for("panel.state == 'running'")
    server.end()
    kernel.wait_for("panel.connection.startswith('disconnected')")
    assert "Disconnected from" in kernel.run("print(panel.status_line.value)")
    again = JupyterServer(isolated, server.django_port, port=server.port)
    try:
        kernel.wait_for("panel.connection == 'connected' and panel.state == 'stopped'", 60)
        kernel.run("panel.start_button.click()")
        kernel.wait_for("panel.state == 'running'")
        # the log survives the restart: the earlier run, the marker, then the new run, once each
        kernel.wait_for("panel.log_text().count('Starting: ') == 2")
        kernel.wait_for(f"panel.log_text().count({EARLIER_RUNS!r}) == 1")
    finally:
        again.end()


def test_no_server_and_no_manage_py_is_one_line(isolated, kernel):
    output = kernel.run("%fujita status")
    assert output.startswith("fujita: no Jupyter server with jupyter_fujita was found")
    assert len(output.splitlines()) == 1


def test_embedded_supervisor_in_plain_ipython_leaves_no_process(isolated):
    site = copy_demo_site(isolated)
    port = free_port()
    script = isolated / "session.ipy"
    script.write_text(
        textwrap.dedent(
            f"""\
            %load_ext jupyter_fujita
            %fujita start --address 127.0.0.1:{port}
            import urllib.request
            urllib.request.urlopen("http://127.0.0.1:{port}/?from=ipython").read()
            import time; time.sleep(0.5)
            %fujita log 1
            magics = get_ipython().magics_manager.registry["FujitaMagics"]
            print("PGID", magics.backend().manager.get("django").run.pgid)
            """
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "IPython", "--quick", "--no-banner", str(script)],
        cwd=site,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert f"django: running — Django is running at http://127.0.0.1:{port}/" in out
    assert '"GET /?from=ipython HTTP/1.1" 200' in out
    pgid = int(out.split("PGID ")[1].split()[0])
    assert_group_gone(pgid)  # stopped when IPython exited
    assert oskit.port_is_free("127.0.0.1", port)


def test_the_demo_notebook_runs_top_to_bottom(isolated, monkeypatch):
    """The tour in notebooks/demo.ipynb, unattended, on a fresh copy of the demo site."""
    work = isolated / "notebooks"
    copy_demo_site(work)
    (work / "site").rename(work / DEMO_SITE.name)
    notebook = nbformat.read(ROOT / "notebooks" / "demo.ipynb", as_version=4)
    monkeypatch.setenv("JUPYTER_FUJITA_ADDRESS", f"127.0.0.1:{free_port()}")
    NotebookClient(notebook, kernel_name="python3", timeout=120).execute(cwd=str(work))
    text = "".join(cell_text(cell) for cell in notebook.cells)
    assert "django: running" in text
    assert "Traceback" not in text
    assert "django: stopped" in text


def test_hints_errors_and_the_debugger_from_a_notebook(server, kernel):
    add_test_views(server.root / "site")
    kernel.run("%fujita start")
    status = kernel.run("%fujita status")
    assert "hint: " in status and "unapplied migrations" in status and "(%fujita migrate)" in status
    kernel.run("from jupyter_fujita import FujitaPanel\npanel = FujitaPanel()")
    kernel.wait_for("len(panel.hints_box.children) == 1")
    assert "Apply " in kernel.run("print(panel.hints_box.children[0].description)")
    assert kernel.run("%fujita migrate").startswith("django: running")
    kernel.wait_for("len(panel.hints_box.children) == 0")
    base = f"http://127.0.0.1:{server.django_port}/"
    with pytest.raises(urllib.error.HTTPError) as failed:
        get(base + "boom/")
    assert failed.value.code == 500
    wait_until(
        lambda: '"GET /boom/ HTTP/1.1" 500' in kernel.run("%fujita log 3 --errors"), 20, "5xx"
    )
    # the debugger: a request stops at breakpoint(); the panel offers its input box
    import threading

    answers: list[int] = []
    request = threading.Thread(target=lambda: answers.append(get(base + "pause/")))
    request.start()
    kernel.wait_for("panel.state == 'paused'")
    assert kernel.run("print(panel.debugger_box.layout.display)") == "flex\n"
    assert "Paused in the debugger at site/pages/views.py:" in kernel.run(
        "print(panel.status_line.value)"
    )
    kernel.run("panel.send_to_debugger('c')")
    request.join(30)
    assert answers == [200]
    kernel.wait_for("panel.state == 'running'")
    assert kernel.run("print(panel.debugger_box.layout.display)") == "none\n"
    assert kernel.run("%fujita send c").startswith("django: running")
    assert kernel.run("%fujita log --errors bogus").startswith("fujita: log takes a number")


def test_the_preview_from_a_notebook(server, kernel):
    assert kernel.run("%fujita preview").startswith("fujita: Django is not running")
    kernel.run("%fujita start")
    output = kernel.run("%fujita preview")
    assert "  preview: /fujita/site/django/" in output
    assert "IPython.lib.display.IFrame" in output
    kernel.run("from jupyter_fujita import FujitaPanel\npanel = FujitaPanel()")
    kernel.wait_for("panel.preview_url == '/fujita/site/django/'")
    assert 'href="/fujita/site/django/"' in kernel.run("print(panel.status_line.value)")
