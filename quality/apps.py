from django.apps import AppConfig


class QualityConfig(AppConfig):
    name = "quality"
    verbose_name = "Quality"

    def ready(self) -> None:
        # The export (in annotations, below this app) offers the aggregates registered with it.
        from annotations.exports import register_aggregate
        from quality.aggregates import DAWID_SKENE

        register_aggregate(DAWID_SKENE)
