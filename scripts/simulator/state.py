"""The simulator's mutable state, shared by the provider handlers and the control API.

Swapping a whole ``ModelTable`` or ``FaultTable`` on update (instead of editing
them) keeps every request's view consistent: a request uses whatever tables
were current when it looked.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping, Sequence

from aiohttp import web

from scripts.simulator.config import FaultRule, ModelBehaviour, SimulatorConfig
from scripts.simulator.faults import FaultTable
from scripts.simulator.models import ModelTable
from scripts.simulator.stats import Stats


class SimState:
    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.stats = Stats()
        self.ids = itertools.count(1)
        self.models = ModelTable(config.models, config.default, config.seed)
        self.faults = FaultTable(config.faults, config.seed, time.monotonic())

    def set_faults(self, rules: Sequence[FaultRule]) -> None:
        """Replace all rules; their schedules and flaps restart from now."""
        self.config = self.config.model_copy(update={"faults": list(rules)})
        self.faults = FaultTable(rules, self.config.seed, time.monotonic())

    def update_models(
        self, models: Mapping[str, ModelBehaviour], default: ModelBehaviour | None, replace: bool = False
    ) -> None:
        """Add or replace model entries (all of them with ``replace``), and optionally the default."""
        merged = dict(models) if replace else {**self.config.models, **models}
        self.config = self.config.model_copy(update={"models": merged, "default": default or self.config.default})
        self.models = ModelTable(self.config.models, self.config.default, self.config.seed)


STATE: web.AppKey[SimState] = web.AppKey("simulator_state", SimState)
