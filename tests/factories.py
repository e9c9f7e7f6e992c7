import factory

from labelhub.models import User
from projects.models import Client, Item, Project, Response


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pw-for-tests")


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
