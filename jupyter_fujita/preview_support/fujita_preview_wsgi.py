"""The WSGI application of a previewed site: the user's own, told about the preview prefix.

A request whose path starts with the prefix gets it moved from PATH_INFO to SCRIPT_NAME; in the
answer, cookies are scoped to the prefix (else two previewed sites under one Jupyter would log
each other out) and `X-Frame-Options: DENY` becomes SAMEORIGIN (JupyterLab's preview tab frames
the site from Jupyter's own origin). Any other request goes through unchanged.
"""

import re

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.utils.module_loading import import_string

PREFIX = settings.FUJITA_PREVIEW_PREFIX.rstrip("/")
_ROOT_PATH = re.compile(r"(?i)(;\s*path=)/(?=;|$)")


def _scoped(cookie):
    return _ROOT_PATH.sub(lambda m: m.group(1) + PREFIX + "/", cookie)


def _through_jupyter(name, value):
    """A response header as it should be for a page shown through the prefix."""
    name = name.lower()
    if name == "set-cookie":
        return _scoped(value)
    if name == "x-frame-options" and value.upper() == "DENY":
        # JupyterLab's preview tab frames the site from the same origin; other sites still can't
        return "SAMEORIGIN"
    return value


class PrefixedSite:
    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path != PREFIX and not path.startswith(PREFIX + "/"):
            return self.app(environ, start_response)
        environ["SCRIPT_NAME"] = PREFIX
        environ["PATH_INFO"] = path[len(PREFIX) :] or "/"

        def start(status, headers, exc_info=None):
            headers = [(name, _through_jupyter(name, value)) for name, value in headers]
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


_inner = settings.FUJITA_USER_WSGI_APPLICATION
application = PrefixedSite(import_string(_inner) if _inner else get_wsgi_application())
