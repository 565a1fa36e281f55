"""A Channels project (Daphne's runserver, a WebSocket echo consumer), as people build chat and
live-update features, for the preview's WebSocket tests."""

from __future__ import annotations

from pathlib import Path

from conftest import manage_py, write_files

FILES = {
    "manage.py": manage_py("chat.settings"),
    "chat/__init__.py": "",
    "chat/settings.py": """
        SECRET_KEY = "fixture-only-not-secret"
        DEBUG = True
        INSTALLED_APPS = ["daphne", "django.contrib.staticfiles", "chat"]
        ROOT_URLCONF = "chat.urls"
        ASGI_APPLICATION = "chat.asgi.application"
        STATIC_URL = "/static/"
        DATABASES = {}
        USE_TZ = True
    """,
    "chat/urls.py": """
        from django.http import HttpResponse
        from django.urls import path

        urlpatterns = [path("", lambda request: HttpResponse("<h1>Chat</h1>"))]
    """,
    "chat/consumers.py": """
        from channels.generic.websocket import WebsocketConsumer

        class Echo(WebsocketConsumer):
            def receive(self, text_data=None, bytes_data=None):
                self.send(text_data=f"echo {text_data} at {self.scope['path']}")
    """,
    "chat/asgi.py": """
        import os

        from django.core.asgi import get_asgi_application

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chat.settings")
        django_asgi_app = get_asgi_application()

        from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
        from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
        from django.urls import path  # noqa: E402

        from chat.consumers import Echo  # noqa: E402

        application = ProtocolTypeRouter(
            {
                "http": django_asgi_app,
                "websocket": AllowedHostsOriginValidator(
                    URLRouter([path("ws/echo/", Echo.as_asgi())])
                ),
            }
        )
    """,
}


def make_chat_site(root: Path) -> Path:
    site = root / "chat_site"
    write_files(site, FILES)
    return site
