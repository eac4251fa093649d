"""``llm-broker``: run the broker's processes and operate it.

Process commands (``up``, ``api``, ``scheduler``, ``worker``, ``cache-worker``, ``sink``,
``monitor``, ``webhook-worker``, ``flower``, ``simulate``) each start one long-running thing;
operator commands (``keys``, ``submit``, ``results``, ``batches``, ``status``, ``report``,
``chargeback``, ``budgets``, ``ledger``, ``cache``, ``prompts``) talk to the Redis and ledger of
the broker the config points at.
"""

from __future__ import annotations

import typer

from broker.cli import batches, cache, costs, deadletters, ops, processes
from broker.cli import prompts as prompts_cli

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
processes.register(app)
ops.register(app)
batches.register(app)
prompts_cli.register(app)
costs.register(app)
cache.register(app)
deadletters.register(app)

if __name__ == "__main__":
    app()
