from django.urls import path

from portal.accounts import users_views as views

app_name = "users"

urlpatterns = [
    path("", views.user_list, name="list"),
    path("new/", views.user_create, name="create"),
    path("permissions/", views.user_permissions_preview, name="permissions-preview"),
    path("<uuid:uuid>/edit/", views.user_edit, name="edit"),
    path("<uuid:uuid>/delete/", views.user_delete, name="delete"),
    path("roles/", views.role_list, name="roles"),
    path("roles/new/", views.role_create, name="role-create"),
    path("roles/<uuid:uuid>/edit/", views.role_edit, name="role-edit"),
    path("roles/<uuid:uuid>/delete/", views.role_delete, name="role-delete"),
]
