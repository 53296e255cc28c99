"""SQLAlchemy tables of the price store and the drawdown state (DDL in migration v0003_prices)."""

from __future__ import annotations

from sqlalchemy import Column, MetaData, String, Table, Text

from trimtab.adapters.storage.schema import ExactDecimal, UtcDateTime

metadata = MetaData()

price_bars = Table(
    "price_bars",
    metadata,
    Column("asset", String(32), primary_key=True),
    Column("quote", String(32), primary_key=True),
    Column("time", UtcDateTime(), primary_key=True),  # when the close was known (a daily bar: its close time)
    Column("close", ExactDecimal(), nullable=False),
    Column("volume", ExactDecimal(), nullable=True),
    Column("source", String(32), nullable=False),  # venue-ohlcv | ticker | file | bundled
)

equity_marks = Table(
    "equity_marks",
    metadata,
    Column("key", String(64), primary_key=True),  # portfolio or account name
    Column("time", UtcDateTime(), primary_key=True),
    Column("value", ExactDecimal(), nullable=False),
)

model_state = Table(
    "model_state",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("period", String(64), nullable=False),  # the re-estimation period the weights belong to
    Column("weights_json", Text(), nullable=False),
)
