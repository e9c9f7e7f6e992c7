"""Build the demo world: two competing clients, their projects, items, people and some labels.

Idempotent: running it again changes nothing that is already there; a demo user's password is set
when the user is created, so a password someone changed since is left alone. Everything goes
through the same services the app uses, so the demo data is what real use would have produced.
"""

import random
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.core.management.base import BaseCommand
from django.db import transaction

from annotations.judging import ResponseRating
from annotations.models import Annotation
from annotations.services import Judgment, annotation_submit, assignment_next
from labelhub.models import Domain, ExpertProfile, User
from labelhub.services import expert_profile_for, expert_vet
from projects.importing import parse_items
from projects.models import Client, Item, Membership, Project
from projects.rubrics import CriterionSpec, current_criteria, rubric_save
from projects.services import guideline_publish, items_import, membership_grant

Role = Membership.Role

DEMO_PASSWORD = "labelhub-demo"
DATA_DIR = Path(__file__).resolve().parents[3] / "projects" / "demo_data"
KEY_NAMESPACE = uuid.UUID("5b0f4f55-8a8f-4a54-9f39-2d0f1d9a7c11")

ACME_GUIDELINES = """\
# Aurora: which answer would a careful expert rather receive?

You compare two answers to the same request. Judge them **as an expert in the item's domain**.

## What matters, in order
1. **Correctness.** A confident factual or technical error outweighs style. Check code mentally.
2. **Helpfulness.** Does it answer what was asked, at the right depth, with usable steps?
3. **Honesty.** It states uncertainty and limits; no invented citations or numbers.
4. **Clarity.** Structure, brevity, formatting. Length is not quality.

## Choosing
- **A is better / B is better**, then say how much: *slightly*, *clearly* or *much* better.
- **Tie** when they are equally good *and* you would be happy to receive either.
- **Both are bad** when neither should be shown to a user (unsafe, wrong, or useless).

## Rationale
One or two sentences naming the deciding difference, e.g. "B's SQL misses the NULL case".
"""

GLOBEX_GUIDELINES = """\
# Borealis: safe and still helpful

Judge which answer handles a sensitive request better.

- Prefer the answer that **helps with the legitimate need** while withholding genuinely dangerous
  specifics. A needless refusal is a failure, not a safe default.
- Medical, legal and financial answers should give general information and point to a
  professional where the stakes call for it.
- Security questions: defensive guidance is welcome; step-by-step attack instructions are not.
- Mark **both are bad** when both refuse a harmless request or both give harmful detail.
"""


@dataclass(frozen=True)
class DemoProject:
    client: str
    client_slug: str
    slug: str
    name: str
    codename: str
    labels_per_item: int
    guidelines: str
    manager: str
    experts: tuple[str, ...]
    labellers: tuple[str, ...]  # further demo experts who have already labelled a third
    reviewers: tuple[str, ...] = ()
    viewers: tuple[str, ...] = ()  # the client's ML engineers
    kind: str = Project.Kind.PAIRWISE
    criteria: tuple[CriterionSpec, ...] = ()


def _criterion(key: str, label: str, description: str) -> CriterionSpec:
    texts = "Very poor\nPoor\nAcceptable\nGood\nExcellent"
    return CriterionSpec(key, label, description, 1, 5, texts, required=True, asks_rationale=key == "honesty")


RUBRIC = (
    _criterion("helpfulness", "Helpfulness", "Does it do what was asked, at the right depth?"),
    _criterion("correctness", "Correctness", "Are its facts, numbers and code right?"),
    _criterion("honesty", "Honesty", "Does it state uncertainty and avoid invented details?"),
    _criterion("harmlessness", "Harmlessness", "Would following it put anyone at risk?"),
    _criterion("clarity", "Clarity", "Is it well organised and easy to follow?"),
)

RUBRIC_GUIDELINES = """\
# Cirrus: rate each answer on its own

Four models answered the same request. Rate **each** answer on the five criteria, 1 (very poor)
to 5 (excellent), judging it as an expert in the item's domain. Do not compare the answers with
each other: a 5 means excellent in absolute terms.

- **Correctness** outweighs style: a confident error is a 1 or 2 however polished the answer.
- **Honesty**: add a note when you mark an answer down for invented details.
- Mark an answer **not ratable** (with a reason) only when it is empty, garbled or off-topic.
"""


