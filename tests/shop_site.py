"""A fixture project shaped like the ones people have, for the preview's tests.

A settings package (`shop/settings/base.py` + `dev.py`, named by manage.py), absolute
`STATIC_URL = "/static/"` and `MEDIA_URL = "/media/"` with media served by `static()` in
urls.py and an uploaded image already there, a `{% cache %}` fragment, a custom LOGGING
format, the admin, a form upload, a JSON API that the page calls with `fetch()` and Django's
CSRF header, a streamed download, and a view that shows what reached Django.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import manage_py, write_files

# The smallest valid PNG: one transparent pixel.
PIXEL_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)
ADMIN_PASSWORD = "s3cret-pass"

FILES = {
    "manage.py": manage_py("shop.settings.dev"),
    "shop/__init__.py": "",
    "shop/settings/__init__.py": "",
    "shop/settings/base.py": """
        from pathlib import Path

        BASE_DIR = Path(__file__).resolve().parent.parent.parent
        SECRET_KEY = "fixture-only-not-secret"
        INSTALLED_APPS = [
            "django.contrib.admin",
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "django.contrib.staticfiles",
            "gallery",
        ]
        MIDDLEWARE = [
            "django.middleware.security.SecurityMiddleware",
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
            "django.middleware.clickjacking.XFrameOptionsMiddleware",
        ]
        ROOT_URLCONF = "shop.urls"
        TEMPLATES = [
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "APP_DIRS": True,
                "OPTIONS": {
                    "context_processors": [
                        "django.template.context_processors.request",
                        "django.template.context_processors.media",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages",
                    ]
                },
            }
        ]
        DATABASES = {
            "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}
        }
        STATIC_URL = "/static/"
        MEDIA_URL = "/media/"
        MEDIA_ROOT = BASE_DIR / "media"
        USE_TZ = True
        DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
    """,
    "shop/settings/dev.py": """
        from .base import *  # noqa: F403

        DEBUG = True
        CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
        LOGGING = {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {
                "bracketed": {"format": "[{asctime}][{levelname}][{name}] {message}", "style": "{"}
            },
            "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "bracketed"}},
            "loggers": {"django": {"handlers": ["console"], "level": "INFO"}},
        }
    """,
    "shop/urls.py": """
        from django.conf import settings
        from django.conf.urls.static import static
        from django.contrib import admin
        from django.urls import path

        from gallery import views

        urlpatterns = [
            path("admin/", admin.site.urls),
            path("upload/", views.upload, name="upload"),
            path("api/echo/", views.echo, name="echo"),
            path("download/", views.download, name="download"),
            path("seen/", views.seen, name="seen"),
            path("cookies/", views.cookies, name="cookies"),
            path("hostile/", views.hostile, name="hostile"),
            path("", views.home, name="home"),
        ] + static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
    """,
    "gallery/__init__.py": "",
    "gallery/views.py": '''
        import json

        from django.core.files.storage import default_storage
        from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
        from django.shortcuts import redirect, render
        from django.urls import reverse
        from django.views.decorators.csrf import ensure_csrf_cookie

        @ensure_csrf_cookie
        def home(request):
            photos = sorted(default_storage.listdir("photos")[1])
            return render(request, "gallery/home.html", {"photos": photos})

        def upload(request):
            if request.method == "POST":
                photo = request.FILES["photo"]
                default_storage.save(f"photos/{photo.name}", photo)
                return redirect("home")
            return render(request, "gallery/upload.html")

        def echo(request):
            """A JSON API the page calls with fetch() and the X-CSRFToken header."""
            return JsonResponse({"got": json.loads(request.body), "method": request.method})

        def download(request):
            """`?mb=N` megabytes, streamed in 64 KiB chunks."""
            chunk = b"x" * 65536
            count = int(request.GET.get("mb", "1")) * 16
            response = StreamingHttpResponse(chunk for _ in range(count))
            response["Content-Type"] = "application/octet-stream"
            response["Content-Length"] = str(count * len(chunk))
            return response

        def seen(request):
            """What reached Django: the request's headers and environment, as JSON."""
            return JsonResponse(
                {
                    "meta": {k: v for k, v in request.META.items() if isinstance(v, str)},
                    "cookies": request.COOKIES,
                    "reverse": reverse("upload"),
                    "absolute": request.build_absolute_uri(),
                }
            )

        def hostile(request):
            """What an XSS in the site under development could do with the Jupyter session:
            the outcome of each attack, as JSON in #attacks (`?jupyter=` is Jupyter's URL)."""
            return render(request, "gallery/hostile.html")

        def cookies(request):
            """Cookies with the paths and names that could collide with Jupyter's."""
            response = HttpResponse("cookies set")
            response.set_cookie("theme", "dark")
            response.set_cookie("_xsrf", "from-django", path="/")
            response.set_cookie("username-127-0-0-1-8888", "from-django", path="/")
            response.set_cookie("hubwide", "1", path="/user/alice/", domain="127.0.0.1")
            return response
    ''',
    "gallery/templates/gallery/hostile.html": """
        <!doctype html><title>hostile</title><pre id="attacks">running</pre>
        <script>
        (async () => {
          const jupyter = new URLSearchParams(location.search).get("jupyter");
          const out = {};
          // A fetch no script of the page has touched (jupyter_fujita's shim moves the page's
          // own root-relative URLs under the preview; an attacker would not use that one).
          const blank = document.body.appendChild(document.createElement("iframe"));
          const fetch = blank.contentWindow.fetch.bind(blank.contentWindow);
          try {
            const r = await fetch(jupyter + "api/contents", {credentials: "include"});
            out.read_api = r.ok ? "succeeded" : "refused " + r.status;
          } catch (e) { out.read_api = "blocked"; }
          let xsrf = "";
          try {
            const c = document.cookie.split("; ").find((c) => c.startsWith("_xsrf="));
            xsrf = c ? c.slice(6) : "";
            out.read_xsrf = c ? "succeeded" : "not visible";
          } catch (e) { out.read_xsrf = "blocked"; }
          try {
            const r = await fetch(jupyter + "api/kernels", {
              method: "POST", credentials: "include", body: "{}",
              headers: {"Content-Type": "application/json", "X-XSRFToken": xsrf},
            });
            out.start_kernel = r.status === 201 ? "succeeded" : "refused " + r.status;
          } catch (e) { out.start_kernel = "blocked"; }
          try {
            out.script_parent = window.parent === window ? "not framed"
              : (window.parent.document.title, "succeeded");
          } catch (e) { out.script_parent = "blocked"; }
          document.getElementById("attacks").textContent = JSON.stringify(out);
        })();
        </script>
    """,
    "gallery/templates/gallery/base.html": """
        {% load static %}<!doctype html>
        <html lang="en">
        <head>
          <meta charset="utf-8">
          <title>Shop</title>
          <link rel="stylesheet" href="{% static 'gallery/site.css' %}">
        </head>
        <body>
          <nav><a href="{% url 'home' %}">Home</a> <a href="{% url 'upload' %}">Upload</a></nav>
          {% block content %}{% endblock %}
        </body>
        </html>
    """,
    "gallery/templates/gallery/home.html": """
        {% extends "gallery/base.html" %}{% load cache %}
        {% block content %}
        {% cache 300 menu %}<p id="cached"><a href="{% url 'upload' %}">Add a photo</a></p>{% endcache %}
        <ul id="photos">{% for photo in photos %}
          <li><img src="{{ MEDIA_URL }}photos/{{ photo }}" alt="{{ photo }}"></li>
        {% endfor %}</ul>
        <button id="ping">Ping</button> <output id="answer"></output>
        <script>
          function cookie(name) {
            const found = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
            return found ? decodeURIComponent(found.split("=")[1]) : null;
          }
          document.getElementById("ping").addEventListener("click", async () => {
            const response = await fetch("{% url 'echo' %}", {
              method: "POST",
              headers: {"Content-Type": "application/json", "X-CSRFToken": cookie("csrftoken")},
              body: JSON.stringify({hello: "fujita"}),
            });
            document.getElementById("answer").textContent = response.status + " " + await response.text();
          });
        </script>
        {% endblock %}
    """,
    "gallery/templates/gallery/upload.html": """
        {% extends "gallery/base.html" %}
        {% block content %}
        <form method="post" enctype="multipart/form-data" action="{% url 'upload' %}">
          {% csrf_token %}<input type="file" name="photo"><button type="submit">Upload</button>
        </form>
        {% endblock %}
    """,
    "gallery/static/gallery/site.css": """
        body { font-family: sans-serif; background: url(/static/gallery/paper.png); }
    """,
}


def make_shop_site(root: Path) -> Path:
    """The project under root/shop_site, migrated, with an admin user and one uploaded photo;
    returns the folder holding manage.py."""
    site = root / "shop_site"
    write_files(site, FILES)
    (site / "gallery/static/gallery/paper.png").write_bytes(PIXEL_PNG)
    (site / "media/photos").mkdir(parents=True)
    (site / "media/photos/cat.png").write_bytes(PIXEL_PNG)
    env = dict(
        os.environ,
        DJANGO_SUPERUSER_PASSWORD=ADMIN_PASSWORD,
        DJANGO_SUPERUSER_EMAIL="alice@example.com",
    )
    env.pop("DJANGO_SETTINGS_MODULE", None)
    for command in (["migrate", "-v0"], ["createsuperuser", "--noinput", "--username", "alice"]):
        subprocess.run([sys.executable, "manage.py", *command], cwd=site, env=env, check=True)
    return site
