"""The four charts as plain data: Chart.js draws them from ``json_script``, and the
page prints the very same numbers as tables (screen readers, no JavaScript)."""

from dataclasses import dataclass

from clients.models import Channel
from dashboard.selectors import OUTCOMES


@dataclass
class Chart:
    id: str
    title: str
    kind: str  # Chart.js type: bar, line
    labels: list
    series: list  # [(label, [values])]
    stacked: bool = False
    unit: str = ""

    @property
    def data_id(self) -> str:
        return f"{self.id}-data"

    @property
    def rows(self):
        """Table rows: (label, [value per series])."""
        return [(label, [values[i] for _, values in self.series]) for i, label in enumerate(self.labels)]

    def as_json(self) -> dict:
        return {
            "type": self.kind,
            "labels": self.labels,
            "series": [
                {"label": label, "values": [_num(v) for v in values]} for label, values in self.series
            ],
            "stacked": self.stacked,
            "unit": self.unit,
        }


def _num(value):
    return None if value is None else float(value)


def _week(day) -> str:
    return f"{day:%d %b}"


def _month(day) -> str:
    return f"{day:%b %Y}"


def build(*, figures) -> list[Chart]:
    delivery_rate = figures.rate
    weeks, months = figures.weeks, figures.months
    return [
        Chart(
            id="chart-sessions",
            title="Sessions per week by outcome",
            kind="bar",
            labels=[_week(w) for w in weeks],
            series=[(label, [figures.sessions[w][key] for w in weeks]) for key, label in OUTCOMES],
            stacked=True,
        ),
        Chart(
            id="chart-revenue",
            title=f"Revenue collected per month ({figures.currency})",
            kind="bar",
            labels=[_month(m) for m in months],
            series=[("Collected", [figures.collected[m] for m in months])],
            unit=figures.currency,
        ),
        Chart(
            id="chart-delivery",
            title="Message delivery rate per channel (%)",
            kind="line",
            labels=[_week(w) for w in weeks],
            series=[
                (Channel(channel).label, [_rate(*delivery_rate[channel][w]) for w in weeks])
                for channel in delivery_rate
            ],
            unit="%",
        ),
        Chart(
            id="chart-clients",
            title="New and lost clients per month",
            kind="bar",
            labels=[_month(m) for m in months],
            series=[
                ("New", [figures.clients[m]["new"] for m in months]),
                ("Lost", [figures.clients[m]["lost"] for m in months]),
            ],
        ),
    ]


def _rate(reached: int, not_reached: int):
    """Share of outgoing messages that reached the provider; None for a week with none."""
    total = reached + not_reached
    return None if not total else round(100 * reached / total, 1)
