"""The ASGI application: Django for HTTP, Channels for the live WebSocket (/live/).

The socket authenticates through the session (AuthMiddlewareStack) and accepts only
connections whose Origin is one of ALLOWED_HOSTS, so another site cannot open a socket
with a signed-in user's cookie.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracecenter.settings")
get_asgi_application()  # sets Django up before the imports below

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from tracecenter.workspace.live import websocket_urlpatterns  # noqa: E402


def build() -> ProtocolTypeRouter:
    """A new application (its middleware reads the settings, and the static files, as they are now)."""
    return ProtocolTypeRouter(
        {
            "http": get_asgi_application(),
            "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
        }
    )


application = build()
