from django.urls import include, path

urlpatterns = [
    path("", include("tracecenter.workspace.urls")),
    path("accounts/", include("tracecenter.accounts.urls")),
    path("api/", include("tracecenter.api.urls")),
]
