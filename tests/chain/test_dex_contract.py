"""DexVenue passes the shared venue contract on the real local chain (quote ETH = WETH, BTC/ETH and USDC/ETH).

ETH is the quote because exact-input swaps can deliver exactly the planned quantity only when the quote's
base unit is worth less than the asset's (1 wei of WETH buys < 1 satoshi, < 1e-6 USDC).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.contracts.venue_contract import ContractMarket, VenueContract
from trimtab.adapters.dex import DexSettings, DexVenue, deployment_of
from trimtab.chain.deploy import ChainEnv

# price_places=None: the contract checks quantity * price == gross to 1e-20; the ledger's 18 places are coarser
CONTRACT_SETTINGS = DexSettings(min_notional=Decimal("0.005"), estimate_gas=False, price_places=None)


def make_venue(chain: ChainEnv, settings: DexSettings = DexSettings()) -> DexVenue:
    return DexVenue(
        chain.w3.provider.endpoint_uri,
        deployment_of(chain),
        chain.accounts.trader,  # type: ignore[attr-defined]
        settings,
    )


class TestDexVenueContract(VenueContract):
    @pytest.fixture
    def venue(self, chain: ChainEnv) -> DexVenue:
        return make_venue(chain, CONTRACT_SETTINGS)

    @pytest.fixture
    def markets(self, venue: DexVenue) -> tuple[ContractMarket, ContractMarket]:
        mids = venue.mid_prices(["BTC", "USDC"], "ETH")
        return (
            ContractMarket("BTC", "ETH", mids["BTC"], Decimal("0.05")),
            ContractMarket("USDC", "ETH", mids["USDC"], Decimal("500")),
        )
