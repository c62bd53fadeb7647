"""Each package's ``__all__`` is exactly what it exports (in the manner of httpx's test)."""

from __future__ import annotations

import importlib
import types

import pytest

#: Every package and public module whose ``__all__`` is its contract.
PUBLIC = ["gutaxis", "gutaxis.io", "gutaxis.diversity", "gutaxis.stats", "gutaxis.indices",
          "gutaxis.knowledge", "gutaxis.markers", "gutaxis.reference", "gutaxis.profile",
          "gutaxis.report", "gutaxis.report.figures", "gutaxis.commands", "gutaxis.measures",
          "gutaxis.outputs", "gutaxis.formatting", "gutaxis.exceptions", "gutaxis.checks",
          "gutaxis.lazy", "gutaxis.cohort.parameters", "gutaxis.cohort.analysis",
          "gutaxis.cohort",
          "gutaxis.composition", "gutaxis.ordination", "gutaxis.study", "gutaxis.tree",
          "gutaxis.distance", "gutaxis.provenance", "gutaxis.denovo_tree", "gutaxis.service",
          "gutaxis.questionnaires", "gutaxis.challenge", "gutaxis.fhir", "gutaxis.fhir.write",
          "gutaxis.fhir.codes", "gutaxis.fhir.lab_report", "gutaxis.distributed"]


def _exported(module: types.ModuleType) -> set[str]:
    """Public names bound in the module: not submodules, not ``__future__`` features."""
    return {name for name, value in vars(module).items()
            if not name.startswith("_") and not isinstance(value, types.ModuleType)
            and name != "annotations"}


@pytest.mark.parametrize("name", PUBLIC)
def test_all_lists_exactly_the_public_names(name):
    module = importlib.import_module(name)
    assert len(module.__all__) == len(set(module.__all__)), f"{name}.__all__ lists a name twice"
    declared = {n for n in module.__all__ if not n.startswith("__")}  # __version__ is a dunder
    if "." in name and not hasattr(module, "__path__"):
        # a module: its own definitions and imported helpers; __all__ must name real things
        missing = [n for n in declared if not hasattr(module, n)]
        assert not missing, f"{name}.__all__ names what it does not define: {missing}"
        # and every public function and class the module defines is in it
        own = {n for n, v in vars(module).items()
               if not n.startswith("_") and getattr(v, "__module__", None) == name
               and (isinstance(v, type) or callable(v))}
        assert own <= declared, f"{name} defines but does not list: {sorted(own - declared)}"
        return
    lazy = set(getattr(module, "_LAZY", {}))  # exported on first use (gutaxis.lazy)
    assert declared - lazy == _exported(module), (
        f"{name}: exported but not in __all__: {sorted(_exported(module) - declared)}; "
        f"in __all__ but not exported: {sorted(declared - lazy - _exported(module))}")
    for attr in lazy:
        assert getattr(module, attr) is not None  # the lazy import works


def test_every_package_is_listed():
    """A new package of gutaxis must be added to PUBLIC (its __all__ is a contract)."""
    import pkgutil

    import gutaxis

    packages = {f"gutaxis.{m.name}" for m in pkgutil.iter_modules(gutaxis.__path__)
                if m.ispkg and m.name != "data"}
    assert packages <= set(PUBLIC), sorted(packages - set(PUBLIC))
