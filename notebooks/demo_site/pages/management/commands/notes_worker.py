"""A background worker, as a Celery worker or `manage.py qcluster` would be: it picks up new
notes and says what it did. The Procfile.dev beside manage.py runs it as `worker`."""

import time

from django.core.management.base import BaseCommand
from django.db import OperationalError

from pages.models import Note


class Command(BaseCommand):
    help = "Process new notes every few seconds."

    def add_arguments(self, parser):
        parser.add_argument("--every", type=float, default=5.0, help="seconds between looks")

    def handle(self, *args, every, **options):
        self.stdout.write("worker ready: looking for new notes", ending="\n")
        self.stdout.flush()
        seen = 0
        waiting = False
        while True:
            try:
                new = list(Note.objects.filter(pk__gt=seen).order_by("pk"))
                waiting = False
            except OperationalError as error:  # no table yet: migrate has not run
                if not waiting:
                    self.stderr.write(f"worker: database not ready ({error}); waiting for it")
                waiting = True
                new = []
            for note in new:
                words = len(note.body.split())
                self.stdout.write(f"worker: note {note.pk} {note.title!r}: {words} words")
                seen = note.pk
            self.stdout.flush()
            time.sleep(every)
