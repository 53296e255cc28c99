"""The yield vaults as a venue: a core migration plan's withdraw / swap / deposit legs as ONE guarded `migrate`
transaction (a step per move, minimum outputs = previews less a tolerance); fills from its Migrated events, gas
(paid in ETH, outside the stablecoin ledger) in the notes. A batch sent without a receipt is unknown: its legs are
looked up by the transaction hash until it is mined (in this process; a crash's batch is not looked up, as with
DexTracked, and the ledger/venue drift check then pauses the portfolio)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any, Final, NamedTuple

from eth_account.signers.local import LocalAccount
from eth_utils.address import is_address, to_checksum_address
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError, TimeExhausted, TransactionNotFound, Web3RPCError
from web3.logs import DISCARD
from web3.types import TxReceipt

from trimtab.chain.artifacts import load_artifact
from trimtab.chain.keys import KEY_ENV_VAR, load_account, refuse_dev_key_off_local
from trimtab.chain.node import connect
from trimtab.chain.revert import describe_revert
from trimtab.chain.tx import GWEI, FeePolicy, Sender, confirm, send_signed
from trimtab.chain.yield_vaults import VAULTS, ZERO_ADDRESS, Step, YieldEnv
from trimtab.core.base.ports import ExecutionReport, LegFailure
from trimtab.core.base.types import ZERO, Fill, MarketRules, PlannedOrder, Side, TradePlan, asset_symbol
from trimtab.errors import ConfigError, OrderOutcomeUnknown, OrderRejected, VenueMisconfigured

FORMAT: Final = "trimtab-yield-deployment/1"
UNIT: Final = Decimal("0.000001")  # both stablecoins and both vaults have 6 decimals
STAGES: Final = {"withdraw": 0, "swap": 1, "deposit": 2}  # the order of a step's legs
TOLERANCE: Final = Decimal("0.001")  # the yield strategy's max_slippage
DEADLINE_S: Final = 600  # the batch expires this long after the latest block
CONTRACTS: Final = {  # deployment field -> artifact whose ABI it is read with
    **{f"tokens.{s}": "TestToken" for s in ("USDC", "USDT")},
    **{f"vaults.{v}": "TestYieldVault" for v in VAULTS},
    **{"pair": "UniswapV2Pair", "router": "UniswapV2Router02", "migrator": "YieldMigrator"},
}


@dataclass(frozen=True)
class YieldContracts:
    """What the venue reads and signs with: the trader's key, tokens and vaults by name, router, pair, migrator."""

    w3: Web3
    trader: LocalAccount
    tokens: dict[str, Contract]
    vaults: dict[str, Contract]
    router: Contract
    pair: Contract
    migrator: Contract

    @classmethod
    def of(cls, y: YieldEnv) -> YieldContracts:
        return cls(y.chain.w3, y.chain.accounts.trader, y.tokens, y.vaults, y.chain.router, y.pair, y.migrator)


class _Leg(NamedTuple):
    pos: int  # in the plan
    kind: str  # withdraw | swap | deposit
    spends: str
    yields: str
    order: PlannedOrder


def _leg(i: int, o: PlannedOrder, c: YieldContracts) -> _Leg:
    """Classify one order (symbols case-insensitive: a ledger's VUSDC is vUSDC); OrderRejected if no migration leg."""
    names = {asset_symbol(k): k for k in (*c.tokens, *c.vaults)}
    asset, quote, sell = names.get(asset_symbol(o.asset), ""), names.get(asset_symbol(o.quote), ""), o.side is Side.SELL
    if asset in c.vaults and VAULTS.get(asset) == quote:
        return _Leg(i, "withdraw", asset, quote, o) if sell else _Leg(i, "deposit", quote, asset, o)
    if sell and asset in c.tokens and quote in c.tokens and asset != quote:
        return _Leg(i, "swap", asset, quote, o)
    raise OrderRejected(f"leg {i} ({o.side.value} {o.asset}/{o.quote}) is no withdraw, swap or deposit", op="plan")


def _group_moves(legs: list[_Leg]) -> list[list[_Leg]]:
    """A move starts at a withdraw, at a leg not spending what the previous leg yields, or out of stage order."""
    moves: list[list[_Leg]] = []
    for leg in legs:
        last = moves[-1][-1] if moves else None
        if last is None or leg.kind == "withdraw" or leg.spends != last.yields or STAGES[leg.kind] <= STAGES[last.kind]:
            moves.append([leg])
        else:
            moves[-1].append(leg)
    return moves


def _human(n: int) -> Decimal:
    return Decimal(n) / 10**6


