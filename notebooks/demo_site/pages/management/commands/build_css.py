"""A front-end watcher, as a Tailwind or Vite watcher would be: it builds pages/static/pages/
site.css from the files in pages/styles/ and, with --watch, again whenever one changes. The
Procfile.dev beside manage.py runs it as `css`."""

import time
from pathlib import Path

from django.core.management.base import BaseCommand

PAGES = Path(__file__).resolve().parents[2]
SOURCES = PAGES / "styles"
TARGET = PAGES / "static" / "pages" / "site.css"


class Command(BaseCommand):
    help = "Build site.css from pages/styles/*.css; --watch rebuilds on every change."

    def add_arguments(self, parser):
        parser.add_argument("--watch", action="store_true")
        parser.add_argument("--poll", type=float, default=0.5, help="seconds between looks")

    def handle(self, *args, watch, poll, **options):
        built = None
        while True:
            sources = sorted(SOURCES.glob("*.css"))
            stamp = [(path.name, path.stat().st_mtime_ns) for path in sources]
            if stamp != built:
                css = "".join(f"/* {path.name} */\n{path.read_text()}" for path in sources)
                TARGET.write_text(f"/* Built by manage.py build_css: edit pages/styles/. */\n{css}")
                self.stdout.write(f"css: wrote {TARGET.relative_to(PAGES.parent)} ({len(css)} bytes)")
                built = stamp
                if not watch:
                    return
                self.stdout.write(f"css: watching {SOURCES.relative_to(PAGES.parent)}/")
                self.stdout.flush()
            time.sleep(poll)
