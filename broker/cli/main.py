"""``llm-broker``: run the broker's processes and operate it.

Process commands (``up``, ``api``, ``scheduler``, ``worker``, ``sink``, ``flower``,
``simulate``) each start one long-running thing; operator commands (``keys``, ``submit``,
``status``, ``report``) talk to the Redis and ledger of the broker the config points at.
"""

from __future__ import annotations

import typer

from broker.cli import deadletters, ops, processes
from broker.cli import prompts as prompts_cli

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
processes.register(app)
ops.register(app)
prompts_cli.register(app)
deadletters.register(app)

if __name__ == "__main__":
    app()
