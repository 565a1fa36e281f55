"""What users configure runserver with (Fujita.runserver_args, env, env_file, settings_module),
what the status says about the project, and what the Jupyter server's own log says about Django."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import pytest
from conftest import add_views, copy_demo_site, edit, free_port
from servers import JupyterServer
from waiting import wait_until

from jupyter_fujita import oskit
from jupyter_fujita.project import DjangoProject
from jupyter_fujita.dotenv import parse_env
from jupyter_fujita.errors import NotConfigured

# -- the .env format ---------------------------------------------------------------------------


def test_dotenv_reads_plain_quoted_exported_and_commented_values():
    values, skipped = parse_env(
        "# a comment\n"
        "\n"
        "PLAIN=value\n"
        "export EXPORTED=yes\n"
        "SPACED = padded  \n"
        "INLINE=kept # a comment\n"
        "HASH=no#comment\n"
        "SINGLE='$HOME stays \\n literal'\n"
        'DOUBLE="line\\nbreak \\"quoted\\""\n'
        "EMPTY=\n"
        "not a variable\n"
        "UNCLOSED='oops\n"
    )
    assert values == {
        "PLAIN": "value",
        "EXPORTED": "yes",
        "SPACED": "padded",
        "INLINE": "kept",
        "HASH": "no#comment",
        "SINGLE": "$HOME stays \\n literal",
        "DOUBLE": 'line\nbreak "quoted"',
        "EMPTY": "",
    }
    assert skipped == [11, 12]


# -- DjangoProject: the command and the environment --------------------------------------------


def test_runserver_args_go_after_the_address(tmp_path):
    site = copy_demo_site(tmp_path)
    project = DjangoProject(tmp_path, "127.0.0.1:8123", "python3")
    project.runserver_args = ["--nothreading", "--nostatic"]
    assert project.command() == [
        "python3",
        "manage.py",
        "runserver",
        "127.0.0.1:8123",
        "--nothreading",
        "--nostatic",
    ]
    assert project.cwd() == site


def test_environment_layers_dotenv_then_env_then_settings_and_never_jupyter_secrets(
    tmp_path, monkeypatch
):
    site = copy_demo_site(tmp_path)
    (site / ".env").write_text("FROM_FILE=file\nOVERRIDDEN=file\nJUPYTER_TOKEN_X=fine\n")
    monkeypatch.setenv("JUPYTER_TOKEN", "secret")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "secret")
    monkeypatch.setenv("JUPYTER_FUJITA_TOKEN", "secret")
    project = DjangoProject(tmp_path, "127.0.0.1:8123")
    project.extra_env = {"OVERRIDDEN": "trait", "FROM_TRAIT": "trait"}
    project.settings = "mysite.settings_alt"
    env = project.env()
    assert env["FROM_FILE"] == "file"
    assert env["OVERRIDDEN"] == "trait"
    assert env["FROM_TRAIT"] == "trait"
    assert env["DJANGO_SETTINGS_MODULE"] == "mysite.settings_alt"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert not {"JUPYTER_TOKEN", "JUPYTERHUB_API_TOKEN", "JUPYTER_FUJITA_TOKEN"} & set(env)
    assert project.identity() == ("site/manage.py", "mysite.settings_alt")


def test_without_settings_the_status_names_what_manage_py_sets_and_no_env_file_is_fine(
    tmp_path, monkeypatch
):
    copy_demo_site(tmp_path)
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)
    project = DjangoProject(tmp_path, "127.0.0.1:8123")
    assert project.env_file_path() is None
    assert "DJANGO_SETTINGS_MODULE" not in project.env()
    assert project.identity() == ("site/manage.py", "mysite.settings")
    project.env_file = ""
    assert project.env_file_path() is None
    assert DjangoProject(tmp_path / "nowhere").identity() == (None, None)


def test_a_configured_env_file_is_read_from_manage_pys_folder_or_its_absence_stops_the_start(
    tmp_path, monkeypatch
):
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)
    site = copy_demo_site(tmp_path)
    (site / ".env.dev").write_text("FROM_DEV=1\n")
    project = DjangoProject(tmp_path, "127.0.0.1:8123")
    project.env_file, project.env_file_required = ".env.dev", True
    assert project.env_file_path() == site / ".env.dev"
    assert project.env()["FROM_DEV"] == "1"
    project.env_file = str(tmp_path / "elsewhere.env")
    with pytest.raises(
        NotConfigured, match="Fujita.env_file is .*elsewhere.env, which is not a file"
    ):
        project.command()
    assert project.identity() == ("site/manage.py", "mysite.settings")  # the status still works


# -- a real server, a real runserver -----------------------------------------------------------

ENV_VIEW = '''

def environment(request):
    """Test only: what runserver's environment and settings are."""
    import os

    from django.conf import settings
    from django.http import JsonResponse

    names = ("FROM_FILE", "FROM_TRAIT", "OVERRIDDEN", "JUPYTER_FUJITA_TOKEN", "JUPYTER_TOKEN")
    return JsonResponse(
        {
            "env": {name: os.environ.get(name) for name in names},
            "settings": os.environ.get("DJANGO_SETTINGS_MODULE"),
            "marker": getattr(settings, "FUJITA_MARKER", None),
        }
    )
