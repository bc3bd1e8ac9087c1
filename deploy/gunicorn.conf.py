"""gunicorn settings for FitCRM (``gunicorn -c deploy/gunicorn.conf.py``).

Every value can be changed from the environment without editing this file:
GUNICORN_BIND, GUNICORN_WORKERS, GUNICORN_THREADS, GUNICORN_TIMEOUT.
The numbers behind the defaults are in docs/scaling.md.
"""

import multiprocessing
import os

wsgi_app = "fitcrm.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Sync workers: the admin is short requests, and slow clients are nginx's to buffer.
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
# No request does network I/O (SMTP and Twilio run in the worker), so 30 s is generous.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so a slow leak in any library cannot grow without bound.
max_requests = 2000
max_requests_jitter = 200
accesslog = "-"
errorlog = "-"
# The proxy's address is the only one allowed to set X-Forwarded-* (see deploy/nginx.conf).
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# Reload with `systemctl reload` (SIGHUP); no gunicornc control socket in $HOME.
control_socket_disable = True
