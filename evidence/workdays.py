"""Working days in mainland China: public holidays (法定节假日) and make-up workdays (调休上班).

Shared by the rule engine (``extractors.matchers_dates``: 留言答复时效) and the simulated web's
truth (``simweb.features_extra``), so both count the same days. The calendar is the maintained
``chinese-calendar`` package (the State Council's yearly holiday notices, one release per
year). For a day outside the years the installed release covers, the count falls back to
Monday–Friday for that day and says so (``WorkdayCount.fallback_years``), never guesses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

try:  # pragma: no cover - the dependency is pinned in pyproject.toml
    import chinese_calendar as _cc
except ImportError:  # pragma: no cover
    _cc = None


@dataclass
class WorkdayCount:
    """Working days after ``start`` up to and including ``end``, and how they were counted."""

    days: int
    fallback_years: set[int] = field(default_factory=set)  # years counted Mon–Fri (no holiday data)

    @property
    def calendar(self) -> str:
        """What the count used, in words (shown in evidence values)."""
        name = calendar_name()
        if not self.fallback_years:
            return name
        years = ", ".join(str(y) for y in sorted(self.fallback_years))
        return f"{name}; Mon–Fri for {years} (no holiday data for that year)"


def calendar_name() -> str:
    if _cc is None:
        return "Mon–Fri (chinese-calendar not installed)"
    return f"chinese-calendar {getattr(_cc, '__version__', '')}".strip()


def is_workday(d: date) -> tuple[bool, bool]:
    """(is a working day, known from the holiday calendar). Unknown years: Monday–Friday."""
    if _cc is not None:
        try:
            return bool(_cc.is_workday(d)), True
        except NotImplementedError:  # a year the installed release has no notice for
            pass
    return d.weekday() < 5, False


def count_workdays(start: date, end: date) -> WorkdayCount:
    """Working days after ``start`` up to and including ``end`` (0 when ``end <= start``)."""
    out = WorkdayCount(0)
    d = start
    while d < end:
        d += timedelta(days=1)
        work, known = is_workday(d)
        out.days += work
        if not known:
            out.fallback_years.add(d.year)
    return out
