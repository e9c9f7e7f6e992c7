"""API token authentication: DRF's, with the token and its user read by one hand-written
statement (it runs on every labelling request; compiling the ORM's join cost more than running
it). The answers are DRF's own: unknown token, inactive user."""

from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from labelhub.models import User
from labelhub.rows import columns, fetch


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key: str) -> tuple[User, Token]:
        found = fetch(
            f"""SELECT {columns(Token, "t")}, {columns(User, "u")}
                FROM {Token._meta.db_table} t JOIN {User._meta.db_table} u ON u.id = t.user_id
                WHERE t.key = %s""",
            [key],
            Token,
            User,
        )
        if found is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        token, user = found
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        token.user = user
        return user, token
