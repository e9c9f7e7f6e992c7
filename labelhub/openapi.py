"""The API's OpenAPI schema tells every answer an operation can give, not only its successes.

DRF answers some errors the same way on every endpoint (no or a bad token, throttling, a body it
cannot read); the one door answers 404 to outsiders and 403 to members without the right. The
schema class adds those answers to each operation where they can happen, so the views declare
only their own (a lease lost, an import refused). `query_parameters` describes a form's fields as
query parameters, so a query's schema is the form that reads it.
"""

import json
from collections.abc import Mapping
from typing import Any

from django import forms
from django.core import validators
from drf_spectacular import openapi
from drf_spectacular.plumbing import force_instance
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny

NO_NUL = r"^[^\x00]*$"


class ErrorSerializer(serializers.Serializer):
    class Meta:
        ref_name = "Error"

    detail = serializers.CharField()


# DRF's ValidationError: field (or "non_field_errors") -> messages; a body it cannot parse, "detail".
VALIDATION_ERRORS = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
}


def error_response(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


class AutoSchema(openapi.AutoSchema):
    def _map_basic_serializer(self, serializer: Any, direction: str) -> dict[str, Any]:
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "request":
            for name, field in force_instance(serializer).fields.items():
                text = schema["properties"].get(name, {})
                if isinstance(field, serializers.CharField) and text.get("type") == "string":
                    text.setdefault("pattern", NO_NUL)  # DRF's CharField refuses NUL characters
        return schema

    def _get_request_for_media_type(self, serializer: Any, direction: str = "request") -> tuple[Any, bool]:
        if isinstance(serializer, dict):  # a body given as a JSON Schema is one the operation needs
            return serializer, True
        return super()._get_request_for_media_type(serializer, direction)

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        for code, (answer, headers) in self._common_answers().items():
            if code not in responses:
                responses[code] = self._get_response_for_code(answer, code, direction=direction)
                if headers:
                    responses[code]["headers"] = headers
        return responses

    def _common_answers(self) -> dict[str, tuple[OpenApiResponse, dict[str, Any]]]:
        answers: dict[str, tuple[OpenApiResponse, dict[str, Any]]] = {}
        has_body = self.method in ("POST", "PUT", "PATCH") and self.get_request_serializer() is not None
        has_query = any(
            isinstance(parameter, OpenApiParameter) and parameter.location == OpenApiParameter.QUERY
            for parameter in self.get_override_parameters()
        )
        in_project = "{" in self.path
        if has_body or has_query:
            answers["400"] = (
                OpenApiResponse(VALIDATION_ERRORS, description="The request is invalid: what and where."),
                {},
            )
        if not all(isinstance(permission, AllowAny) for permission in self.view.get_permissions()):
            answers["401"] = (
                error_response("No token, or a token that is not valid."),
                {"WWW-Authenticate": {"schema": {"type": "string"}, "required": True}},
            )
        if in_project or self.method not in ("GET", "HEAD", "OPTIONS"):
            answers["403"] = (
                error_response(
                    "A member without the right to this (or a session request without its CSRF token)."
                ),
                {},
            )
        if in_project:
            answers["404"] = (error_response("No such project, or none this token may see."), {})
        if has_body:
            answers["415"] = (error_response("A body of a media type this operation does not read."), {})
        if self.view.get_throttles():
            answers["429"] = (
                error_response("Too many requests; retry after the given number of seconds."),
                {"Retry-After": {"schema": {"type": "integer"}, "required": True}},
            )
        # Any request may meet a database restart (labelhub.resilience).
        answers["503"] = (
            error_response(
                "The database is briefly unavailable; nothing was saved. Retry after a few seconds."
            ),
            {"Retry-After": {"schema": {"type": "integer"}, "required": True}},
        )
        return answers


def wrong_json_types(
    fields: Mapping[str, serializers.Field], data: Mapping[str, Any]
) -> dict[str, list[str]]:
    """The fields of a JSON body whose values are not of the type the schema gives them.

    DRF reads 0 as the string "0" and "1" as the number 1; a client that sends them is told, as
    the schema promises, rather than understood loosely.
    """
    errors = {}
    for name, value in data.items():
        field = fields.get(name)
        if field is None or value is None:  # unknown fields and nulls are the serializer's to refuse
            continue
        if isinstance(field, serializers.ChoiceField):
            expected = "one of " + ", ".join(json.dumps(choice) for choice in field.choices)
            valid = any(value == choice and type(value) is type(choice) for choice in field.choices)
        elif isinstance(field, serializers.BooleanField):
            expected, valid = "true or false", type(value) is bool
        elif isinstance(field, serializers.IntegerField):
            expected, valid = "a whole number", type(value) is int
        elif isinstance(field, serializers.FloatField):
            expected, valid = "a number", type(value) in (int, float)
        elif isinstance(field, serializers.CharField | serializers.UUIDField | serializers.DateTimeField):
            expected, valid = "a string", isinstance(value, str)
        else:
            continue
        if not valid:
            errors[name] = [f"Must be {expected}, not {json.dumps(value)}."]
    return errors


def query_parameters(form_class: type[forms.Form]) -> list[OpenApiParameter]:
    """The form's fields as query parameters, with the values the form accepts."""
    return [
        OpenApiParameter(
            name,
            _field_schema(field),
            required=field.required,
            description=str(field.help_text or field.label or ""),
        )
        for name, field in form_class.base_fields.items()
    ]


def _field_schema(field: forms.Field) -> dict[str, Any]:
    if isinstance(field, forms.ChoiceField):
        return {"type": "string", "enum": [str(value) for value, _label in field.choices]}
    if isinstance(field, forms.FloatField):  # a subclass of IntegerField
        schema = {"type": "number"}
    elif isinstance(field, forms.IntegerField):
        schema = {"type": "integer"}
    elif isinstance(field, forms.CharField):
        schema = {"type": "string"}
    else:
        raise TypeError(f"no query schema for {type(field).__name__}")
    for validator in field.validators:
        if isinstance(validator, validators.MinValueValidator):
            schema["minimum"] = validator.limit_value
        elif isinstance(validator, validators.MaxValueValidator):
            schema["maximum"] = validator.limit_value
        elif isinstance(validator, validators.RegexValidator) and not validator.inverse_match:
            schema["pattern"] = validator.regex.pattern
        elif isinstance(validator, validators.MaxLengthValidator):
            schema["maxLength"] = validator.limit_value
    return schema
