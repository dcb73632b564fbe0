"""Plugin discovery (entry points, pluggy) and the registry of stages they contribute.

Environment variables:
    RESTORE_PLUGINS: comma-separated entry-point names to load; all others are
        skipped. Set but empty, no plugin is loaded.
    RESTORE_DISABLE_PLUGINS: comma-separated entry-point names never to load.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType
from typing import Any

import pluggy

from restore.api import hookspecs
from restore.api.stage import Stage, check_stage_class

ENTRY_POINT_GROUP = "restore.plugins"
ALLOW_ENV = "RESTORE_PLUGINS"
BLOCK_ENV = "RESTORE_DISABLE_PLUGINS"


@dataclass
class PluginInfo:
    """What is known about one plugin: where it came from and what it gave."""

    name: str
    version: str | None = None
    module: str | None = None
    stages: list[str] = field(default_factory=list)
    error: str | None = None
    skipped: str | None = None


def _names(value: str | None) -> set[str] | None:
    if value is None:
        return None
    return {name.strip() for name in value.split(",") if name.strip()}


def _one_line(error: BaseException) -> str:
    last = traceback.extract_tb(error.__traceback__)[-1:] if error.__traceback__ else []
    where = f" ({last[0].filename}:{last[0].lineno})" if last else ""
    return f"{type(error).__name__}: {error}{where}"


class Registry:
    """The loaded plugins and the stages they contribute.

    Other hooks (``register_training``, ``register_commands``) are called on demand
    by whoever needs them, through ``contributions``, so a pipeline run never
    loads what only training or another command uses.
    """

    def __init__(self) -> None:
        self.plugins: list[PluginInfo] = []
        self._stages: dict[str, type[Stage]] = {}
        self._owners: dict[str, str] = {}
        self._modules: dict[str, ModuleType | object] = {}
        self._manager = pluggy.PluginManager(hookspecs.PROJECT)
        self._manager.add_hookspecs(hookspecs)

    @classmethod
    def from_entry_points(cls, environ: Mapping[str, str] | None = None) -> Registry:
        """Load every installed plugin allowed by the environment; failures are recorded."""
        environ = os.environ if environ is None else environ
        allow, block = _names(environ.get(ALLOW_ENV)), _names(environ.get(BLOCK_ENV)) or set()
        registry = cls()
        for entry_point in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=str):
            info = PluginInfo(
                name=entry_point.name,
                version=entry_point.dist.version if entry_point.dist else None,
                module=entry_point.value,
            )
            if entry_point.name in block:
                info.skipped = f"blocked by {BLOCK_ENV}"
            elif allow is not None and entry_point.name not in allow:
                info.skipped = f"not listed in {ALLOW_ENV}"
            if info.skipped:
                registry.plugins.append(info)
                continue
            try:
                plugin = entry_point.load()
            except Exception as error:  # a broken plugin must not take the others down
                info.error = f"import failed: {_one_line(error)}"
                registry.plugins.append(info)
                continue
            registry.add_plugin(plugin, info)
        return registry

    @classmethod
    def from_plugins(cls, *plugins: ModuleType | object) -> Registry:
        """A registry of exactly these plugin modules or objects (tests, embedding)."""
        registry = cls()
        for plugin in plugins:
            name = getattr(plugin, "__name__", type(plugin).__name__)
            registry.add_plugin(plugin, PluginInfo(name=name, module=name))
        return registry

    def add_plugin(self, plugin: ModuleType | object, info: PluginInfo) -> PluginInfo:
        """Register one plugin's hooks and the stages it contributes; record any failure."""
        self.plugins.append(info)
        try:
            self._manager.register(plugin, name=info.name)
            self._manager.check_pending()
        except Exception as error:
            if self._manager.is_registered(plugin):
                self._manager.unregister(plugin)
            info.error = f"invalid hooks: {error}"
            return info
        try:
            stages = self._collect("register_stages", plugin)
            for stage in stages:
                check_stage_class(stage)
                if stage.name in self._stages:
                    raise TypeError(
                        f"stage {stage.name!r} is already provided by plugin "
                        f"{self._owners[stage.name]!r}"
                    )
        except Exception as error:
            self._manager.unregister(plugin)
            info.error = f"registration failed: {_one_line(error)}"
            return info
        for stage in stages:
            self._stages[stage.name] = stage
            self._owners[stage.name] = info.name
            info.stages.append(stage.name)
        self._modules[info.name] = plugin
        return info

    def _collect(self, hook: str, plugin: ModuleType | object) -> list[Any]:
        """What one plugin's implementation of a ``register_*`` hook registers."""
        contributed: list[Any] = []
        for impl in getattr(self._manager.hook, hook).get_hookimpls():
            if impl.plugin is plugin:
                impl.function(**{arg: contributed.append for arg in impl.argnames})
        return contributed

    def contributions(self, hook: str) -> list[tuple[str, Any]]:
        """(plugin name, object) for everything the loaded plugins register through
        ``hook`` (a ``register_*`` hook other than ``register_stages``), in load order."""
        return [
            (name, item)
            for name, plugin in self._modules.items()
            for item in self._collect(hook, plugin)
        ]

    @property
    def stages(self) -> Mapping[str, type[Stage]]:
        """Every registered stage class by qualified name."""
        return dict(self._stages)

    def owner(self, stage_name: str) -> str:
        """The name of the plugin that registered a stage."""
        return self._owners[stage_name]

    def broken(self) -> Iterable[PluginInfo]:
        """Plugins that failed to load."""
        return [info for info in self.plugins if info.error]

    def describe(self) -> list[dict[str, Any]]:
        """Plugins, their stages and parameter schemas, as plain data (for `restore plugins`)."""
        described = []
        for info in self.plugins:
            stages = []
            for name in info.stages:
                stage = self._stages[name]
                stages.append(
                    {
                        "name": name,
                        "summary": stage.summary,
                        "inputs": {
                            k: [p.kind.value, p.channels.value] for k, p in stage.inputs.items()
                        },
                        "outputs": {
                            k: [p.kind.value, p.channels.value] for k, p in stage.outputs.items()
                        },
                        "tiling": {
                            "policy": stage.tiling.policy.value,
                            "halo": stage.tiling.halo,
                            "scale": stage.tiling.scale,
                            "multiple": stage.tiling.multiple,
                            "precisions": list(stage.tiling.precisions),
                        },
                        "params": stage.Params.model_json_schema().get("properties", {}),
                    }
                )
            described.append(
                {
                    "name": info.name,
                    "version": info.version,
                    "module": info.module,
                    "error": info.error,
                    "skipped": info.skipped,
                    "stages": stages,
                }
            )
        return described
