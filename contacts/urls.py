"""Routes of the Contacts section (guide §8), mounted at /contacts/."""

from django.urls import path

from contacts import import_views, views

app_name = "contacts"

urlpatterns = [
    path("", views.contact_list, name="contact-list"),
    path("new/", views.contact_create, name="contact-create"),
    path("mass-edit/", views.contact_mass_edit, name="contact-mass-edit"),
    path("import/", import_views.import_start, name="import-start"),
    path("import/<uuid:uuid>/", import_views.import_detail, name="import-detail"),
    path("import/<uuid:uuid>/first-row/", import_views.import_first_row, name="import-first-row"),
    path("import/<uuid:uuid>/mapping/", import_views.import_mapping, name="import-mapping"),
    path("import/<uuid:uuid>/duplicates/", import_views.import_duplicates, name="import-duplicates"),
    path("import/<uuid:uuid>/progress/", import_views.import_progress, name="import-progress"),
    path("import/<uuid:uuid>/run/", import_views.import_run, name="import-run"),
    path("import/<uuid:uuid>/cancel/", import_views.import_cancel, name="import-cancel"),
    path("import/<uuid:uuid>/rejected.csv", import_views.import_report, name="import-report"),
    path("export/", import_views.export_create, name="export-create"),
    path("export/<uuid:uuid>/", import_views.export_detail, name="export-detail"),
    path("export/<uuid:uuid>/download/", import_views.export_download, name="export-download"),
    path("attributes/", views.attribute_list, name="attribute-list"),
    path("attributes/new/", views.attribute_create, name="attribute-create"),
    path("attributes/<uuid:uuid>/", views.attribute_edit, name="attribute-edit"),
    path("attributes/<uuid:uuid>/delete/", views.attribute_delete, name="attribute-delete"),
    path("targets/", views.target_list, name="target-list"),
    path("targets/new/", views.target_create, name="target-create"),
    path("targets/count/", views.target_count, name="target-count"),
    path("targets/to-broadcasts/", views.target_to_broadcasts, name="target-to-broadcasts"),
    path("targets/<uuid:uuid>/", views.target_edit, name="target-edit"),
    path("targets/<uuid:uuid>/duplicate/", views.target_duplicate, name="target-duplicate"),
    path("targets/<uuid:uuid>/delete/", views.target_delete, name="target-delete"),
    path("optout-words/", views.word_list, name="word-list"),
    path("optout-words/new/", views.word_create, name="word-create"),
    path("optout-words/<uuid:uuid>/", views.word_edit, name="word-edit"),
    path("optout-words/<uuid:uuid>/delete/", views.word_delete, name="word-delete"),
    path("<uuid:uuid>/", views.contact_edit, name="contact-edit"),
    path("<uuid:uuid>/delete/", views.contact_delete, name="contact-delete"),
    path("<uuid:uuid>/optouts/", views.contact_optout_add, name="contact-optout-add"),
    path(
        "<uuid:uuid>/optouts/<int:optout_id>/delete/",
        views.contact_optout_remove,
        name="contact-optout-remove",
    ),
]