class YieldChainVenue:
    """A TrackedVenue and AtomicVenue over the vaults: a plan's moves in one migrate batch, fills from its events."""

    name = "evm-yield"
    atomic_batches = True
    lookup_grace_s = 900.0  # a batch not mined this long after it was sent counts as never arrived

    def __init__(
        self,
        env: YieldEnv | YieldContracts,
        tolerance: Decimal = TOLERANCE,
        fees: FeePolicy | None = None,
        receipt_timeout_s: float = 120.0,
    ):
        if not ZERO <= tolerance < 1:
            raise ConfigError(f"expected 0 <= tolerance < 1, got {tolerance}", field="tolerance")
        self.contracts = env if isinstance(env, YieldContracts) else YieldContracts.of(env)
        self.tolerance = tolerance
        self.fees = fees or FeePolicy(max_fee_cap=100 * GWEI)
        self.receipt_timeout_s = receipt_timeout_s
        self._fills: dict[str, Fill] = {}
        self._pending: dict[str, tuple[HexBytes, TradePlan, list[list[_Leg]], list[Step]]] = {}

    def balances(self) -> dict[str, Decimal]:
        """The trader's USDC, USDT and shares (VUSDC, VUSDT: canonical symbols, as ledgers key them), zeros omitted."""
        c = self.contracts
        held = {s: int(k.functions.balanceOf(c.trader.address).call()) for s, k in {**c.tokens, **c.vaults}.items()}
        return {asset_symbol(s): _human(n) for s, n in held.items() if n}

    def rules(self, asset: str, quote: str) -> MarketRules:
        """Any size down to one base unit (6 decimals), no minimum notional."""
        return MarketRules(amount_step=UNIT, price_tick=Decimal("1e-18"))

    def share_prices(self) -> dict[str, Decimal]:
        """Underlying per share of each vault (canonical symbol -> convertToAssets(1e6) / 1e6)."""
        vaults = self.contracts.vaults.items()
        return {asset_symbol(n): _human(int(v.functions.convertToAssets(10**6).call())) for n, v in vaults}

    def execute(self, plan: TradePlan) -> ExecutionReport:
        """All moves in one transaction; a revert (guard, withdrawal limit) fails every leg and moves nothing."""
        try:
            moves = _group_moves([_leg(i, o, self.contracts) for i, o in enumerate(plan.orders)])
            steps = self._steps(moves)
            receipt = self._send(plan, moves, steps)
        except OrderRejected as err:
            return ExecutionReport((), tuple(LegFailure(o, str(err)) for o in plan.orders), venue=self.name)
        return self._settle(plan, moves, steps, receipt)

    def _settle(
        self, plan: TradePlan, moves: list[list[_Leg]], steps: list[Step], receipt: TxReceipt
    ) -> ExecutionReport:
        """The mined batch's legs as fills (from its Migrated events), remembered by client id."""
        tx = receipt["transactionHash"].to_0x_hex()
        events = self.contracts.migrator.events.Migrated().process_receipt(receipt, errors=DISCARD)
        fills: list[Fill] = []  # one Migrated event per step, in step order, from a successful batch
        for move, step, e in zip(moves, steps, sorted(events, key=lambda e: int(e["args"]["step"])), strict=True):
            a = e["args"]
            fills.extend(_fills(move, step, int(a["assetsIn"]), int(a["swapOut"]), int(a["amountOut"]), tx))
        self._fills.update({self.client_id(plan, i): f for i, f in enumerate(fills)})
        gas, wei = int(receipt["gasUsed"]), int(receipt["effectiveGasPrice"])
        eth = Decimal(gas * wei) / 10**18  # paid in ETH, so not in the fills
        note = f"migrate tx {tx}: {len(steps)} move(s), {gas:,} gas at {Decimal(wei) / GWEI:.3f} gwei = {eth:f} ETH"
        return ExecutionReport(tuple(fills), venue=self.name, notes=(note,))

    def steps(self, plan: TradePlan) -> list[Step]:
        """The guarded Steps `execute` would send for `plan`, one per move."""
        return self._steps(_group_moves([_leg(i, o, self.contracts) for i, o in enumerate(plan.orders)]))

    def _steps(self, moves: list[list[_Leg]]) -> list[Step]:
        """One Step per move: previews and the pool's quote (simulated across the batch) less the tolerance."""
        c, keep = self.contracts, 1 - self.tolerance
        r0, r1 = c.pair.functions.getReserves().call()[:2]
        t0 = str(c.pair.functions.token0().call()).lower()
        reserves = {s: r0 if str(t.address).lower() == t0 else r1 for s, t in c.tokens.items()}
        out: list[Step] = []
        for move in moves:
            src, dst, first = move[0].spends, move[-1].yields, move[0]
            amount = int((-first.order.quote_delta if first.kind == "deposit" else first.order.quantity) * 10**6)
            if amount <= 0:
                raise OrderRejected(f"leg {first.pos}: {first.order.quantity} rounds to zero base units", op="plan")
            assets = int(c.vaults[src].functions.previewRedeem(amount).call()) if src in c.vaults else amount
            a, b = VAULTS.get(src, src), VAULTS.get(dst, dst)
            swapped = assets
            if a != b:
                with_fee = assets * 997  # UniswapV2Library.getAmountOut, on the reserves as the batch leaves them
                swapped = with_fee * reserves[b] // (reserves[a] * 1000 + with_fee)
                reserves[a], reserves[b] = reserves[a] + assets, reserves[b] - swapped
            final = int(c.vaults[dst].functions.previewDeposit(swapped).call()) if dst in c.vaults else swapped
            mins = [int(Decimal(x) * keep) for x in (assets if src in c.vaults else 0, swapped if a != b else 0, final)]
            out.append(Step(src, dst, amount, *mins))
        return out

    def _tuple(self, s: Step) -> tuple[object, ...]:
        c = self.contracts
        sv, dv = c.vaults.get(s.source), c.vaults.get(s.target)
        a, b = VAULTS.get(s.source, s.source), VAULTS.get(s.target, s.target)
        path = [c.tokens[a].address, c.tokens[b].address] if a != b else []
        src, dst = sv.address if sv is not None else ZERO_ADDRESS, dv.address if dv is not None else ZERO_ADDRESS
        shares, amount_in = (s.amount, 0) if sv is not None else (0, s.amount)
        return (src, shares, s.min_assets, amount_in, path, s.min_swap_out, dst, s.min_out)

    def _send(self, plan: TradePlan, moves: list[list[_Leg]], steps: list[Step]) -> TxReceipt:
        """Preflight (reverts named with every contract's ABI), then sign and send the batch."""
        c = self.contracts
        sender = Sender(c.w3, c.trader, self.fees, venue=self.name)
        deadline = int(c.w3.eth.get_block("latest")["timestamp"]) + DEADLINE_S
        call = c.migrator.functions.migrate([self._tuple(s) for s in steps], deadline)
        try:
            call.call({"from": sender.address})
        except ContractLogicError as exc:
            abis = [load_artifact(n).abi for n in ("YieldMigrator", "TestYieldVault", "UniswapV2Router02", "TestToken")]
            raise OrderRejected(f"migrate would revert: {describe_revert(exc, abis)}", op="preflight") from None
        signed = sender.sign(call)
        tx_hash = HexBytes(signed.hash)  # known before it leaves: a batch whose send or receipt is lost is looked up
        try:
            send_signed(c.w3, signed)
        except Web3RPCError as err:  # the node answered and refused it: nothing was sent
            raise OrderRejected(f"migrate refused by the node: {err}", op="send") from None
        except Exception as err:  # noqa: BLE001  (the connection failed mid-send: it may have reached the node)
            self._pending[plan.plan_id] = (tx_hash, plan, moves, steps)
            raise OrderOutcomeUnknown(
                f"migrate {tx_hash.to_0x_hex()}: send failed ({type(err).__name__}), it may have reached the node",
                client_id=self.client_id(plan, 0),
            ) from None
        try:
            return confirm(c.w3, tx_hash, what="migrate", timeout=self.receipt_timeout_s, venue=self.name)
        except TimeExhausted:
            self._pending[plan.plan_id] = (tx_hash, plan, moves, steps)
            raise OrderOutcomeUnknown(
                f"migrate {tx_hash.to_0x_hex()} sent, no receipt after {self.receipt_timeout_s:g} s",
                client_id=self.client_id(plan, 0),
            ) from None

    def client_id(self, plan: TradePlan, index: int) -> str:
        return f"{plan.plan_id}:{index}"

    def find_fill(self, client_id: str, order: PlannedOrder) -> Fill | None:
        """A fill this process executed, or of a batch it sent without a receipt once that is mined (a batch sent
        before a crash is not looked up on chain yet)."""
        plan_id = client_id.rsplit(":", 1)[0]
        if client_id not in self._fills and plan_id in self._pending:
            tx_hash, plan, moves, steps = self._pending[plan_id]
            try:
                receipt = self.contracts.w3.eth.get_transaction_receipt(tx_hash)
            except TransactionNotFound:
                return None  # still pending: the leg stays unknown until the lookup grace runs out
            del self._pending[plan_id]
            if int(receipt["status"]) == 1:
                self._settle(plan, moves, steps, receipt)
        return self._fills.get(client_id)

    def close(self) -> None:
        """Nothing to release: web3 HTTP sessions close with the process."""


