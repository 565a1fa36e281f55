"""The WSGI application of a previewed site: the user's own, told about the preview prefix.

A request whose path starts with the prefix gets it moved from PATH_INFO to SCRIPT_NAME, and
the cookies Django sets in answer are scoped to the prefix (else two previewed sites under one
Jupyter would log each other out). Any other request goes through unchanged.
"""

import re

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.utils.module_loading import import_string

PREFIX = settings.FUJITA_PREVIEW_PREFIX.rstrip("/")
_ROOT_PATH = re.compile(r"(?i)(;\s*path=)/(?=;|$)")


def _scoped(cookie):
    return _ROOT_PATH.sub(lambda m: m.group(1) + PREFIX + "/", cookie)


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
            headers = [
                (name, _scoped(value) if name.lower() == "set-cookie" else value)
                for name, value in headers
            ]
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


_inner = settings.FUJITA_USER_WSGI_APPLICATION
application = PrefixedSite(import_string(_inner) if _inner else get_wsgi_application())
