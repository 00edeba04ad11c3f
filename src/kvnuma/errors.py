"""kvnuma's typed failures.

Every failure the core can report is one of these; the shells (CLI, agent, webhook, hook)
map them to their own way of failing in one place each.

    KvnumaError
    ├── InputError        the input itself is wrong: names the input and the problem
    └── RuleError         the input is well formed but a rule cannot be met:
                          names the rule, what was needed and what was available
"""

from __future__ import annotations

__all__ = ["InputError", "KvnumaError", "RuleError"]


class KvnumaError(Exception):
    """Base of every failure kvnuma reports on purpose."""

    def one_line(self) -> str:
        """The message as one line, fit for stderr, a log field or an admission warning."""
        return " ".join(str(self).split())


class InputError(KvnumaError):
    """An input (a file, a field, a flag) is malformed or unreadable.

    ``source`` names the input (a path, a field path such as ``spec.domain.cpu.cores``, a flag),
    ``problem`` says what is wrong with it.
    """

    def __init__(self, source: str, problem: str) -> None:
        self.source = source
        self.problem = problem
        super().__init__(f"{source}: {problem}")

    def under(self, outer: str) -> InputError:
        """The same problem, with ``outer`` (e.g. the file it came from) in front of the source."""
        return type(self)(f"{outer}: {self.source}", self.problem)


class RuleError(KvnumaError):
    """A rule cannot be satisfied.

    ``rule`` is a short stable identifier (e.g. ``hugepages-per-node``), ``needed`` and
    ``available`` say the numbers, ``detail`` adds context (which node, which vCPU).
    """

    def __init__(self, rule: str, *, needed: object, available: object, detail: str = "") -> None:
        self.rule = rule
        self.needed = needed
        self.available = available
        self.detail = detail
        text = f"{rule}: needed {needed}, available {available}"
        if detail:
            text += f" ({detail})"
        super().__init__(text)
