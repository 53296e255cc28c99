"""Where the contracts live: token registry (portfolio symbol -> ERC20) and the Uniswap/executor addresses.

Written as JSON by `trimtab chain deploy` / the demo and read by `trimtab execute --venue uniswap`.
Portfolio symbols are aliases of token symbols (ETH -> WETH, BTC -> WBTC), so strategies keep their names.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from eth_utils.address import is_address, to_checksum_address

from trimtab.chain.deploy import ChainEnv
from trimtab.core.base.types import asset_symbol
from trimtab.errors import ConfigError, VenueMisconfigured

DEFAULT_ALIASES: Final = {"ETH": "WETH", "BTC": "WBTC"}
FORMAT: Final = "trimtab-deployment/1"


@dataclass(frozen=True)
class Token:
    """One ERC20 as the portfolio sees it: `symbol` is the portfolio's name, `token` the contract's."""

    symbol: str
    token: str
    address: str
    decimals: int


@dataclass(frozen=True)
class V3Pool:
    token_a: str  # token symbols (contract names)
    token_b: str
    fee: int  # pips: 3000 = 0.3%
    address: str


@dataclass(frozen=True)
class Deployment:
    """Addresses of one chain's WETH, Uniswap V2 (+ optional V3), the batch executor and the tokens."""

    chain_id: int
    tokens: Mapping[str, tuple[str, int]]  # token symbol -> (address, decimals); WETH included
    weth: str
    v2_factory: str
    v2_router: str
    pair_init_code_hash: str  # 0x-hex
    executor: str
    v3_factory: str = ""
    v3_router: str = ""
    v3_quoter: str = ""
    v3_pools: tuple[V3Pool, ...] = ()
    aliases: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_ALIASES))

    @property
    def has_v3(self) -> bool:
        return bool(self.v3_router and self.v3_quoter)

    def registry(self) -> dict[str, Token]:
        """Portfolio symbol -> Token; a token with an alias is known by the alias (WETH is listed as ETH)."""
        by_token = {alias_of: alias for alias, alias_of in self.aliases.items() if alias_of in self.tokens}
        out: dict[str, Token] = {}
        for token, (address, decimals) in self.tokens.items():
            symbol = by_token.get(token, token)
            out[symbol] = Token(symbol, token, to_checksum_address(address), decimals)
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "chain_id": self.chain_id,
            "tokens": {s: {"address": a, "decimals": d} for s, (a, d) in self.tokens.items()},
            "weth": self.weth,
            "v2": {
                "factory": self.v2_factory,
                "router": self.v2_router,
                "pair_init_code_hash": self.pair_init_code_hash,
            },
            "executor": self.executor,
            "v3": {
                "factory": self.v3_factory,
                "router": self.v3_router,
                "quoter": self.v3_quoter,
                "pools": [
                    {"token_a": p.token_a, "token_b": p.token_b, "fee": p.fee, "address": p.address}
                    for p in self.v3_pools
                ],
            },
            "aliases": dict(self.aliases),
        }

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")


def deployment_of(env: ChainEnv) -> Deployment:
    """The Deployment of a chain set up by trimtab.chain.deploy (tests, demo)."""
    v3 = env.v3
    pools = tuple(V3Pool(a, b, fee, str(addr)) for (a, b, fee), addr in (v3.pools.items() if v3 else ()))
    return Deployment(
        chain_id=int(env.w3.eth.chain_id),
        tokens={s: (str(c.address), env.decimals[s]) for s, c in env.tokens.items()},
        weth=str(env.weth.address),
        v2_factory=str(env.factory.address),
        v2_router=str(env.router.address),
        pair_init_code_hash="0x" + env.pair_init_code_hash.hex(),
        executor=str(env.executor.address),
        v3_factory=str(v3.factory.address) if v3 else "",
        v3_router=str(v3.router.address) if v3 else "",
        v3_quoter=str(v3.quoter.address) if v3 else "",
        v3_pools=pools,
    )


def _address(value: object, source: str, where: str) -> str:
    if not isinstance(value, str) or not is_address(value):
        raise ConfigError(f"not an address: {value!r}", source=source, field=where)
    return str(to_checksum_address(value))


def _get(data: Mapping[str, Any], key: str, source: str, where: str) -> Any:
    if not isinstance(data, Mapping) or key not in data:
        raise ConfigError("missing", source=source, field=f"{where}{key}")
    return data[key]


