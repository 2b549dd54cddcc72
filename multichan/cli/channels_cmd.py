"""`multichan channels`: the installed channel types and the workspace's configured channels.

Feed types come from multichan.feeds.formats; API types from the ``multichan.channels``
entry points. A plugin that fails to load is a warning on stderr (and in ``--json``), never a
crash: the command still exits 0.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from multichan.cli import output

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def register(app: typer.Typer) -> None:
    app.command("channels")(channels)


def installed_types() -> tuple[list[dict[str, Any]], list[str]]:
    """Every installed type with its capabilities, plus warnings for unusable plugins."""
    from multichan.channels.registry import load_many
    from multichan.feeds.formats import FORMATS

    rows: list[dict[str, Any]] = [
        {"type": f.type, "kind": "feed", "description": f.description} for f in FORMATS.values()
    ]
    classes, problems = load_many()
    for name, cls in classes.items():
        doc = (cls.__doc__ or "").strip().splitlines()
        rows.append(
            {
                "type": name,
                "kind": "api",
                "description": cls.description or (doc[0] if doc else ""),
                "supports": sorted(cls.supports),
                "max_batch": dict(cls.max_batch),
                "rate_limit": {
                    "requests_per_second": cls.rate_limit.requests_per_second,
                    "burst": cls.rate_limit.burst,
                },
                "credential_env": list(cls.credential_env),
                "settings": {
                    key: {
                        "kind": spec.kind,
                        "required": spec.required,
                        "default": spec.default,
                        "help": spec.help,
                    }
                    for key, spec in cls.settings_schema.items()
                },
                "module": cls.__module__,
            }
        )
    return rows, [str(p) for p in problems]


def configured_channels() -> list[dict[str, Any]] | None:
    """The workspace's channels, or None when there is no workspace here."""
    from multichan.channels.registry import available_types
    from multichan.config import load
    from multichan.feeds.formats import FORMATS

    ws = output.workspace()
    if not ws.config_path.exists():
        return None
    config = load(ws.config_path, set(FORMATS) | set(available_types()))
    return [
        {
            "name": c.name,
            "type": c.type,
            "kind": "feed" if c.type in FORMATS else "api",
            "enabled": c.enabled,
            "output": c.output,
            "base_url": (c.settings or {}).get("base_url"),
        }
        for c in config.channels.values()
    ]


def channels(json_out: JsonOpt = False) -> None:
    """List installed channel types (feeds and API plugins) and the configured channels."""
    types, warnings = installed_types()
    configured = configured_channels()
    for warning in warnings:
        output.warn(warning)
    if json_out:
        output.print_json({"types": types, "channels": configured, "warnings": warnings})
        return
    for row in types:
        if row["kind"] == "api":
            rate = row["rate_limit"]
            row["capabilities"] = ", ".join(
                f"{op} ({row['max_batch'][op]}/batch)" if op in row["max_batch"] else op
                for op in row["supports"]
            )
            row["rate"] = f"{rate['requests_per_second']:g}/s, burst {rate['burst']}"
        else:
            row["capabilities"] = "feed file"
    output.table(
        types,
        [
            ("type", "Type"),
            ("kind", "Kind"),
            ("capabilities", "Supports"),
            ("rate", "Rate limit"),
            ("description", "Description"),
        ],
        title="Installed channel types",
    )
    if configured is None:
        return
    for row in configured:
        row["enabled"] = "yes" if row["enabled"] else "no"
        row["target"] = row["output"] if row["kind"] == "feed" else row["base_url"]
    output.table(
        configured,
        [
            ("name", "Channel"),
            ("type", "Type"),
            ("enabled", "Enabled"),
            ("target", "Output / base URL"),
        ],
        title="Configured channels",
    )