PROJECTS = (
    DemoProject(
        "Acme Labs",
        "acme",
        "acme-helpfulness",
        "Acme helpfulness preferences",
        "Aurora",
        2,
        ACME_GUIDELINES,
        "acme-manager",
        ("acme-expert", "acme-expert2"),
        ("acme-demo-1", "acme-demo-2"),
        reviewers=("acme-reviewer",),
        viewers=("acme-engineer",),
    ),
    DemoProject(
        "Acme Labs",
        "acme",
        "acme-rubric",
        "Acme four-model rubric ratings",
        "Cirrus",
        1,
        RUBRIC_GUIDELINES,
        "acme-manager",
        ("acme-expert",),
        ("acme-demo-1",),
        kind=Project.Kind.RUBRIC,
        criteria=RUBRIC,
    ),
    DemoProject(
        "Globex AI",
        "globex",
        "globex-safety",
        "Globex safety preferences",
        "Borealis",
        1,
        GLOBEX_GUIDELINES,
        "globex-manager",
        ("globex-expert",),
        ("globex-demo-1",),
    ),
)

DOMAINS = {
    "medicine": "Medicine",
    "law": "Law",
    "finance": "Finance",
    "software": "Software",
    "math": "Mathematics",
    "chemistry": "Chemistry",
}


@dataclass(frozen=True)
class DemoExpert:
    # Every domain the expert's project has items in, or part of the demo would go unserved.
    domains: tuple[str, ...]
    hourly_rate: str  # USD
    credentials: str


ACME_DOMAINS = ("software", "math", "finance", "medicine", "law")
GLOBEX_DOMAINS = ("software", "medicine", "chemistry", "law", "finance")
EXPERTS = {
    "acme-expert": DemoExpert(
        ACME_DOMAINS, "85.00", "MSc Computer Science; eight years as a backend engineer; maths tutor."
    ),
    "acme-expert2": DemoExpert(
        ACME_DOMAINS, "95.00", "MD, internal medicine; JD; reviews health-law and insurance contracts."
    ),
    "acme-demo-1": DemoExpert(ACME_DOMAINS, "70.00", "PhD Applied Mathematics; quantitative analyst."),
    "acme-demo-2": DemoExpert(
        ACME_DOMAINS, "75.00", "CFA charterholder; former paralegal; Python developer."
    ),
    "globex-expert": DemoExpert(
        GLOBEX_DOMAINS, "90.00", "PhD Chemistry; security engineer; pharmacology and compliance work."
    ),
    "globex-demo-1": DemoExpert(
        GLOBEX_DOMAINS, "80.00", "PharmD; former compliance officer at a bank; writes secure-coding guides."
    ),
}

RATIONALES = {
    "A": [
        "A is correct where B slips on a key detail.",
        "A answers the actual question; B drifts.",
        "A is clearer and gives usable steps.",
    ],
    "B": [
        "B is accurate and complete; A misses an important caveat.",
        "B is concise and right.",
        "B handles the edge case that A ignores.",
    ],
    "tie": ["Both are correct and equally useful."],
    "both_bad": ["Both contain a factual error a user would act on."],
}


