"""Cost and margin, read-only: what a project's labels cost in expert time and earn from its client.

Cost is active hours x the expert's hourly rate; revenue is delivered labels x the project's price
per label. Every answer costs, qualification answers included (the expert spent the time, and is
paid for it), but only delivered labels earn: qualification answers and the labels of experts the
quality controls paused cost money and bring nothing, which is what the margin is there to show.

Money stays an exact `Decimal` through every sum and is rounded to cents only on output (`cents`).
A missing rate or price makes the figure unknown (None), never 0. Rates are read as they are now
(`ExpertProfile.hourly_rate` is not versioned): a changed rate re-prices past hours. Days are
calendar days in the site's time zone (`TIME_ZONE`), by the time the annotation was submitted.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate

from annotations.models import Annotation
from annotations.queries import is_label, left_out_of_exports
from labelhub.models import User
from labelhub.pseudonyms import annotator_pseudonym
from projects.models import Project

CURRENCY = "USD"
# The gross margin the business needs: the page and the chart draw the line here.
MARGIN_TARGET_PERCENT = Decimal(30)
HOUR = Decimal(3600)
CENT = Decimal("0.01")
TENTH = Decimal("0.1")


def delivered(project: Project) -> Q:
    """The one rule for the labels a client pays for, on `project`'s annotations.

    Today a delivered label is a label (`is_label`: not a qualification answer) that the export
    keeps by default (`left_out_of_exports`: not by an expert the quality controls paused). Once
    labels are reviewed, this is where "delivered" narrows to "accepted"; every figure, page, CSV
    and API of this app counts through it.
    """
    left_out = left_out_of_exports(project)
    return is_label() & ~Q(item_id__in=left_out.items) & ~Q(expert_id__in=left_out.experts)


def cents(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(CENT, rounding=ROUND_HALF_UP)


def tenths(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(TENTH, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Figures:
    """The cost and revenue of some answers of one project (a day, an expert, the whole)."""

    price: Decimal | None  # the project's price per label; None: not set
    seconds: int = 0  # active time on every answer, qualification answers included
    qualification_seconds: int = 0
    answers: int = 0  # everything submitted
    labels: int = 0  # answers that are labels (not qualification answers)
    delivered: int = 0  # labels the client pays for (`delivered`)
    priced_cost: Decimal = Decimal(0)  # the cost of the answers whose expert has a rate
    unpriced_answers: int = 0  # answers by experts with no hourly rate
    unpriced_seconds: int = 0

    def __add__(self, other: "Figures") -> "Figures":
        return Figures(
            price=self.price,
            seconds=self.seconds + other.seconds,
            qualification_seconds=self.qualification_seconds + other.qualification_seconds,
            answers=self.answers + other.answers,
            labels=self.labels + other.labels,
            delivered=self.delivered + other.delivered,
            priced_cost=self.priced_cost + other.priced_cost,
            unpriced_answers=self.unpriced_answers + other.unpriced_answers,
            unpriced_seconds=self.unpriced_seconds + other.unpriced_seconds,
        )

    @property
    def hours(self) -> Decimal:
        return self.seconds / HOUR

    @property
    def qualification_answers(self) -> int:
        return self.answers - self.labels

    @property
    def undelivered_labels(self) -> int:
        """Labels that cost and earn nothing: today, those of paused experts."""
        return self.labels - self.delivered

    @property
    def cost(self) -> Decimal | None:
        """None when any of the answers is by an expert with no hourly rate: unknown, not 0."""
        return None if self.unpriced_answers else self.priced_cost

    @property
    def revenue(self) -> Decimal | None:
        return None if self.price is None else self.delivered * self.price

    @property
    def margin(self) -> Decimal | None:
        cost, revenue = self.cost, self.revenue
        return None if cost is None or revenue is None else revenue - cost

    @property
    def margin_percent(self) -> Decimal | None:
        """The gross margin as a share of revenue; None without revenue to share."""
        margin, revenue = self.margin, self.revenue
        return None if margin is None or not revenue else 100 * margin / revenue

    @property
    def below_target(self) -> bool | None:
        percent = self.margin_percent
        return None if percent is None else percent < MARGIN_TARGET_PERCENT

    @property
    def cost_per_delivered(self) -> Decimal | None:
        cost = self.cost
        return None if cost is None or not self.delivered else cost / self.delivered

    def as_dict(self) -> dict:
        """What the CSV and the API show: money in cents, hours to the hundredth, % to the tenth."""
        return {
            "active_hours": cents(self.hours),
            "qualification_hours": cents(self.qualification_seconds / HOUR),
            "answers": self.answers,
            "qualification_answers": self.qualification_answers,
            "labels": self.labels,
            "delivered_labels": self.delivered,
            "undelivered_labels": self.undelivered_labels,
            "unpriced_hours": cents(self.unpriced_seconds / HOUR),
            "cost": cents(self.cost),
            "revenue": cents(self.revenue),
            "gross_margin": cents(self.margin),
            "margin_percent": tenths(self.margin_percent),
            "cost_per_delivered_label": cents(self.cost_per_delivered),
        }


@dataclass(frozen=True)
class Row:
    """One expert's answers on one day of one project."""

    day: date
    expert_id: int
    username: str
    annotator: str  # the expert's pseudonym in the project
    rate: Decimal | None  # USD per hour; None: not agreed yet
    figures: Figures


