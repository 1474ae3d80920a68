"""The WSGI entry point for any server: `gunicorn wsgi:app`.

gunicorn serves pages only; run `digest scheduler` (fetch, plan, deliver) or `digest worker`
(delivery) beside it, since mail from the web is queued, never sent in the request.
"""

from digest.config import ConfigError
from digest.web import create_app

try:
    app = create_app()
except ConfigError as exc:  # a bad DIGEST_* value: one line naming it, not a traceback
    raise SystemExit(f"digest: {exc}") from None
