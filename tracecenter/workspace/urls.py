from django.urls import path

from tracecenter.workspace import intake_views, views

app_name = "workspace"

urlpatterns = [
    path("", views.my_work, name="my_work"),
    path("cases/<int:pk>/", views.case_detail, name="case_detail"),
    path("cases/<int:pk>/interview/", views.interview, name="interview"),
    path("cases/<int:pk>/derived-dates/", views.derived_dates, name="derived_dates"),
    path("cases/<int:pk>/status/", views.case_status, name="case_status"),
    path("cases/<int:pk>/assign/", views.case_assign_view, name="case_assign"),
    path("cases/<int:pk>/transfer/", views.case_transfer_view, name="case_transfer"),
    path("contacts/<int:pk>/", views.contact_detail, name="contact_detail"),
    path("audit/", views.audit_log, name="audit_log"),
    path("intake/", intake_views.intake_upload, name="intake_upload"),
    path("intake/batches/<int:pk>/", intake_views.intake_batch, name="intake_batch"),
    path("intake/batches/<int:pk>/progress/", intake_views.intake_batch_progress, name="intake_batch_progress"),
    path("intake/messages/<int:pk>/", intake_views.intake_message, name="intake_message"),
    path("identity/reviews/", intake_views.match_reviews, name="match_reviews"),
    path("identity/reviews/<int:pk>/", intake_views.match_review, name="match_review"),
    path("identity/merges/<int:pk>/undo/", intake_views.merge_undo, name="merge_undo"),
]
