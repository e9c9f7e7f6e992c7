from django.apps import AppConfig


class QualityConfig(AppConfig):
    name = "quality"
    verbose_name = "Quality"

    def ready(self) -> None:
        # The `annotations` export carries each annotation's signals; the annotations app may not
        # import this one, so this app adds them to the format.
        from annotations.exports import add_columns
        from quality.export_columns import SIGNALS

        add_columns("annotations", SIGNALS)