def _fills(move: list[_Leg], s: Step, assets: int, swapped: int, out: int, tx: str) -> list[Fill]:
    """The move's legs as Fills (base units moved; the swap's LP fee split out so gross - fee is what arrived)."""
    moved = {"withdraw": (s.amount, assets), "swap": (assets, swapped), "deposit": (out, swapped)}
    fills = []
    for leg in move:
        qty_u, quote_u = moved[leg.kind]
        fee_u = quote_u * 3 // 997 if leg.kind == "swap" else 0  # V2: received = paid * 0.997 at the pool's rate
        o, qty, gross = leg.order, _human(qty_u), _human(quote_u + fee_u)
        price = (gross / qty).quantize(Decimal("1e-18"), ROUND_HALF_EVEN) if qty else ZERO
        slip = abs(gross - qty * o.price) if leg.kind == "swap" else ZERO
        fee, oid = _human(fee_u), f"{tx}:{leg.pos}"
        fills.append(Fill(o.asset, o.quote, o.side, qty, price, fee, slip, ZERO, oid, gross=gross))
    return fills


def write_yield_deployment(y: YieldEnv, path: Path) -> None:
    """Write the yield contracts' addresses (the file open_yield_chain reads)."""
    doc: dict[str, Any] = {"format": FORMAT, "chain_id": int(y.chain.w3.eth.chain_id)}
    doc |= {k: {n: str(c.address) for n, c in d.items()} for k, d in {"tokens": y.tokens, "vaults": y.vaults}.items()}
    doc |= {"pair": str(y.pair.address), "router": str(y.chain.router.address), "migrator": str(y.migrator.address)}
    doc["trader"] = str(y.chain.accounts.trader.address)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")


