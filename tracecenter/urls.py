"""The site's addresses. 403 and 404 answers are rendered from templates/403.html and 404.html, with the site's header."""

from django.http import HttpRequest, HttpResponseRedirect
from django.templatetags.static import static
from django.urls import include, path


def favicon(request: HttpRequest) -> HttpResponseRedirect:
    # Browsers ask for /favicon.ico whatever the page links: send them to the icon rather than log a 404 each time.
    return HttpResponseRedirect(static("tracecenter/favicon.svg"))


urlpatterns = [
    path("favicon.ico", favicon),
    path("", include("tracecenter.workspace.urls")),
    path("", include("tracecenter.api.page_urls")),
    path("accounts/", include("tracecenter.workspace.auth_urls")),
    path("api/", include("tracecenter.api.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
]
