"""What apps above this one do when a label is stored, called by the submission service.

The quality controls (app `quality`) pause an expert whose gold accuracy falls below the bar and
grade a qualification on its last answer, in the same transaction as the answer that decides it.
They live above this app, which may not import them, so they register here when the app registry
is ready (`AppConfig.ready`); the submission service calls them, in registration order, after each
new annotation (a retry that stores nothing calls nothing). An explicit list, not a signal: what
runs after a submission can be read off this module's callers and registrants.
"""

from collections.abc import Callable

from annotations.models import Annotation
from projects.models import Item, Project

AfterLabel = Callable[..., None]  # (*, annotation: Annotation, item: Item, project: Project)

_AFTER_LABEL: list[AfterLabel] = []


def on_label_stored(hook: AfterLabel) -> AfterLabel:
    """Register `hook` to run after each new annotation (once, however often it is registered)."""
    if hook not in _AFTER_LABEL:
        _AFTER_LABEL.append(hook)
    return hook


def label_stored(*, annotation: Annotation, item: Item, project: Project) -> None:
    for hook in _AFTER_LABEL:
        hook(annotation=annotation, item=item, project=project)
