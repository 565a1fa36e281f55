"""URLs of the demo site."""
from django.contrib import admin
from django.urls import path

from pages import views

urlpatterns = [
    path("", views.home, name="home"),
    path("notes/", views.notes, name="notes"),
    path("admin/", admin.site.urls),
]
