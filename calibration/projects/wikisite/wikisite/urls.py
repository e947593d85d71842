"""The URLconf django-wiki's installation guide asks for: its notifications, then the wiki at the root, last."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("notifications/", include("django_nyt.urls")),
    path("", include("wiki.urls")),
]