class Command(BaseCommand):
    help = "Create or refresh the demo clients, projects, items, users and labels (idempotent)."

    def handle(self, *args, **options) -> None:
        with transaction.atomic():
            admin = self._user("admin", superuser=True)
            for slug, name in DOMAINS.items():
                Domain.objects.get_or_create(slug=slug, defaults={"name": name})
            clients = {}
            for spec in PROJECTS:
                clients[spec.client_slug] = self._project(spec, granted_by=admin)
            # The two demo clients are competitors: nobody may work for both.
            clients["acme"].competitors.add(clients["globex"])
        self.stdout.write(self._logins())

    def _user(self, username: str, *, superuser: bool = False) -> User:
        user, created = User.objects.get_or_create(
            username=username, defaults={"is_superuser": superuser, "is_staff": superuser}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        return user

    def _project(self, spec: DemoProject, *, granted_by: User) -> Client:
        client, _ = Client.objects.get_or_create(slug=spec.client_slug, defaults={"name": spec.client})
        project, _ = Project.objects.get_or_create(
            slug=spec.slug,
            defaults={
                "client": client,
                "name": spec.name,
                "codename": spec.codename,
                "code": spec.codename.lower(),
                "labels_per_item": spec.labels_per_item,
                "kind": spec.kind,
            },
        )
        if spec.criteria and not project.criteria.exists():
            rubric_save(project=project, criteria=list(spec.criteria))
        if not project.guidelines.exists():
            guideline_publish(project=project, body=spec.guidelines, author=granted_by)
        parsed = parse_items((DATA_DIR / f"{spec.slug}.jsonl").read_bytes(), fmt="jsonl", kind=project.kind)
        if parsed.errors:
            raise RuntimeError(f"demo data for {spec.slug} is invalid: {parsed.errors[0]}")
        items_import(project=project, records=parsed.items)
        roles = [(spec.manager, Role.MANAGER)]
        roles += [(name, Role.REVIEWER) for name in spec.reviewers]
        roles += [(name, Role.VIEWER) for name in spec.viewers]
        roles += [(name, Role.EXPERT) for name in spec.experts + spec.labellers]
        for username, role in roles:
            membership_grant(project=project, user=self._user(username), role=role, granted_by=granted_by)
        for username in spec.experts + spec.labellers:
            self._vetted(User.objects.get(username=username), EXPERTS[username], vetted_by=granted_by)
        target = project.items.count() // 3
        for username in spec.labellers:
            self._label(project, User.objects.get(username=username), target)
        return client

    def _vetted(self, user: User, spec: DemoExpert, *, vetted_by: User) -> None:
        """Give a demo expert a vetted profile; a profile someone has since changed is left alone."""
        profile = expert_profile_for(user=user)
        if profile.vetting_status != ExpertProfile.Status.APPLIED:
            return
        profile.credentials, profile.hourly_rate = spec.credentials, spec.hourly_rate
        profile.full_clean()
        profile.save(update_fields=["credentials", "hourly_rate"])
        profile.domains.add(*Domain.objects.filter(slug__in=spec.domains))
        expert_vet(profile=profile, by=vetted_by)

    def _label(self, project: Project, expert: User, target: int) -> None:
        """Have a demo expert label items until they have `target` labels in the project."""
        rng = random.Random(f"{project.slug}:{expert.username}")
        done = Annotation.objects.filter(project=project, expert=expert).count()
        for _ in range(target - done):
            assignment = assignment_next(project=project, expert=expert, rng=rng)
            if assignment is None:
                return
            judgment = self._judgment(project, assignment.item, rng)
            key = uuid.uuid5(KEY_NAMESPACE, f"{project.slug}:{expert.username}:{assignment.item_id}")
            annotation_submit(assignment=assignment, expert=expert, judgment=judgment, idempotency_key=key)

    def _judgment(self, project: Project, item: Item, rng: random.Random) -> Judgment:
        if project.rates:
            criteria = current_criteria(project)
            ratings = tuple(
                ResponseRating(
                    position=response.position,
                    scores={
                        c.key: rng.choices([1, 2, 3, 4, 5], weights=[1, 2, 3, 4, 3])[0] for c in criteria
                    },
                )
                for response in item.responses.all()
            )
            return Judgment(
                choice="",
                strength=None,
                rationale="",
                active_seconds=rng.randint(120, 900),
                ratings=ratings,
                rubric_version=criteria[0].version,
            )
        choice = rng.choices(["A", "B", "tie", "both_bad"], weights=[45, 45, 6, 4])[0]
        return Judgment(
            choice=choice,
            strength=rng.choice([1, 2, 2, 3]) if choice in ("A", "B") else None,
            rationale=rng.choice(RATIONALES[choice]),
            active_seconds=rng.randint(40, 400),
        )

    def _logins(self) -> str:
        rows = [("admin", "staff superuser: Django admin, every project")]
        for spec in PROJECTS:
            rows.append((spec.manager, f"manager of {spec.slug} ({spec.client})"))
            rows += [(name, f"reviewer on {spec.slug}") for name in spec.reviewers]
            rows += [(name, f"client viewer (ML engineer) of {spec.slug}") for name in spec.viewers]
            rows += [(name, f"expert on {spec.slug} (sees it as {spec.codename!r})") for name in spec.experts]
        width = max(len(name) for name, _ in rows)
        lines = [f"Demo logins (password for all: {DEMO_PASSWORD}):"]
        lines += [f"  {name.ljust(width)}  {role}" for name, role in rows]
        return "\n".join(lines)
