"""The production settings, with what a test run needs on top (and nothing relaxed beyond it)."""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-never-used-in-production")
# The test client and the live server speak plain HTTP on localhost.
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")

from labelhub.settings import *  # noqa: F403

# The manifest storage needs `collectstatic` first; tests read static files from the source tree.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
# Hashing passwords at full strength would dominate the suite's run time.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# No collectstatic in tests: WhiteNoise serves straight from the app and project static folders.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
