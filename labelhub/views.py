"""Pages about the signed-in user's own account: their API token."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from rest_framework.authtoken.models import Token

from labelhub.services import api_token_create, api_token_revoke


@require_GET
@login_required
def tokens(request: HttpRequest) -> HttpResponse:
    token = Token.objects.filter(user=request.user).first()
    return render(request, "labelhub/tokens.html", {"token_created": token.created if token else None})


@require_POST
@login_required
def token_create(request: HttpRequest) -> HttpResponse:
    token = api_token_create(user=request.user, request=request)
    # Shown in this response only: the page never displays a stored key again.
    return render(request, "labelhub/tokens.html", {"token_created": token.created, "new_key": token.key})


@require_POST
@login_required
def token_revoke(request: HttpRequest) -> HttpResponse:
    api_token_revoke(user=request.user, request=request)
    return redirect("tokens")
