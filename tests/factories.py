import random
from decimal import Decimal

import factory

from labelhub.models import Domain, ExpertProfile, User
from projects.models import Client, Item, Project, Response


class UserFactory(factory.django.DjangoModelFactory):
    """A user who is also a vetted expert for no domain, so they are served the domainless items
    every other factory makes, as before vetting existed. `UserFactory(expert_profile=None)` makes
    a user with no expert profile; `ExpertProfileFactory` makes any other kind."""

    class Meta:
        model = User
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pw-for-tests")
    expert_profile = factory.RelatedFactory(
        "tests.factories.ExpertProfileFactory", factory_related_name="user"
    )


class DomainFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Domain
        django_get_or_create = ["slug"]

    slug = factory.Sequence(lambda n: f"domain-{n}")
    name = factory.LazyAttribute(lambda domain: domain.slug.title())


class ExpertProfileFactory(factory.django.DjangoModelFactory):
    """A vetted expert profile; `domains=["medicine", …]` vets it for those domains (made if new)."""

    class Meta:
        model = ExpertProfile
        django_get_or_create = ["user"]
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory, expert_profile=None)
    vetting_status = ExpertProfile.Status.VETTED
    hourly_rate = Decimal("60.00")

    @factory.post_generation
    def domains(self, create: bool, extracted, **kwargs) -> None:
        if create and extracted:
            self.domains.add(*(DomainFactory(slug=slug) for slug in extracted))


class ClientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Client

    name = factory.Sequence(lambda n: f"Client {n}")
    slug = factory.Sequence(lambda n: f"client-{n}")


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    client = factory.SubFactory(ClientFactory)
    slug = factory.Sequence(lambda n: f"project-{n}")
    name = factory.Sequence(lambda n: f"Project {n}")
    codename = factory.Sequence(lambda n: f"Codename{n}")
    code = factory.LazyAttribute(lambda project: project.codename.lower())
    labels_per_item = 1
    randomize_sides = False


class ItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Item
        skip_postgeneration_save = True

    project = factory.SubFactory(ProjectFactory)
    external_id = factory.Sequence(lambda n: f"item-{n}")
    prompt = factory.Sequence(lambda n: f"Question number {n}?")
    content_hash = factory.Sequence(lambda n: f"{n:064x}")

    @factory.post_generation
    def responses(self, create: bool, extracted, **kwargs) -> None:
        texts = extracted or [
            (f"First answer to {self.external_id}", "model-x"),
            (f"Second answer to {self.external_id}", "model-y"),
        ]
        for position, (content, model) in enumerate(texts):
            Response.objects.create(item=self, position=position, content=content, model=model)


class FixedDraws(random.Random):
    """A random source whose `random()` always gives `value`: 0.0 makes every gold check due,
    0.99 none (sides are still drawn from a seed)."""

    def __init__(self, value: float = 0.0) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value
