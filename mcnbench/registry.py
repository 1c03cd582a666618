"""The task and model registries, and plug-in discovery.

One small ``Registry`` type serves both. Built-in entries live in the packages ``tasks`` and
``baselines`` (and ``mcnbench.zoo.mcn``); they register themselves with decorators when those
packages are imported. Third-party entries come in two ways:

* an installed distribution declares an entry point in the group ``mcnbench.tasks`` or
  ``mcnbench.models``; its value is the object to register (``pkg.mod:factory``), and the entry
  point's name is the registry name;
* a ``package.module:factory`` string given where a name is expected (``--model pkg.mod:fn``).

The core never imports a task or a model by name: it asks ``get_task`` / ``get_model``.
"""
from __future__ import annotations

import difflib
import importlib
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

BUILTIN_TASK_PACKAGES = ("mcnbench.tasks",)
BUILTIN_MODEL_PACKAGES = ("mcnbench.zoo.mcn", "mcnbench.zoo.precomputed", "mcnbench.baselines")


class RegistryError(KeyError):
    """An unknown, duplicate or unloadable registry name."""

    def __str__(self) -> str:  # KeyError quotes its message; a person wants it plain
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class Entry:
    """One registered task or model: the object, and what ``mcnbench list`` shows of it."""

    name: str
    obj: Any
    description: str
    version: str
    source: str = "builtin"
    meta: dict = field(default_factory=dict)


