"""The demo's pages: a home page and the list of notes."""
from django.shortcuts import render

from .models import Note


def home(request):
    return render(request, "pages/home.html", {"greeting": "Hello from Django"})


def notes(request):
    return render(request, "pages/notes.html", {"notes": Note.objects.all()[:50]})
