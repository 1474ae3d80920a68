"""The WSGI entry point for any server: `gunicorn wsgi:app`.

gunicorn serves pages only; run `digest scheduler` (fetch, plan, deliver) or `digest worker`
(delivery) beside it, since mail from the web is queued, never sent in the request.
"""

from digest.web import create_app

app = create_app()