class Registry:
    """A name → ``Entry`` mapping with decorator registration and helpful lookups."""

    def __init__(self, kind: str, group: str, builtin_packages: tuple[str, ...] = ()):
        self.kind = kind
        self.group = group
        self._builtin_packages = builtin_packages
        self._entries: dict[str, Entry] = {}
        self._loaded = False
        self.broken: dict[str, str] = {}  # plug-in name -> why it failed to load

    # registration ------------------------------------------------------------------------
    def register(self, name: str, *, description: str, version: str = "1",
                 source: str = "builtin", **meta: Any) -> Callable[[Any], Any]:
        """Decorator: ``@registry.register("name", description=..., version=...)``."""
        if not name or not isinstance(name, str):
            raise RegistryError(f"a {self.kind} name must be a non-empty string, got {name!r}")
        if not description:
            raise RegistryError(f"{self.kind} {name!r} needs a one-line description")

        def decorator(obj: Any) -> Any:
            self.add(Entry(name, obj, description.strip(), str(version), source, dict(meta)))
            return obj

        return decorator

    def add(self, entry: Entry) -> None:
        old = self._entries.get(entry.name)
        if old is not None and old.obj is not entry.obj:
            raise RegistryError(
                f"duplicate {self.kind} name {entry.name!r}: already registered by "
                f"{_origin(old.obj)} ({old.source}), again by {_origin(entry.obj)}")
        self._entries[entry.name] = entry

    # lookup ------------------------------------------------------------------------------
    def get(self, name: str) -> Entry:
        """The entry called ``name``, or one loaded from a ``package.module:attr`` string."""
        if ":" in name:
            return self._from_string(name)
        self.load()
        try:
            return self._entries[name]
        except KeyError:
            raise RegistryError(self._unknown_message(name)) from None

    def names(self) -> list[str]:
        self.load()
        return sorted(self._entries)

    def entries(self) -> list[Entry]:
        self.load()
        return [self._entries[n] for n in sorted(self._entries)]

    def __contains__(self, name: str) -> bool:
        self.load()
        return name in self._entries

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries())

    def _unknown_message(self, name: str) -> str:
        close = difflib.get_close_matches(name, self._entries, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        known = ", ".join(sorted(self._entries)) or "none registered"
        return f"unknown {self.kind} {name!r}.{hint} Known {self.kind}s: {known}."

    def _from_string(self, spec: str) -> Entry:
        module_name, _, attr = spec.partition(":")
        try:
            obj = getattr(_import_from_cwd(module_name), attr)
        except (ImportError, AttributeError) as err:
            raise RegistryError(f"cannot load {self.kind} {spec!r}: {err}") from err
        return self._entry_for(spec, obj, spec)

    # discovery ---------------------------------------------------------------------------
    def load(self) -> None:
        """Import the built-in packages and the installed entry points (once).

        A plug-in that fails to load is skipped with one warning naming it (and kept in
        :attr:`broken`), so that one broken distribution does not take every command down.
        """
        if self._loaded:
            return
        self._loaded = True
        for package in self._builtin_packages:
            _import_package(package)
        for ep in metadata.entry_points(group=self.group):
            try:
                obj = ep.load()
                if ep.name in self._entries and self._entries[ep.name].obj is obj:
                    continue  # the plug-in's module registered itself with the decorator too
                self.add(self._entry_for(ep.name, obj, f"entry point {ep.value}"))
            except Exception as err:  # noqa: BLE001 -- any failure of third-party code
                self.broken[ep.name] = f"{type(err).__name__}: {err}"
                warnings.warn(f"skipped the {self.kind} plug-in {ep.name!r} ({ep.value}) of "
                              f"{_distribution(ep)}: it failed to load: {type(err).__name__}: {err}",
                              PluginWarning, stacklevel=2)

    def _entry_for(self, name: str, obj: Any, source: str) -> Entry:
        meta = getattr(obj, "meta", None)  # a task class carries its TaskMeta
        if meta is not None and getattr(meta, "description", None):
            return Entry(name, obj, meta.description, str(meta.version), source)
        return Entry(name, obj, _first_doc_line(obj), str(getattr(obj, "version", "0")), source)


class PluginWarning(UserWarning):
    """A plug-in (entry point) that could not be loaded and was skipped."""


def _distribution(ep) -> str:
    dist = getattr(ep, "dist", None)
    return f"distribution {dist.name!r}" if dist is not None else "an installed distribution"


def _import_from_cwd(module_name: str):
    """Import ``module_name``, also from the current folder: a console script (``mcnbench``) does
    not put it on ``sys.path`` as ``python -m`` does, and ``--model mymodels:factory`` next to
    ``mymodels.py`` must work (as uvicorn and gunicorn do for ``module:attr``)."""
    import os
    import sys

    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        top = module_name.split(".")[0]
        cwd = os.getcwd()
        if err.name != top or cwd in sys.path or "" in sys.path:
            raise
        sys.path.insert(0, cwd)
        return importlib.import_module(module_name)


def _import_package(package: str) -> None:
    """Import ``package`` and every module directly inside it, so their decorators run."""
    import pkgutil

    mod = importlib.import_module(package)
    for info in pkgutil.iter_modules(getattr(mod, "__path__", [])):
        if not info.name.startswith("_"):
            importlib.import_module(f"{package}.{info.name}")


def _origin(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


def _first_doc_line(obj: Any) -> str:
    doc = (getattr(obj, "__doc__", None) or "").strip()
    return doc.splitlines()[0] if doc else "(no description)"


TASKS = Registry("task", "mcnbench.tasks", BUILTIN_TASK_PACKAGES)
MODELS = Registry("model", "mcnbench.models", BUILTIN_MODEL_PACKAGES)


def register_task(cls: Any) -> Any:
    """Register a task class by its metadata: ``@register_task`` above a class with ``meta``."""
    meta = getattr(cls, "meta", None)
    if meta is None:
        raise RegistryError(f"task {_origin(cls)} has no `meta` (a TaskMeta): see docs/contracts.md")
    TASKS.add(Entry(meta.name, cls, meta.description, str(meta.version)))
    return cls


def task_meta(name: str) -> Any:
    """The registered task's :class:`~mcnbench.tasks.meta.TaskMeta`, or None when no task of that
    name is registered (a record of a plug-in task that is not installed here)."""
    try:
        return getattr(TASKS.get(name).obj, "meta", None)
    except RegistryError:
        return None


def register_model(name: str, *, description: str, version: str = "1", **meta: Any):
    """Register a model factory ``f(ctx, **overrides) -> Model``."""
    return MODELS.register(name, description=description, version=version, **meta)


def get_task(name: str) -> Entry:
    return TASKS.get(name)


def get_model(name: str) -> Entry:
    return MODELS.get(name)
