from django.apps import AppConfig


class LabelhubConfig(AppConfig):
    name = "labelhub"
    verbose_name = "LabelHub"

    def ready(self) -> None:
        # Logins happen in Django's and the admin's own views; their signals are the one place
        # every login, failure and logout passes through, so the audit trail listens there.
        from django.contrib.auth import signals
        from django.urls import register_converter

        from labelhub import audit
        from labelhub.converters import PrimaryKeyConverter

        signals.user_logged_in.connect(audit.on_login, dispatch_uid="audit-login")
        signals.user_login_failed.connect(audit.on_login_failed, dispatch_uid="audit-login-failed")
        signals.user_logged_out.connect(audit.on_logout, dispatch_uid="audit-logout")
        # Here, before any URLconf is read: every app's routes may name ids as `<pk:…>`.
        register_converter(PrimaryKeyConverter, "pk")
