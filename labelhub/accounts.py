"""Facts about an account that every layer asks about."""

from labelhub.models import User


def is_staff(user: User) -> bool:
    """The operator's own administrators: they see and do everything."""
    return user.is_authenticated and user.is_active and (user.is_staff or user.is_superuser)
