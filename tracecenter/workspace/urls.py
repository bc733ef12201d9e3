from django.urls import path

from tracecenter.workspace import views

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
]
