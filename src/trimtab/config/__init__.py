"""Strategy files: YAML validated into specs (one per block) and built into the core's Strategy objects."""

from trimtab.config.strategy import (
    StrategySpec,
    error_line,
    load_strategy,
    load_strategy_spec,
    parse_strategy,
    preset_names,
    preset_path,
    read_yaml,
    resolve_strategy_path,
)

__all__ = [
    "StrategySpec",
    "error_line",
    "load_strategy",
    "load_strategy_spec",
    "parse_strategy",
    "preset_names",
    "preset_path",
    "read_yaml",
    "resolve_strategy_path",
]
