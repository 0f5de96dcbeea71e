"""gunicorn settings for the `web` process (`gunicorn config.wsgi -c config/gunicorn.conf.py`).

Everything can be overridden from the environment (below) or on the command line. In production
gunicorn sits behind the buffering proxy in deploy/nginx.conf, so it listens on loopback only.
"""

import os

# Loopback by default: the proxy in front is the only client. A PaaS that routes to $PORT on every
# interface sets WEB_BIND=0.0.0.0:$PORT explicitly.
bind = [os.environ.get("WEB_BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}")]
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
threads = int(os.environ.get("WEB_THREADS", "8"))
# gthread's main loop, made to read each request in full before a thread takes it (slow clients
# then cost a socket, not a thread): see config/gunicorn_worker.py.
worker_class = "config.gunicorn_worker.BufferingThreadWorker"
# Open connections per worker, slow ones included; each is a socket and at most its buffer.
worker_connections = int(os.environ.get("WEB_CONNECTIONS", "1000"))
timeout = int(os.environ.get("WEB_TIMEOUT", "60"))  # a worker silent this long is restarted
graceful_timeout = 30
keepalive = 5
limit_request_line = 8190
limit_request_fields = 100
accesslog = os.environ.get("WEB_ACCESS_LOG", "-") or None  # "-": stdout; empty: none
