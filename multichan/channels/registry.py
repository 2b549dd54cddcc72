"""Finding channel types: the ``multichan.channels`` entry-point group, loaded lazily.

Built-in API channels are declared in multichan's own pyproject exactly like third-party ones,
so there is one path for both. Listing the installed types reads entry-point metadata only;
a module is imported when a channel of its type is used, and only that one. A plugin that fails
to import (or does not define a proper Channel) becomes a :class:`PluginProblem` naming it;
it never stops the channels that work.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from multichan.channels.base import Channel
from multichan.errors import CONFIG, ConfigError, MultichanError, did_you_mean

GROUP = "multichan.channels"
_loaded: dict[str, type[Channel]] = {}


@dataclass(frozen=True)
class PluginProblem:
    """A channel plugin that could not be used, and why."""

    type: str
    target: str  # the entry point's "module:Class"
    distribution: str | None
    error: str

    def __str__(self) -> str:
        source = f" from {self.distribution}" if self.distribution else ""
        return f"channel plugin {self.type!r} ({self.target}{source}) is unusable: {self.error}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "target": self.target,
            "distribution": self.distribution,
            "error": self.error,
        }


class PluginError(MultichanError):
    """A channel in channels.yaml needs a plugin that cannot be loaded."""

    exit_code = CONFIG

    def __init__(self, problem: PluginProblem) -> None:
        super().__init__(str(problem), hint="reinstall or upgrade the package that provides it")
        self.problem = problem


def available_types() -> dict[str, EntryPoint]:
    """Installed channel types by name, from package metadata; nothing is imported. When two
    distributions declare the same name, the first on sys.path wins."""
    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=GROUP):
        found.setdefault(ep.name, ep)
    return dict(sorted(found.items()))


def clear_cache() -> None:
    """Forget loaded classes (tests that install and remove plugins call this)."""
    _loaded.clear()


def _distribution(ep: EntryPoint) -> str | None:
    dist = getattr(ep, "dist", None)
    return f"{dist.name} {dist.version}" if dist is not None else None


def load(type_name: str) -> type[Channel]:
    """The Channel class of ``type_name``, importing its module (and only that one).

    Raises ConfigError for a type nobody installed and PluginError for one that fails to load.
    """
    if type_name in _loaded:
        return _loaded[type_name]
    types = available_types()
    ep = types.get(type_name)
    if ep is None:
        tail = did_you_mean(type_name, types)
        known = ", ".join(types) or "none installed"
        raise ConfigError(f"no channel type {type_name!r} (installed: {known}){tail}")
    problem = PluginProblem(type_name, ep.value, _distribution(ep), "")
    try:
        cls = ep.load()
    except Exception as exc:  # any import-time failure of someone else's code
        raise PluginError(_with(problem, f"{type(exc).__name__}: {exc}")) from exc
    if not (isinstance(cls, type) and issubclass(cls, Channel)):
        raise PluginError(_with(problem, f"{ep.value} is not a multichan Channel subclass"))
    if cls.type != type_name:
        raise PluginError(
            _with(problem, f"the class declares type {cls.type!r}, not {type_name!r}")
        )
    _loaded[type_name] = cls
    return cls


def _with(problem: PluginProblem, error: str) -> PluginProblem:
    return PluginProblem(problem.type, problem.target, problem.distribution, error)


def load_many(
    type_names: Iterable[str] | None = None,
) -> tuple[dict[str, type[Channel]], list[PluginProblem]]:
    """Load the given types (default: every installed one); never raises for a bad plugin.
    Names that are not installed channel types (feed formats, say) are skipped."""
    types = available_types()
    wanted = types if type_names is None else [n for n in dict.fromkeys(type_names) if n in types]
    classes: dict[str, type[Channel]] = {}
    problems: list[PluginProblem] = []
    for name in wanted:
        try:
            classes[name] = load(name)
        except PluginError as exc:
            problems.append(exc.problem)
    return classes, problems


def for_config(channels: Iterable[Any]) -> tuple[dict[str, type[Channel]], list[PluginProblem]]:
    """The classes the configured channels need (``config.Channel`` objects): only their types
    are imported, and disabled channels import nothing."""
    return load_many(c.type for c in channels if c.enabled)


def create(channel: Any, config_file: str, session: Any = None) -> Channel:
    """A ready Channel for ``channel`` (a ``config.Channel``): its class loaded, its settings
    validated with ``file:line`` in every problem (ConfigError, exit 3)."""
    cls = load(channel.type)
    where = f"{config_file}:{channel.line}: channels.{channel.name}.settings"
    settings, problems = cls.validate_settings(channel.settings, where)
    if problems:
        raise ConfigError(f"channel {channel.name} has {len(problems)} problem(s):", problems)
    return cls(channel.name, settings, session=session)
