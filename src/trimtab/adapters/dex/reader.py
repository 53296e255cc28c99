"""Read-only chain access for the DEX venue: token registry, balances, allowances, V2 reserves, V3 quotes."""

from __future__ import annotations

from decimal import Decimal

from eth_utils.address import to_checksum_address
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError

from trimtab.adapters.dex.deployment import Deployment, Token, V3Pool, unknown_symbol
from trimtab.adapters.dex.routes import PoolBook, Route
from trimtab.chain.artifacts import load_artifact
from trimtab.chain.quote import pair_address
from trimtab.core.base.types import asset_symbol
from trimtab.errors import VenueMisconfigured


def units_to_decimal(units: int, decimals: int) -> Decimal:
    """Integer base units -> exact Decimal amount."""
    return Decimal(units).scaleb(-decimals)


def decimal_to_units(amount: Decimal, decimals: int) -> int:
    """Decimal amount -> base units, truncated toward zero (never more than asked)."""
    return int(amount.scaleb(decimals))


class ChainReader:
    """Contracts and caches for one deployment; every method is a read (eth_call / eth_getCode)."""

    def __init__(self, w3: Web3, deployment: Deployment, venue: str) -> None:
        self.w3 = w3
        self.deployment = deployment
        self.venue = venue
        self.registry = deployment.registry()
        self._by_token = {t.token: t for t in self.registry.values()}
        self._by_address = {t.address.lower(): t for t in self.registry.values()}
        self._erc20_abi = load_artifact("TestToken").abi
        self._pair_abi = load_artifact("UniswapV2Pair").abi
        self.executor: Contract = w3.eth.contract(
            address=to_checksum_address(deployment.executor), abi=load_artifact("BatchExecutor").abi
        )
        self.v3_router: Contract | None = None
        self.v3_quoter: Contract | None = None
        if deployment.has_v3:
            self.v3_router = w3.eth.contract(
                address=to_checksum_address(deployment.v3_router), abi=load_artifact("SwapRouter").abi
            )
            self.v3_quoter = w3.eth.contract(
                address=to_checksum_address(deployment.v3_quoter), abi=load_artifact("QuoterV2").abi
            )
        self._init_hash = bytes.fromhex(deployment.pair_init_code_hash[2:])
        self._pairs: dict[tuple[str, str], bool] = {}

    # -- registry ---------------------------------------------------------------------------------
    def token(self, symbol: str) -> Token:
        """The token for a portfolio symbol or a contract symbol (ETH and WETH are the same token)."""
        sym = asset_symbol(symbol)
        found = self.registry.get(sym) or self._by_token.get(sym)
        if found is None:
            raise unknown_symbol(sym, self.registry, self.venue)
        return found

    def by_address(self, address: str) -> Token:
        return self._by_address[address.lower()]

    def weth(self) -> Token:
        return self.by_address(self.deployment.weth)

    def erc20(self, token: Token) -> Contract:
        return self.w3.eth.contract(address=to_checksum_address(token.address), abi=self._erc20_abi)

    # -- account ----------------------------------------------------------------------------------
    def balance(self, token: Token, owner: str) -> int:
        return int(self.erc20(token).functions.balanceOf(owner).call())

    def allowance(self, token: Token, owner: str, spender: str) -> int:
        return int(self.erc20(token).functions.allowance(owner, spender).call())

    def check_contracts(self, owner: str) -> None:
        """Every configured contract has code and the executor serves `owner`; VenueMisconfigured otherwise."""
        d = self.deployment
        named = {
            "executor": d.executor,
            "V2 factory": d.v2_factory,
            "WETH": d.weth,
            **{f"token {t.symbol}": t.address for t in self.registry.values()},
        }
        if d.has_v3:
            named |= {"V3 router": d.v3_router, "V3 quoter": d.v3_quoter}
        for what, address in named.items():
            if not self.w3.eth.get_code(to_checksum_address(address)):
                raise VenueMisconfigured(
                    f"no contract code at the {what} address {address}", venue=self.venue, op="connect"
                )
        serves = str(self.executor.functions.owner().call())
        if serves.lower() != owner.lower():
            raise VenueMisconfigured(
                f"the batch executor {d.executor} serves {serves}, not this wallet {owner}",
                venue=self.venue,
                op="connect",
            )

    # -- V2 ---------------------------------------------------------------------------------------
    def pair_exists(self, a: Token, b: Token) -> bool:
        key = (a.address, b.address) if a.address < b.address else (b.address, a.address)
        if key not in self._pairs:
            address = pair_address(self.deployment.v2_factory, a.address, b.address, self._init_hash)
            self._pairs[key] = bool(self.w3.eth.get_code(address))
        return self._pairs[key]

    def load_pair(self, book: PoolBook, a: Token, b: Token) -> None:
        """Put the pair's current reserves into `book` unless the book already tracks it."""
        if book.has(a.address, b.address):
            return
        address = pair_address(self.deployment.v2_factory, a.address, b.address, self._init_hash)
        pair = self.w3.eth.contract(address=address, abi=self._pair_abi)
        r0, r1, _ = pair.functions.getReserves().call()
        token0 = str(pair.functions.token0().call())
        first, second = (a, b) if token0.lower() == a.address.lower() else (b, a)
        book.set(first.address, second.address, int(r0), int(r1))

    def v2_routes(self, book: PoolBook, tin: Token, tout: Token) -> list[Route]:
        """Direct and one-hub (through WETH) V2 paths whose pairs exist, with their reserves loaded."""
        routes: list[Route] = []
        if self.pair_exists(tin, tout):
            self.load_pair(book, tin, tout)
            routes.append(Route("v2", (tin.address, tout.address), (tin.token, tout.token)))
        hub = self.weth()
        if (
            hub.address not in (tin.address, tout.address)
            and self.pair_exists(tin, hub)
            and self.pair_exists(hub, tout)
        ):
            self.load_pair(book, tin, hub)
            self.load_pair(book, hub, tout)
            routes.append(Route("v2", (tin.address, hub.address, tout.address), (tin.token, hub.token, tout.token)))
        return routes

    # -- V3 ---------------------------------------------------------------------------------------
    def v3_pools(self, tin: Token, tout: Token) -> list[V3Pool]:
        if self.v3_quoter is None:
            return []
        pair = {tin.token, tout.token}
        return [p for p in self.deployment.v3_pools if {p.token_a, p.token_b} == pair]

    def v3_quote_out(self, tin: Token, tout: Token, fee: int, amount_in: int) -> int | None:
        """QuoterV2 output for an exact input (None if the pool cannot fill it)."""
        if self.v3_quoter is None:
            raise RuntimeError("internal invariant broken: expected self.v3_quoter is not None")
        try:
            res = self.v3_quoter.functions.quoteExactInputSingle((tin.address, tout.address, amount_in, fee, 0)).call()
        except ContractLogicError:
            return None
        return int(res[0])

    def v3_quote_in(self, tin: Token, tout: Token, fee: int, amount_out: int) -> int | None:
        """QuoterV2 input for an exact output (None if the pool cannot pay it)."""
        if self.v3_quoter is None:
            raise RuntimeError("internal invariant broken: expected self.v3_quoter is not None")
        try:
            res = self.v3_quoter.functions.quoteExactOutputSingle(
                (tin.address, tout.address, amount_out, fee, 0)
            ).call()
        except ContractLogicError:
            return None
        return int(res[0])
