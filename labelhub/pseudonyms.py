"""Stable pseudonymous annotator ids.

Clients must never learn who labelled their data, yet need to tell annotators apart (agreement,
per-annotator filtering). An HMAC of (project, user) under a server secret gives an id that is
stable within a project, differs between projects (so two clients cannot join their exports on
it), and cannot be reversed without the key.
"""

import hashlib
import hmac

from django.conf import settings


def annotator_pseudonym(*, project_id: int, user_id: int) -> str:
    message = f"annotator:{project_id}:{user_id}".encode()
    digest = hmac.new(settings.PSEUDONYM_KEY.encode(), message, hashlib.sha256).hexdigest()
    return f"ann_{digest[:16]}"
