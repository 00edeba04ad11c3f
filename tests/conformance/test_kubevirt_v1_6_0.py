"""kvnuma against KubeVirt v1.6.0's own output, case by case, over the whole corpus.

Every case must end in one of:

* ``agree``: the same outcome (rendered / rejected by virt-api / refused by the launcher) and,
  for a rendered domain, every engine-owned section equal;
* a named deliberate difference: kvnuma run with the quirk switches that undo exactly those
  differences (``kvnuma.placement.quirks``, documented in docs/engine.md) agrees with KubeVirt,
  or a rule below recognises the difference (range-form SMT siblings, v1.6.0's panic,
  admission before the launcher).

Anything else is an unclassified difference and fails the case. No case is skipped.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from conformance.corpus import Case, Result, cases, differences, run_kvnuma, sections
from kvnuma.placement.quirks import QUIRKS

pytestmark = pytest.mark.conformance

_TALLY: Counter[str] = Counter()


@dataclass(frozen=True)
class Verdict:
    rules: tuple[str, ...]  # () = agree
    detail: str = ""


def _disagreements(case: Case, result: Result) -> list[str]:
    """What differs between kvnuma's ``result`` and KubeVirt's output on ``case``."""
    if result.outcome != case.expected:
        return [
            f"outcome: kvnuma {result.outcome} ({result.message or result.causes}), KubeVirt {case.expected}"
        ]
    if result.outcome == "rejected":
        causes, expected = sorted(result.causes), sorted(case.kubevirt["admission_causes"])
        return [] if causes == expected else [f"admission causes: kvnuma {causes}, KubeVirt {expected}"]
    if result.outcome != "rendered":
        return []
    ours, theirs = sections(result.xml), sections(case.kubevirt["domain_xml"])
    return [f"{key}: kvnuma {ours.get(key)!r}, KubeVirt {theirs[key]!r}" for key in differences(ours, theirs)]


def _without_range_siblings(case: Case) -> Case:
    """The case on a host whose range-form sibling lists (``siblings='0-1'``) are gone, as
    KubeVirt's virt-handler reads them: it parses only comma lists, so each such CPU is a core
    of its own."""
    xml = re.sub(
        r"<cpu id='(\d+)'([^>]*?) siblings='\d+-\d+'",
        lambda m: f"<cpu id='{m.group(1)}'{m.group(2)} siblings='{m.group(1)}'",
        case.input["capabilities_xml"],
    )
    return replace(case, input={**case.input, "capabilities_xml": xml})


def _relaxed_pool_unpinned(case: Case, result: Result) -> bool:
    """Without NUMA passthrough KubeVirt's relaxed pool rounds a missing half core away and
    renders a domain with an unpinned vCPU; kvnuma refuses (cpuset-size): a dedicated-CPU VM
    with a vCPU floating over the whole host is not what was asked for."""
    if case.kubevirt["outcome"] != "ok" or result.outcome != "refused":
        return False
    theirs = sections(case.kubevirt["domain_xml"])
    enabled = int(theirs["vcpu_current"] or theirs["vcpu"] or 0)
    if theirs["vcpus"]:
        enabled = sum(1 for _, on, _ in theirs["vcpus"] if on == "yes")
    return result.message.startswith("cpuset-size") and len(theirs["vcpupin"]) < enabled


def _with_memory_for_its_pages(case: Case) -> Case:
    """The case on a host whose cells hold at least their huge page pools: the generator gives
    some cells more huge pages than memory, which no kernel reports; kvnuma refuses such a host
    (``kvnuma.topology.checks``) and KubeVirt never looks. Each such cell's ``<memory>`` is raised
    to its pools' sum (KubeVirt's output does not read cell memory)."""

    def fix(cell: re.Match[str]) -> str:
        text = cell.group(0)
        memory = re.search(r"<memory unit='KiB'>(\d+)</memory>", text)
        if memory is None:
            return text
        huge = sum(
            int(size) * int(count)
            for size, count in re.findall(r"<pages unit='KiB' size='(\d+)'>(\d+)</pages>", text)
            if int(size) > 4
        )
        if huge <= int(memory.group(1)):
            return text
        return text.replace(memory.group(0), f"<memory unit='KiB'>{huge}</memory>", 1)

    xml = re.sub(r"<cell id='\d+'>.*?</cell>", fix, case.input["capabilities_xml"], flags=re.S)
    return replace(case, input={**case.input, "capabilities_xml": xml})


def _v1_6_panic(case: Case, result: Result) -> bool:
    """v1.6.0 dereferences the nil IOThreads of a shared/auto VMI with dedicated CPUs and no
    isolated emulator thread (fixed in v1.8.0, commit 15ce746945); kvnuma renders as v1.8 does."""
    cpu = case.input["vmi"]["spec"]["domain"].get("cpu") or {}
    policy = case.input["vmi"]["spec"]["domain"].get("ioThreadsPolicy")
    return (
        case.kubevirt["outcome"] == "panic"
        and "FormatDomainIOThreadPin" in case.kubevirt["message"]
        and policy in ("shared", "auto")
        and cpu.get("dedicatedCpuPlacement") is True
        and result.outcome == "rendered"
        and "iothreadpin" not in result.xml
    )


def _admission_first(case: Case, result: Result) -> bool:
    """KubeVirt's harness reports the launcher's refusal even when virt-api rejects the VMI; on a
    cluster virt-api rejects it first and no launcher runs, which is what kvnuma reports."""
    return (
        case.kubevirt["outcome"] == "launcher"
        and result.outcome == "rejected"
        and sorted(result.causes) == sorted(case.kubevirt["admission_causes"])
    )


def _quirk_flags(quirks: tuple[str, ...]) -> list[str]:
    return [arg for name in quirks for arg in ("--kubevirt-quirk", name)]


def classify(case: Case, workdir: Path) -> Verdict:
    def run(variant: Case, *quirks: str) -> Result:
        return run_kvnuma(variant, workdir, *_quirk_flags(quirks))

    result = run(case)
    if not _disagreements(case, result):
        return Verdict(())
    if _v1_6_panic(case, result) or _v1_6_panic(case, run(_with_memory_for_its_pages(case), *QUIRKS)):
        return Verdict(("v1.6-panic-shared-auto-iothreads",))
    if _relaxed_pool_unpinned(case, result):
        return Verdict(("relaxed-pool-unpinned-vcpu",))
    if _relaxed_pool_unpinned(case, run(_with_memory_for_its_pages(case))):
        return Verdict(("host-pages-beyond-memory", "relaxed-pool-unpinned-vcpu"))
    if _admission_first(case, result):
        return Verdict(("admission-before-launcher",))
    sane = _with_memory_for_its_pages(case)
    variants: list[tuple[Case, tuple[str, ...]]] = [
        (case, ()),
        (_without_range_siblings(case), ("range-form-siblings",)),
    ]
    if sane.input != case.input:
        variants = [
            (sane, ("host-pages-beyond-memory",)),
            (_without_range_siblings(sane), ("host-pages-beyond-memory", "range-form-siblings")),
        ]
    for variant, extra in variants:
        every = run(variant, *QUIRKS)
        if _disagreements(variant, every):
            continue
        needed = list(QUIRKS)
        for quirk in QUIRKS:  # the fewest quirks that still agree: each one named is needed
            trial = [q for q in needed if q != quirk]
            if not _disagreements(variant, run(variant, *trial)):
                needed = trial
        if extra and not needed and not _disagreements(variant, run(variant)):
            return Verdict(extra)
        return Verdict((*extra, *needed))
    return Verdict(("UNCLASSIFIED",), "; ".join(_disagreements(case, result)))


@pytest.mark.parametrize("case", cases(), ids=lambda case: case.id)
def test_case_agrees_or_differs_by_a_named_rule(case: Case, tmp_path: Path) -> None:
    verdict = classify(case, tmp_path)
    _TALLY[",".join(verdict.rules) or "agree"] += 1
    assert verdict.rules != ("UNCLASSIFIED",), f"{case.id}: {verdict.detail}"


def test_corpus_is_whole() -> None:
    every = cases()
    assert len(every) == 500
    assert len({case.id for case in every}) == 500
    assert Counter(case.kubevirt["outcome"] for case in every) == {
        "ok": 374,
        "launcher": 98,
        "admission-only": 25,
        "panic": 3,
    }
