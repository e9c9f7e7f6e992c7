from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """The account of anyone who signs in: experts, managers, client engineers and staff.

    A custom model from the first migration so that profile fields can be added later without
    the painful mid-project switch Django warns about.
    """

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