@dataclass(frozen=True)
class Group:
    """Rows summed under one key: a day, or an expert (with their name and rate)."""

    key: object
    figures: Figures
    username: str = ""
    annotator: str = ""
    rate: Decimal | None = None


@dataclass(frozen=True)
class ProjectCosts:
    project: Project
    rows: list[Row]  # by day, then username
    total: Figures
    per_expert: list[Group] = field(default_factory=list)  # by username
    per_day: list[Group] = field(default_factory=list)  # by day

    @property
    def unpriced_experts(self) -> list[Group]:
        return [group for group in self.per_expert if group.rate is None]


def _figures(row: dict, price: Decimal | None) -> Figures:
    rate, seconds = row["rate"], row["seconds"]
    return Figures(
        price=price,
        seconds=seconds,
        qualification_seconds=seconds - row["label_seconds"],
        answers=row["answers"],
        labels=row["labels"],
        delivered=row["delivered"],
        priced_cost=Decimal(0) if rate is None else seconds * rate / HOUR,
        unpriced_answers=0 if rate is not None else row["answers"],
        unpriced_seconds=0 if rate is not None else seconds,
    )


def _rows(project: Project, annotations: QuerySet[Annotation]) -> list[Row]:
    found = (
        annotations.filter(project=project)
        .annotate(day=TruncDate("submitted_at"))
        # The rate is one per expert: grouping by it too splits nothing.
        .values("day", "expert", "expert__username", rate=F("expert__expert_profile__hourly_rate"))
        .annotate(
            seconds=Coalesce(Sum("active_seconds"), 0),
            label_seconds=Coalesce(Sum("active_seconds", filter=is_label()), 0),
            answers=Count("pk"),
            labels=Count("pk", filter=is_label()),
            delivered=Count("pk", filter=delivered(project)),
        )
        .order_by("day", "expert__username")
    )
    return [
        Row(
            day=row["day"],
            expert_id=row["expert"],
            username=row["expert__username"],
            annotator=annotator_pseudonym(project_id=project.pk, user_id=row["expert"]),
            rate=row["rate"],
            figures=_figures(row, project.price_per_label),
        )
        for row in found
    ]


def _summed(rows: Iterable[Row], key: Callable[[Row], object], price: Decimal | None) -> dict:
    sums: dict[object, tuple[Row, Figures]] = {}
    for row in rows:
        first, figures = sums.get(key(row), (row, Figures(price=price)))
        sums[key(row)] = (first, figures + row.figures)
    return sums


def project_costs(project: Project, *, expert: User | None = None) -> ProjectCosts:
    """`project`'s cost and margin per (day, expert), per expert, per day and in total; only
    `expert`'s own answers when given."""
    annotations = Annotation.objects.all() if expert is None else Annotation.objects.filter(expert=expert)
    rows = _rows(project, annotations)
    price = project.price_per_label
    total = sum((row.figures for row in rows), Figures(price=price))
    experts = _summed(rows, lambda row: row.expert_id, price)
    per_expert = [
        Group(key, figures, username=row.username, annotator=row.annotator, rate=row.rate)
        for key, (row, figures) in sorted(experts.items(), key=lambda entry: entry[1][0].username)
    ]
    days = _summed(rows, lambda row: row.day, price)
    per_day = [Group(key, figures) for key, (_, figures) in sorted(days.items())]
    return ProjectCosts(project, rows, total, per_expert, per_day)


@dataclass(frozen=True)
class ProjectWork:
    """What one expert did on one project and may expect to be paid for it."""

    codename: str
    rate: Decimal | None
    figures: Figures

    @property
    def earnings(self) -> Decimal | None:
        """Active hours x the expert's rate: the project's cost of them, seen from their side."""
        return self.figures.cost


def expert_work(expert: User) -> list[ProjectWork]:
    """Per project `expert` has answered in, by codename: their own hours, labels and earnings."""
    projects = Project.objects.filter(annotations__expert=expert).distinct().order_by("codename", "pk")
    work = []
    for project in projects:
        own = project_costs(project, expert=expert)
        rate = own.per_expert[0].rate if own.per_expert else None
        work.append(ProjectWork(project.codename, rate, own.total))
    return work
