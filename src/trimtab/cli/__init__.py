"""The `trimtab` command line."""

from trimtab.cli import backtest as _backtest  # noqa: F401  (registers commands)
from trimtab.cli import sweep as _sweep  # noqa: F401  (registered next to backtest and compare in --help)

# isort: split
from trimtab.cli import chain as _chain  # noqa: F401  (registers commands)
from trimtab.cli import demo as _demo  # noqa: F401  (registers commands)
from trimtab.cli import flows as _flows  # noqa: F401  (registers commands)
from trimtab.cli import portfolio as _portfolio  # noqa: F401  (registers commands)
from trimtab.cli import remote_approvals as _remote_approvals  # noqa: F401  (registers commands)
from trimtab.cli import remote_flows as _remote_flows  # noqa: F401  (registers commands)
from trimtab.cli import replay as _replay  # noqa: F401  (registers commands)
from trimtab.cli import report as _report  # noqa: F401  (registers commands)
from trimtab.cli import service as _service  # noqa: F401  (registers commands)
from trimtab.cli import tax as _tax  # noqa: F401  (registers commands)
from trimtab.cli.app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