def _tokens(raw: object, source: str) -> dict[str, tuple[str, int]]:
    if not isinstance(raw, Mapping) or not raw:
        raise ConfigError(
            "expected a non-empty mapping of token symbol -> {address, decimals}", source=source, field="tokens"
        )
    out: dict[str, tuple[str, int]] = {}
    for sym, spec in raw.items():
        where = f"tokens.{sym}"
        decimals = _get(spec, "decimals", source, where + ".")
        if not isinstance(decimals, int) or isinstance(decimals, bool) or not 0 <= decimals <= 36:
            raise ConfigError(
                f"decimals must be an integer 0..36, got {decimals!r}", source=source, field=where + ".decimals"
            )
        out[asset_symbol(str(sym))] = (_address(_get(spec, "address", source, where + "."), source, where), decimals)
    return out


def _v3(raw: Mapping[str, Any], source: str) -> dict[str, Any]:
    if not raw or not raw.get("router"):
        return {}
    pools = []
    for i, p in enumerate(raw.get("pools") or []):
        where = f"v3.pools[{i}]."
        fee = _get(p, "fee", source, where)
        if not isinstance(fee, int) or fee <= 0:
            raise ConfigError(f"fee must be a positive integer (pips), got {fee!r}", source=source, field=where + "fee")
        pools.append(
            V3Pool(
                asset_symbol(str(_get(p, "token_a", source, where))),
                asset_symbol(str(_get(p, "token_b", source, where))),
                fee,
                _address(_get(p, "address", source, where), source, where + "address"),
            )
        )
    return {
        "v3_factory": _address(_get(raw, "factory", source, "v3."), source, "v3.factory"),
        "v3_router": _address(_get(raw, "router", source, "v3."), source, "v3.router"),
        "v3_quoter": _address(_get(raw, "quoter", source, "v3."), source, "v3.quoter"),
        "v3_pools": tuple(pools),
    }


def parse_deployment(data: object, source: str = "deployment") -> Deployment:
    """Validate a deployment document; ConfigError naming the field on anything wrong."""
    if not isinstance(data, Mapping):
        raise ConfigError("expected a JSON object", source=source)
    if data.get("format", FORMAT) != FORMAT:
        raise ConfigError(
            f"unsupported format {data.get('format')!r} (expected {FORMAT})", source=source, field="format"
        )
    tokens = _tokens(_get(data, "tokens", source, ""), source)
    v2 = _get(data, "v2", source, "")
    init_hash = str(_get(v2, "pair_init_code_hash", source, "v2."))
    if len(init_hash) != 66 or not init_hash.startswith("0x"):
        raise ConfigError("expected a 0x-prefixed 32-byte hex hash", source=source, field="v2.pair_init_code_hash")
    chain_id = _get(data, "chain_id", source, "")
    if not isinstance(chain_id, int) or chain_id <= 0:
        raise ConfigError(f"expected a positive integer, got {chain_id!r}", source=source, field="chain_id")
    aliases = data.get("aliases", DEFAULT_ALIASES)
    if not isinstance(aliases, Mapping):
        raise ConfigError("expected a mapping of portfolio symbol -> token symbol", source=source, field="aliases")
    weth = _address(_get(data, "weth", source, ""), source, "weth")
    if "WETH" not in tokens:
        tokens["WETH"] = (weth, 18)
    return Deployment(
        chain_id=chain_id,
        tokens=tokens,
        weth=weth,
        v2_factory=_address(_get(v2, "factory", source, "v2."), source, "v2.factory"),
        v2_router=_address(_get(v2, "router", source, "v2."), source, "v2.router"),
        pair_init_code_hash=init_hash,
        executor=_address(_get(data, "executor", source, ""), source, "executor"),
        aliases={asset_symbol(str(k)): asset_symbol(str(v)) for k, v in aliases.items()},
        **_v3(data.get("v3") or {}, source),
    )


def load_deployment(path: Path | str) -> Deployment:
    """Read a deployment JSON file (ConfigError if missing, not JSON or malformed)."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("deployment file not found", source=str(p)) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not valid JSON ({exc})", source=str(p)) from None
    return parse_deployment(data, str(p))


def unknown_symbol(symbol: str, registry: Mapping[str, Token], venue: str) -> VenueMisconfigured:
    """The error for a symbol the registry does not know."""
    return VenueMisconfigured(
        f"unknown token {symbol!r} (known: {', '.join(sorted(registry))})", venue=venue, op="registry"
    )