'''


@pytest.fixture(scope="module")
def configured(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("configured")
    site = copy_demo_site(tmp / "root")
    add_views(site, ENV_VIEW, {"environment/": "environment"})
    (site / "mysite" / "settings_alt.py").write_text(
        'from .settings import *  # noqa: F403\n\nFUJITA_MARKER = "alt"\n'
    )
    (site / ".env").write_text('FROM_FILE="from .env"\nOVERRIDDEN=file\n')
    server = JupyterServer(
        tmp,
        free_port(),
        extra_args=(
            "--Fujita.runserver_args=--nothreading",
            "--Fujita.runserver_args=--nostatic",
            "--Fujita.env=FROM_TRAIT=from the trait",
            "--Fujita.env=OVERRIDDEN=trait",
            "--Fujita.settings_module=mysite.settings_alt",
        ),
    )
    yield server
    server.end()
    assert oskit.port_is_free("127.0.0.1", server.django_port)


def server_log(server: JupyterServer) -> str:
    server.log.flush()
    return Path(server.log.name).read_text(errors="replace")


def test_runserver_gets_the_configured_args_env_dotenv_and_settings(configured):
    status = configured.request("GET", "processes/django")
    assert status["manage_py"] == "site/manage.py"
    assert status["settings"] == "mysite.settings_alt"
    configured.start_django()
    try:
        status = configured.request("GET", "processes/django")
        assert status["command"][2:] == [
            "runserver",
            f"127.0.0.1:{configured.django_port}",
            "--nothreading",
            "--nostatic",
        ]
        url = f"http://127.0.0.1:{configured.django_port}/environment/"
        with urllib.request.urlopen(url, timeout=30) as response:
            seen = json.loads(response.read())
        assert seen["env"] == {
            "FROM_FILE": "from .env",
            "FROM_TRAIT": "from the trait",
            "OVERRIDDEN": "trait",
            "JUPYTER_FUJITA_TOKEN": None,
            "JUPYTER_TOKEN": None,
        }
        assert seen["settings"] == "mysite.settings_alt"
        assert seen["marker"] == "alt"
    finally:
        assert configured.request("POST", "processes/django/stop")["state"] == "stopped"


def test_the_server_log_says_each_state_change_and_warns_of_each_error(configured):
    settings = configured.root / "site" / "mysite" / "settings_alt.py"
    configured.start_django()
    assert configured.request("POST", "processes/django/stop")["state"] == "stopped"
    edit(settings, 'FUJITA_MARKER = "alt"', 'FUJITA_MARKER = ("alt"')
    try:
        status = configured.request("POST", "processes/django/start")
        assert status["state"] == "crashed", status
    finally:
        edit(settings, 'FUJITA_MARKER = ("alt"', 'FUJITA_MARKER = "alt"')
    wait_until(lambda: "error: SyntaxError" in server_log(configured), 10, "the warning")
    log = server_log(configured)
    info = re.findall(r"\[I [^\]]*\] jupyter_fujita: django state=(\w+): (.*)", log)
    states = [state for state, _ in info]
    for expected in ("starting", "running", "stopping", "stopped", "crashed"):
        assert expected in states, (expected, states)
    running = dict(info)["running"]
    assert running == f"Django is running at http://127.0.0.1:{configured.django_port}/"
    warnings = re.findall(r"\[W [^\]]*\] jupyter_fujita: django: (.*)", log)
    assert warnings == ["syntax error: SyntaxError in site/mysite/settings_alt.py line 3"], log
