import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_wsgi_application()

# Provider callbacks (thousands a second) skip the dashboard's middleware: see callbacks/wsgi.py.
from callbacks.wsgi import with_callbacks  # noqa: E402 - needs the settings configured above

application = with_callbacks(django_application)