def _read(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("yield deployment file not found", source=str(path), field="deployment") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"not a readable JSON file ({exc})", source=str(path), field="deployment") from None
    if not isinstance(doc, dict):
        raise ConfigError("expected a JSON object", source=str(path), field="deployment")
    if doc.get("format", FORMAT) != FORMAT:
        raise ConfigError(f"unsupported format {doc.get('format')!r}", source=str(path), field="format")
    return doc


def _address(doc: Mapping[str, Any], where: str, source: str) -> str:
    value: Any = doc
    for key in where.split("."):
        if not isinstance(value, Mapping) or key not in value:
            raise ConfigError("missing", source=source, field=where)
        value = value[key]
    if not isinstance(value, str) or not is_address(value):
        raise ConfigError(f"not an address: {value!r}", source=source, field=where)
    return str(to_checksum_address(value))


def _signer(key_file: Path | None) -> LocalAccount:
    """The key from `key_file` (one 0x-hex key) or $TRIMTAB_EVM_PRIVATE_KEY; the key itself is never shown."""
    if key_file is None:
        return load_account()
    try:
        return load_account({KEY_ENV_VAR: key_file.read_text(encoding="utf-8").strip()})
    except (OSError, UnicodeDecodeError, VenueMisconfigured):
        raise VenueMisconfigured(f"{key_file}: not a readable 32-byte hex private key", op="keys") from None


def open_yield_chain(
    rpc: str, deployment: Path, key_file: Path | None, tolerance: Decimal = TOLERANCE
) -> YieldChainVenue:
    """The venue on `rpc` over a yield deployment file; ConfigError naming the field when it does not fit the chain."""
    src = str(deployment)
    doc = _read(deployment)
    addresses = {f: _address(doc, f, src) for f in (*CONTRACTS, "trader")}
    w3 = connect(rpc)
    chain_id = doc.get("chain_id")
    if chain_id != w3.eth.chain_id or isinstance(chain_id, bool):
        raise ConfigError(f"the node's chain id is {w3.eth.chain_id}, not {chain_id!r}", source=src, field="chain_id")
    at: dict[str, Contract] = {}
    for f, artifact in CONTRACTS.items():
        if not w3.eth.get_code(addresses[f]):  # type: ignore[arg-type]
            raise ConfigError(f"no contract code at {addresses[f]}", source=src, field=f)
        at[f] = w3.eth.contract(address=addresses[f], abi=load_artifact(artifact).abi)  # type: ignore[call-overload]
    trader = _signer(key_file)
    refuse_dev_key_off_local(trader, w3.eth.chain_id)
    if trader.address != addresses["trader"]:
        raise ConfigError(f"the signing key is not the trader's ({addresses['trader']})", source=src, field="trader")
    if str(at["migrator"].functions.owner().call()) != trader.address:
        raise ConfigError("the migrator is not owned by the trader", source=src, field="migrator")
    tokens = {s: at[f"tokens.{s}"] for s in ("USDC", "USDT")}
    vaults = {n: at[f"vaults.{n}"] for n in VAULTS}
    for n, v in vaults.items():
        if str(v.functions.asset().call()) != tokens[VAULTS[n]].address:
            raise ConfigError(f"the vault's asset is not {VAULTS[n]}", source=src, field=f"vaults.{n}")
    contracts = YieldContracts(w3, trader, tokens, vaults, at["router"], at["pair"], at["migrator"])
    return YieldChainVenue(contracts, tolerance=tolerance)
