from django.urls import path

from tracecenter.workspace.views import audit, cases, contacts, intake, people, system, work

app_name = "workspace"

urlpatterns = [
    path("", work.my_work, name="my_work"),
    path("cases/<int:pk>/", cases.case_detail, name="case_detail"),
    path("cases/<int:pk>/interview/", cases.interview, name="interview"),
    path("cases/<int:pk>/derived-dates/", cases.derived_dates, name="derived_dates"),
    path("cases/<int:pk>/status/", cases.case_status, name="case_status"),
    path("cases/<int:pk>/assign/", cases.case_assign_view, name="case_assign"),
    path("cases/<int:pk>/transfer/", cases.case_transfer_view, name="case_transfer"),
    path("contacts/<int:pk>/", contacts.contact_detail, name="contact_detail"),
    path("audit/", audit.audit_log, name="audit_log"),
    path("intake/", intake.intake_upload, name="intake_upload"),
    path("intake/batches/<int:pk>/", intake.intake_batch, name="intake_batch"),
    path("intake/batches/<int:pk>/progress/", intake.intake_batch_progress, name="intake_batch_progress"),
    path("intake/messages/<int:pk>/", intake.intake_message, name="intake_message"),
    path("identity/reviews/", people.match_reviews, name="match_reviews"),
    path("identity/reviews/<int:pk>/", people.match_review, name="match_review"),
    path("identity/merges/<int:pk>/undo/", people.merge_undo, name="merge_undo"),
    path("system/", system.system, name="system"),
    path("system/retry/", system.system_retry, name="system_retry"),
]
