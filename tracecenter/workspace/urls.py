from django.urls import path

from tracecenter.workspace.views import administration as admin
from tracecenter.workspace.views import audit, cases, contacts, intake, people, privacy, system, work

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
    path("privacy/access/", privacy.access_review, name="access_review"),
    path("privacy/retention/", privacy.retention_page, name="retention"),
    path("privacy/retention/periods/", privacy.retention_rule, name="retention_rule"),
    path("privacy/holds/", privacy.legal_hold_place, name="legal_hold_place"),
    path("privacy/holds/<int:pk>/lift/", privacy.legal_hold_lift, name="legal_hold_lift"),
    path("administration/system/", system.system, name="system"),
    path("administration/system/retry/", system.system_retry, name="system_retry"),
    path("administration/", admin.jurisdictions, name="admin_jurisdictions"),
    path("administration/jurisdictions/<int:pk>/", admin.jurisdiction_edit, name="admin_jurisdiction_edit"),
    path("administration/jurisdictions/<int:pk>/new/", admin.jurisdiction_create, name="admin_jurisdiction_create"),
    path("administration/jurisdictions/<int:pk>/delete/", admin.jurisdiction_delete, name="admin_jurisdiction_delete"),
    path("administration/jurisdictions/<int:pk>/teams/new/", admin.team_create, name="admin_team_create"),
    path("administration/jurisdictions/<int:pk>/rules/", admin.rule_sets, name="admin_rule_sets"),
    path("administration/teams/<int:pk>/", admin.team_edit, name="admin_team_edit"),
    path("administration/rules/<int:pk>/", admin.rule_set_edit, name="admin_rule_set_edit"),
    path("administration/rules/<int:pk>/delete/", admin.rule_set_delete, name="admin_rule_set_delete"),
    path("administration/skills/", admin.skills, name="admin_skills"),
    path("administration/users/", admin.users, name="admin_users"),
    path("administration/users/new/", admin.user_create, name="admin_user_create"),
    path("administration/users/<int:pk>/", admin.user_edit, name="admin_user_edit"),
    path("administration/users/<int:pk>/deactivate/", admin.user_deactivate, name="admin_user_deactivate"),
    path("administration/users/<int:pk>/reactivate/", admin.user_reactivate, name="admin_user_reactivate"),
    path("administration/users/<int:pk>/password/", admin.user_password_reset, name="admin_user_password_reset"),
]
