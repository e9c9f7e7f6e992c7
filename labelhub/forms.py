"""Form fields shared by the apps' forms and admins."""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.fields import InvalidJSONInput

from labelhub.fastjson import MAX_DEPTH, TooDeep, depth


class JSONField(forms.JSONField):
    """Django's, but JSON nested past `MAX_DEPTH` levels is invalid input like any other, not the
    RecursionError (a 500) that json meets on its way down, when checked and again when the form
    is shown with its error."""

    def to_python(self, value: Any) -> Any:
        try:
            converted = super().to_python(value)
        except RecursionError:
            converted = None
        else:
            if depth(converted) <= MAX_DEPTH:
                return converted
        raise ValidationError(f"Enter a valid JSON: {TooDeep()}.", code="invalid")

    def bound_data(self, data: Any, initial: Any) -> Any:
        try:
            value = super().bound_data(data, initial)
        except RecursionError:
            return InvalidJSONInput(data)
        return InvalidJSONInput(data) if depth(value) > MAX_DEPTH else value
