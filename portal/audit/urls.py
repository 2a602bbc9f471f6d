from django.urls import path

from portal.audit import views

app_name = "audit"

urlpatterns = [
    path("", views.audit_list, name="list"),
    path("<uuid:uuid>/details/", views.audit_details, name="details"),
    path("<uuid:uuid>/details.csv", views.audit_details_csv, name="details-csv"),
]
