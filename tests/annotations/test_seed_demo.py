import io

from django.core.management import call_command

from annotations.models import Annotation
from annotations.progress import items_left_for
from labelhub.models import User
from projects.models import Item, Membership, Project
from projects.permissions import Perm, projects_for
from projects.rubrics import current_criteria


def seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_the_demo_world_has_two_competing_clients_with_realistic_projects(db):
    out = seed()
    acme, globex = Project.objects.get(slug="acme-helpfulness"), Project.objects.get(slug="globex-safety")
    assert (acme.client.name, acme.codename, acme.labels_per_item) == ("Acme Labs", "Aurora", 2)
    assert (globex.client.name, globex.codename) == ("Globex AI", "Borealis")
    for project in (acme, globex):
        assert project.items.count() >= 30
        assert project.items.filter(is_chat=True).exists()
        assert project.items.filter(responses__content__contains="```").exists()
        assert project.guidelines.exists()
    for name in ("admin", "acme-manager", "acme-expert", "acme-expert2", "globex-manager", "globex-expert"):
        assert name in out
        assert User.objects.get(username=name).check_password("labelhub-demo")
    assert User.objects.get(username="admin").is_superuser


def test_about_a_third_of_each_project_is_already_labelled_and_the_experts_still_have_work(db):
    seed()
    for slug, expert in (("acme-helpfulness", "acme-expert"), ("globex-safety", "globex-expert")):
        project = Project.objects.get(slug=slug)
        labelled = Item.objects.filter(project=project, annotations__isnull=False).distinct().count()
        assert labelled == project.items.count() // 3
        user = User.objects.get(username=expert)
        left = items_left_for(expert=user, projects=projects_for(user, Perm.LABEL))
        assert left[project.pk] == project.items.count() - labelled


def test_seeding_twice_changes_nothing(db):
    seed()
    counts = (
        Item.objects.count(),
        Annotation.objects.count(),
        Membership.objects.count(),
        User.objects.count(),
    )
    seed()
    assert (
        Item.objects.count(),
        Annotation.objects.count(),
        Membership.objects.count(),
        User.objects.count(),
    ) == counts


def test_demo_experts_see_only_their_own_clients_projects(db):
    seed()
    acme_expert = User.objects.get(username="acme-expert")
    globex_expert = User.objects.get(username="globex-expert")
    assert sorted(projects_for(acme_expert, Perm.VIEW).values_list("slug", flat=True)) == [
        "acme-helpfulness",
        "acme-rubric",
    ]
    assert list(projects_for(globex_expert, Perm.VIEW).values_list("slug", flat=True)) == ["globex-safety"]


def test_the_rubric_demo_has_four_responses_per_item_a_five_criterion_rubric_and_ratings(db):
    seed()
    rubric = Project.objects.get(slug="acme-rubric")
    assert (rubric.kind, rubric.codename) == ("rubric", "Cirrus")
    assert {item.responses.count() for item in rubric.items.all()} == {4}
    assert [c.scale_max for c in current_criteria(rubric)] == [5] * 5
    rated = Item.objects.filter(project=rubric, annotations__ratings__isnull=False).distinct().count()
    assert rated == rubric.items.count() // 3
