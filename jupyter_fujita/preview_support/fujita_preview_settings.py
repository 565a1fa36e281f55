"""Settings for previewing a Django site through Jupyter (loaded by runserver, not by Jupyter).

jupyter_fujita starts runserver with DJANGO_SETTINGS_MODULE pointing here, so the user's own
settings file stays untouched. This module takes every setting from the user's module and adds
what a site served under a prefix, behind Jupyter's proxy, needs:

- a WSGI application that moves the prefix from PATH_INFO to SCRIPT_NAME (so reverse(),
  redirects and build_absolute_uri() carry it) and scopes cookies to it;
- STATIC_URL and MEDIA_URL as absolute paths under the prefix;
- the public origin (a JupyterHub's host, say) in ALLOWED_HOSTS and CSRF_TRUSTED_ORIGINS.

Requests that do not come through the prefix (http://127.0.0.1:8000/ directly) are untouched.
Environment: FUJITA_USER_SETTINGS, FUJITA_PREVIEW_PREFIX, FUJITA_PUBLIC_ORIGINS.
"""

import importlib
import os
from urllib.parse import urlsplit

_user = importlib.import_module(os.environ["FUJITA_USER_SETTINGS"])
globals().update({name: value for name, value in vars(_user).items() if name.isupper()})

FUJITA_PREVIEW_PREFIX = os.environ["FUJITA_PREVIEW_PREFIX"].rstrip("/") + "/"
FUJITA_USER_WSGI_APPLICATION = getattr(_user, "WSGI_APPLICATION", None)
WSGI_APPLICATION = "fujita_preview_wsgi.application"


def _under_prefix(url):
    if not url or url.startswith(("http://", "https://", "//")):
        return url
    return FUJITA_PREVIEW_PREFIX + url.lstrip("/")


STATIC_URL = _under_prefix(getattr(_user, "STATIC_URL", None) or "static/")
if getattr(_user, "MEDIA_URL", None):
    MEDIA_URL = _under_prefix(_user.MEDIA_URL)

_origins = [o for o in os.environ.get("FUJITA_PUBLIC_ORIGINS", "").split() if o]
if _origins:
    _hosts = list(getattr(_user, "ALLOWED_HOSTS", []) or [])
    if not _hosts:  # what Django allows when DEBUG and ALLOWED_HOSTS is empty
        _hosts = [".localhost", "127.0.0.1", "[::1]"]
    ALLOWED_HOSTS = _hosts + [urlsplit(o).hostname for o in _origins if urlsplit(o).hostname]
    CSRF_TRUSTED_ORIGINS = list(getattr(_user, "CSRF_TRUSTED_ORIGINS", []) or []) + _origins
if not getattr(_user, "SECURE_PROXY_SSL_HEADER", None):
    # jupyter_fujita's preview proxy sets this header itself from the browser's real scheme
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
