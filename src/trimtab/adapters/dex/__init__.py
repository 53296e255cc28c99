"""On-chain venue: Uniswap V2 (+V3) through trimtab's BatchExecutor, one atomic transaction per plan."""

from trimtab.adapters.dex.deployment import Deployment, Token, deployment_of, load_deployment, parse_deployment
from trimtab.adapters.dex.gas import GasComparison, GasWait, GasWaitOutcome, wait_for_gas
from trimtab.adapters.dex.keys import load_signer
from trimtab.adapters.dex.records import ExecutionDetails, TxRecord
from trimtab.adapters.dex.venue import DexSettings, DexVenue

__all__ = [
    "Deployment",
    "DexSettings",
    "DexVenue",
    "ExecutionDetails",
    "GasComparison",
    "GasWait",
    "GasWaitOutcome",
    "Token",
    "TxRecord",
    "deployment_of",
    "load_deployment",
    "load_signer",
    "parse_deployment",
    "wait_for_gas",
]
