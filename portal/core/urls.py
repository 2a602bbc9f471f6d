from django.urls import path

from portal.core import list_views, views

app_name = "core"

urlpatterns = [
    path("", views.home, name="home"),
    path("no-access/", views.no_access, name="no-access"),
    path("soon/<slug:section>/", views.not_available, name="not-available"),
    path("ui/menu/", views.menu_toggle, name="menu-toggle"),
    path("ui/columns/<slug:list_key>/", list_views.list_columns, name="list-columns"),
]
